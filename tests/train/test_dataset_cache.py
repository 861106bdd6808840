"""The classifier's rendered videos kept on disk (va_gpt.train.dataset_cache via classifier_dataset's `cache`)."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys

import numpy as np
import pytest
import torch

from va_gpt.checkpoints.build import build_encoder
from va_gpt.config import load_preset
from va_gpt.train import synthetic_classifier
from va_gpt.train.dataset_cache import _NOT_ROWS
from va_gpt.train.synthetic_classifier import COLUMNS, classifier_dataset

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def setup(monkeypatch):
    """The tiny preset reading per-patch evidence with pixel maps (every column filled), chunks of 2 videos."""
    monkeypatch.setattr(synthetic_classifier, "CHUNK_VIDEOS", 2)
    base = load_preset("tiny")
    preset = dataclasses.replace(
        base, classifier=dataclasses.replace(base.classifier, patch_hidden=8, patch_layers=1, pixel_maps=True)
    )
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield preset, build_encoder(preset.encoder, "cpu", "float32")
    finally:
        torch.set_num_threads(saved)


def _data(preset, enc, cache, n=5, seed0=123, duration=3.0):
    return classifier_dataset(preset, enc, n, seed0, duration, 64, 48, "train", cache=cache)


def _assert_same(a: dict, b: dict) -> None:
    assert a["kind"] == b["kind"] and a["look"] == b["look"]
    for key in ("features", "patches", "event_patches", "energy", "t", "frame_labels"):
        for x, y in zip(a[key], b[key], strict=True):
            assert x.dtype == y.dtype, key
            np.testing.assert_array_equal(x, y, err_msg=key)


def _no_rendering(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("rendered a video the cache holds")

    monkeypatch.setattr(synthetic_classifier, "synthetic_video", refuse)


def test_a_retrain_takes_the_videos_from_the_cache_as_they_were_rendered(
    setup, tmp_path, monkeypatch, capsys
):
    preset, enc = setup
    plain = _data(preset, enc, None)
    first = _data(preset, enc, tmp_path)
    assert len(list(tmp_path.glob("rows-*.npz"))) == 3  # 5 videos in chunks of 2
    _assert_same(plain, first)  # the cache does not change the rows
    _no_rendering(monkeypatch)
    again = _data(preset, enc, tmp_path)
    _assert_same(plain, again)
    assert again["kind"] == [None, "fighting", None, "falling", None]
    assert set(again) == set(COLUMNS)
    assert "3 of 3 chunks from the cache" in capsys.readouterr().err


def test_other_videos_an_other_encoder_or_other_evidence_are_rendered_again(setup, tmp_path):
    preset, enc = setup
    with_pixels = _data(preset, enc, tmp_path)
    files = set(tmp_path.glob("rows-*.npz"))
    _data(preset, enc, tmp_path, duration=4.0)
    with torch.no_grad():
        next(enc.parameters()).add_(1e-3)
    _data(preset, enc, tmp_path)
    no_pixels = dataclasses.replace(
        preset, classifier=dataclasses.replace(preset.classifier, pixel_maps=False)
    )
    d = _data(preset=no_pixels, enc=enc, cache=tmp_path)
    assert d["patches"][0].shape[-1] < with_pixels["patches"][0].shape[-1]
    # each of the three changes made its own three chunks; none took another's
    assert len(set(tmp_path.glob("rows-*.npz")) - files) == 9


def test_a_cut_off_run_keeps_its_finished_chunks_and_the_next_one_resumes(
    setup, tmp_path, monkeypatch, capsys
):
    preset, enc = setup
    plain = _data(preset, enc, None)
    render = synthetic_classifier.synthetic_video

    def dies_at_the_fifth(seed, *a, **k):
        if seed >= 123 + 4:
            raise KeyboardInterrupt  # the session's end
        return render(seed, *a, **k)

    monkeypatch.setattr(synthetic_classifier, "synthetic_video", dies_at_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        _data(preset, enc, tmp_path)
    assert len(list(tmp_path.glob("rows-*.npz"))) == 2
    monkeypatch.setattr(synthetic_classifier, "synthetic_video", render)
    capsys.readouterr()
    _assert_same(plain, _data(preset, enc, tmp_path))
    assert "2 of 3 chunks from the cache" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_chunk_is_named_rendered_again_and_replaced(setup, tmp_path, caplog, damage):
    preset, enc = setup
    plain = _data(preset, enc, tmp_path)
    victim = sorted(tmp_path.glob("rows-*.npz"))[1]
    data = victim.read_bytes()
    victim.write_bytes(
        {"truncated": data[: len(data) // 2], "garbage": b"not an npz" * 100, "empty": b""}[damage]
    )
    with caplog.at_level(logging.WARNING, logger="va_gpt.train.dataset_cache"):
        again = _data(preset, enc, tmp_path)
    _assert_same(plain, again)
    assert victim.name in caplog.text and "does not load" in caplog.text
    assert victim.read_bytes() == data  # rendered again and written back whole
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


@pytest.mark.timeout(60)
def test_the_modules_left_out_of_the_key_are_not_loaded_by_the_row_code():
    # dataset_cache._NOT_ROWS leaves modules out of the chunks' key because no row reads them;
    # a row-making module that started importing one would serve stale rows after its edits.
    row_free = [m for m in _NOT_ROWS if m.startswith("synthetic/")]
    code = (
        "import sys, va_gpt.synthetic.training, va_gpt.ops.sets, va_gpt.video.preprocess; "
        f"print([m for m in {[('va_gpt.' + m[:-3].replace('/', '.')) for m in row_free]!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_hard_negatives_in_event_videos_are_other_rows_and_not_taken_from_the_cache(setup, tmp_path):
    preset, enc = setup
    base = _data(preset, enc, tmp_path)
    files = set(tmp_path.glob("rows-*.npz"))
    hard = classifier_dataset(
        preset, enc, 5, 123, 3.0, 64, 48, "train", cache=tmp_path, event_hard_negative_p=1.0
    )
    assert len(set(tmp_path.glob("rows-*.npz")) - files) == 3  # its own chunks
    assert hard["kind"] == base["kind"]
    # normal videos are the same videos; the ones with an event have distractors, same labels
    for i, k in enumerate(base["kind"]):
        np.testing.assert_array_equal(hard["frame_labels"][i], base["frame_labels"][i])
        same = np.array_equal(hard["features"][i], base["features"][i])
        assert same == (k is None), (i, k)
    with pytest.raises(ValueError, match="event_hard_negative_p needs a domain_split"):
        classifier_dataset(preset, enc, 2, 123, 3.0, 64, 48, None, event_hard_negative_p=0.5)
    with pytest.raises(ValueError, match="event_hard_negative_p must be a probability"):
        classifier_dataset(preset, enc, 2, 123, 3.0, 64, 48, "train", event_hard_negative_p=-1)

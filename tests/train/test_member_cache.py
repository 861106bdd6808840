"""Trained classifier members kept on disk (va_gpt.train.member_cache): a rerun takes them, a
cut-off run keeps the ones it finished, and anything that changes the weights trains again."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

import pytest
import torch

from tests.train.test_classifier import PATCH_CFG, patch_videos
from va_gpt.checkpoints.card import CARD_MD, read_card, write_card
from va_gpt.train.classifier import TrainConfig, train_classifier
from va_gpt.train.member_cache import MemberCache
from va_gpt.train.members import train_members

CFG = dataclasses.replace(PATCH_CFG, members=3, dropout=0.2)  # dropout: the global generator matters
TRAIN = TrainConfig(steps=20, seed=4, ema=0.9, processes=2)


def rows(labels_from=0):
    f, y, fl, px, box = patch_videos(16, seed=labels_from)
    kinds = [("falling" if v else None) for v in y]
    return (f, y), dict(frame_labels=fl, kinds=kinds, patches=px, patch_labels=box, grid=(3, 3))


def same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def kept_line(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("classifier members:")]


@pytest.mark.timeout(120)
def test_kept_members_are_taken_again_and_a_lost_one_is_trained_alone(tmp_path, capsys):
    args, kw = rows()
    plain = train_classifier(*args, CFG, TRAIN, **kw)
    first = train_classifier(*args, CFG, TRAIN, **kw, member_cache=tmp_path)
    assert kept_line(capsys) == [f"classifier members: 0 of 3 from the cache in {tmp_path}"]
    files = sorted(tmp_path.glob("member-seed*.safetensors"))
    assert [p.name.split("-")[1] for p in files] == ["seed4", "seed5", "seed6"]
    assert same(first, plain)  # keeping them changes nothing

    again = train_classifier(*args, CFG, TRAIN, **kw, member_cache=tmp_path)
    assert kept_line(capsys) == [f"classifier members: 3 of 3 from the cache in {tmp_path}"]
    assert same(again, plain) and again.members_from_cache == 3 and first.members_from_cache == 0
    # what each member's training took travels with it: a build from the cache can still say
    seconds = [m.train_seconds for m in first.members]
    assert all(s > 0 for s in seconds) and [m.train_seconds for m in again.members] == seconds

    files[1].unlink()  # the run was cut off before its second member was kept
    one_at_a_time = dataclasses.replace(TRAIN, processes=1)  # how many at once is not in the key
    resumed = train_classifier(*args, CFG, one_at_a_time, **kw, member_cache=tmp_path)
    assert kept_line(capsys) == [f"classifier members: 2 of 3 from the cache in {tmp_path}"]
    assert same(resumed, plain) and files[1].is_file()


@pytest.mark.timeout(120)
def test_other_rows_or_settings_train_again_and_the_same_member_is_shared(tmp_path, capsys):
    args, kw = rows()
    train_classifier(*args, CFG, TRAIN, **kw, member_cache=tmp_path)
    capsys.readouterr()
    args2, kw2 = rows(labels_from=1)  # other videos
    train_classifier(*args2, CFG, TRAIN, **kw2, member_cache=tmp_path)
    assert kept_line(capsys)[0].startswith("classifier members: 0 of 3")
    train_classifier(*args, CFG, dataclasses.replace(TRAIN, steps=21), **kw, member_cache=tmp_path)
    assert kept_line(capsys)[0].startswith("classifier members: 0 of 3")
    train_classifier(*args, dataclasses.replace(CFG, hidden_size=12), TRAIN, **kw, member_cache=tmp_path)
    assert kept_line(capsys)[0].startswith("classifier members: 0 of 3")
    train_classifier(*args, CFG, dataclasses.replace(TRAIN, cosine_lr=True), **kw, member_cache=tmp_path)
    assert kept_line(capsys)[0].startswith("classifier members: 0 of 3")
    # a run from seed 5 trains members 5, 6, 7: the first two are the first run's
    train_classifier(*args, CFG, dataclasses.replace(TRAIN, seed=5), **kw, member_cache=tmp_path)
    assert kept_line(capsys)[0].startswith("classifier members: 2 of 3")


@pytest.mark.timeout(120)
def test_a_member_kept_before_the_cosine_and_focal_options_keeps_its_name(tmp_path):
    """A run with cosine_lr and focal_gamma off is the run every member before the options was
    trained with: its kept file's name (a hash of the run) must not change, or every kept member
    trains again."""
    cache = MemberCache(tmp_path, {"k": 1}, shape=None)
    before = {
        k: v
        for k, v in dataclasses.asdict(TRAIN).items()
        if k not in ("processes", "progress_s", "cosine_lr", "focal_gamma")
    }
    digest = hashlib.sha256(f"{cache.key}|{json.dumps(before, sort_keys=True)}".encode()).hexdigest()[:32]
    assert cache.path(TRAIN).name == f"member-seed{TRAIN.seed}-{digest}.safetensors"
    assert cache.path(dataclasses.replace(TRAIN, cosine_lr=True)) != cache.path(TRAIN)
    assert cache.path(dataclasses.replace(TRAIN, focal_gamma=2.0)) != cache.path(TRAIN)


@pytest.mark.timeout(120)
def test_a_member_file_that_does_not_load_is_named_trained_again_and_replaced(tmp_path, capsys, caplog):
    args, kw = rows()
    good = train_classifier(*args, CFG, TRAIN, **kw, member_cache=tmp_path)
    files = sorted(tmp_path.glob("member-seed*.safetensors"))
    files[0].write_bytes(files[0].read_bytes()[:100])  # cut off
    files[2].write_bytes(b"not a safetensors file")
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="va_gpt.train.member_cache"):
        again = train_classifier(*args, CFG, TRAIN, **kw, member_cache=tmp_path)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and str(files[0]) in warned[0] and str(files[2]) in warned[1], warned
    assert kept_line(capsys)[0].startswith("classifier members: 1 of 3")
    assert same(again, good)
    caplog.clear()
    train_classifier(*args, CFG, TRAIN, **kw, member_cache=tmp_path)
    assert kept_line(capsys)[0].startswith("classifier members: 3 of 3") and not caplog.records


def _fails_fast_for_seed_1(train):
    if train.seed == 1:
        raise ValueError("member 1 cannot train")
    time.sleep(1.0)  # still training when member 1's error arrives
    return torch.nn.Linear(2, 1)


@pytest.mark.timeout(60)
def test_members_finished_before_an_error_are_handed_over_first():
    done = []
    runs = [TrainConfig(steps=1, seed=i) for i in range(3)]
    with pytest.raises(ValueError, match="member 1 cannot train"):
        train_members(_fails_fast_for_seed_1, runs, processes=2, done=lambda i, m: done.append(i))
    assert 0 in done and 1 not in done


def test_the_model_card_says_which_members_came_from_the_cache(tmp_path):
    card = read_card(Path(__file__).resolve().parents[2] / "models" / "demo")
    card["checkpoints"]["classifier"]["members_from_cache"] = 3
    write_card(tmp_path, {k: v for k, v in card.items() if k != "files"})
    text = (tmp_path / CARD_MD).read_text()
    assert "3 members taken from the build's member cache, trained by an earlier run" in text
    card["checkpoints"]["classifier"]["members_from_cache"] = 0
    write_card(tmp_path, {k: v for k, v in card.items() if k != "files"})
    assert "member cache" not in (tmp_path / CARD_MD).read_text()
    card["checkpoints"]["classifier"]["members_from_cache"] = 3
    card["checkpoints"]["classifier"]["members_trained"] = {"seconds": 4165.5}
    write_card(tmp_path, {k: v for k, v in card.items() if k != "files"})
    assert "trained by an earlier run in 4165.5 s)" in (tmp_path / CARD_MD).read_text()
    card["checkpoints"]["classifier"]["members_seconds"] = [1400.5, 1380.0, 1385.0]
    write_card(tmp_path, {k: v for k, v in card.items() if k != "files"})
    assert (
        "Each member's training: 1400.5 s, 1380.0 s, 1385.0 s (4165.5 s in all)"
        in (tmp_path / CARD_MD).read_text()
    )
    card["checkpoints"]["classifier"]["members_seconds"] = [1400.5, None, 1385.0]  # kept before seconds were
    write_card(tmp_path, {k: v for k, v in card.items() if k != "files"})
    assert "Each member's training: 1400.5 s, ?, 1385.0 s\n" in (tmp_path / CARD_MD).read_text()

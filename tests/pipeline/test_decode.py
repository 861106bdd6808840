"""The decode stage's Ray Data callable: clip rows, error rows, config, Ray Data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.video.media import SIZE
from va_gpt.config import DecodeConfig, SetsConfig
from va_gpt.ops.prepare import Preparation
from va_gpt.pipeline.decode import OUTPUT_COLUMNS, Decode
from va_gpt.video.clips import background_frame


@pytest.mark.timeout(120)
def test_decode_callable_yields_rows_and_error_rows(media):
    stage = Decode(fps=2.0, clip_len=4, size=SIZE, strategy="auto")
    uris = [
        str(media("cfr30")),
        str(media.bad("missing")),
        str(media.bad("text")),
        str(media.bad("cut_frag")),
    ]
    batch = {
        "uri": np.array(uris, dtype=object),
        "video_id": np.array(["ok", "gone", "txt", "cut"], dtype=object),
        "camera_id": np.array(["c1", "c2", "c3", "c4"], dtype=object),
    }
    out = list(stage(batch))  # no exception for bad input
    rows: dict[str, list[dict]] = {}
    for b in out:
        assert set(OUTPUT_COLUMNS) <= set(b) and "camera_id" in b
        assert all(len(v) == 1 for v in b.values())
        rows.setdefault(b["video_id"][0], []).append(b)
    ok = rows["ok"]
    assert [r["clip_index"][0] for r in ok] == [0, 1]
    assert ok[0]["frames"].shape == (1, 4, SIZE, SIZE, 3) and ok[0]["frames"].dtype == np.uint8
    assert ok[0]["t"].shape == (1, 4) and ok[0]["error_kind"][0] is None
    assert ok[-1]["is_last"][0] and not ok[0]["is_last"][0] and ok[1]["first_is_overlap"][0]
    assert ok[0]["background"].shape == (1, 0, SIZE, SIZE, 3)  # background_samples 1: none
    assert ok[0]["camera_id"][0] == "c1" and ok[0]["codec"][0] == "h264"
    for vid, kind in (("gone", "missing"), ("txt", "not_video")):
        (row,) = rows[vid]
        assert row["error_kind"][0] == kind and row["uri"][0] in row["error_message"][0]
        assert row["frames"].shape == (1, 0, SIZE, SIZE, 3) and row["t"].shape == (1, 0)
        assert row["background"].shape == (1, 0, SIZE, SIZE, 3)
        assert row["is_last"][0]
    cut = rows["cut"]
    assert (
        cut[-1]["partial"][0]
        and cut[-1]["error_kind"][0] is None
        and "partial" in cut[-1]["error_message"][0]
    )


@pytest.mark.timeout(60)
def test_decode_from_config(media):
    stage = Decode.from_config(DecodeConfig(fps=2.0, clip_len=3, strategy="full"), size=32)
    rows = list(stage({"uri": np.array([str(media("cfr30"))]), "video_id": np.array(["v"])}))
    assert [r["frames"].shape[1] for r in rows] == [3, 3, 2] and rows[0]["frames"].shape[2:] == (32, 32, 3)


@pytest.mark.timeout(60)
def test_decode_prepares_frames_as_the_preset_says(media):
    """With the preset's `sets`, the decode tasks prepare frames and reference (dark frames lifted,
    aligned to the reference) and say how; without, the rows say nothing was done (None)."""
    batch = {"uri": np.array([str(media("cfr30"))]), "video_id": np.array(["v"])}
    cfg = DecodeConfig(fps=2.0, clip_len=3, strategy="full")
    plain = list(Decode.from_config(cfg, size=32, context=1)(batch))
    # 0.9: every frame of the clip is lifted
    sets = SetsConfig(
        top_k=0.25, reference="previous", background_momentum=0.95, stabilise=True, min_brightness=0.9
    )
    done = list(Decode.from_config(cfg, size=32, context=1, sets=sets)(batch))
    assert [r["prepared"][0] for r in plain] == [None] * len(plain)  # raw: the visual stage prepares them
    assert [r["prepared"][0] for r in done] == [Preparation(True, 0.9).label] * len(done)
    for a, b in zip(plain, done):
        frames, reference = Preparation(True, 0.9)(a["frames"][0], a["reference"][0])
        np.testing.assert_array_equal(b["frames"][0], frames)
        np.testing.assert_array_equal(b["reference"][0], reference)
        assert not np.array_equal(b["frames"][0], a["frames"][0])
    # background_samples 4: every row carries the median of the first 4 samples, each prepared
    with_bg = list(
        Decode.from_config(cfg, size=32, context=1, sets=replace(sets, background_samples=4))(batch)
    )
    raw = list(Decode.from_config(cfg, size=32, context=1, sets=replace(sets, min_brightness=0.0, stabilise=False,
                                                                      background_samples=4))(batch))  # fmt: skip
    first = np.concatenate([plain[0]["frames"][0], plain[1]["frames"][0][1:]])[:4]
    median = background_frame(first)
    for r, q in zip(with_bg, raw):
        assert r["background"].shape == (1, 1, 32, 32, 3)
        np.testing.assert_array_equal(q["background"][0, 0], median)  # nothing to prepare: as decoded
        # the median of the samples each prepared, not the median prepared
        np.testing.assert_array_equal(
            r["background"][0, 0], background_frame(Preparation(True, 0.9)(first, first[0])[0])
        )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_decode_in_ray_data(media):
    """The same callable as a Ray Data actor stage: mixed clip lengths and error rows travel."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        items = [
            {"uri": str(media("cfr30")), "video_id": "ok"},
            {"uri": str(media.bad("text")), "video_id": "txt"},
        ]
        ds = ray.data.from_items(items).map_batches(
            Decode,
            fn_constructor_kwargs=dict(fps=3.0, clip_len=4, size=32),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=1),
            num_cpus=1,
        )
        rows = sorted(ds.take_all(), key=lambda r: (r["video_id"], r["clip_index"]))
    finally:
        if started:
            ray.shutdown()
    ok = [r for r in rows if r["video_id"] == "ok"]
    assert [np.asarray(r["frames"]).shape[0] for r in ok] == [4, 4, 3]  # 9 samples, overlap 1
    assert all(r["error_kind"] is None for r in ok)
    (bad,) = [r for r in rows if r["video_id"] == "txt"]
    assert bad["error_kind"] == "not_video" and np.asarray(bad["frames"]).shape == (0, 32, 32, 3)

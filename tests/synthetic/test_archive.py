"""Synthetic archives: layout, ground-truth files (UCF-Crime format, events.json), the `vagpt synth` entry."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from tests.synthetic.mp4s import decode
from va_gpt.data.benchmarks.ucf import parse_ucf_temporal
from va_gpt.synthetic.anomalies import ALL_KINDS, UCF_CLASSES
from va_gpt.synthetic.archive import generate_archive
from va_gpt.synthetic.truth import load_truth


@pytest.mark.timeout(400)
def test_generate_archive_into_s3(s3_store, tmp_path):
    url = s3_store.url("test_synthetic/archive")
    opts = s3_store.storage_options()
    truth = generate_archive(
        url,
        cameras=3,
        videos_per_camera=3,
        duration_s=3.0,
        width=160,
        height=120,
        fps=15.0,
        seed=3,
        storage_options=opts,
    )
    fs = s3_store.filesystem()
    fs.invalidate_cache()
    root = url[len("s3://") :]
    found = sorted(p[len(root) + 1 :] for p in fs.find(root))
    keys = sorted(v.key for v in truth.videos)
    assert found == sorted(keys + ["_truth/Temporal_Anomaly_Annotation.txt", "_truth/events.json"])
    assert len(keys) == 9
    for k in keys:
        assert re.fullmatch(r"cam0[1-3]/2026-11-21/\d{6}\.mp4", k), k
    for cam in ("cam01", "cam02", "cam03"):
        times = [k.split("/")[2][:6] for k in keys if k.startswith(cam)]
        assert times == sorted(times) and len(set(times)) == 3 and times[0] >= "220000"
    # every kind once, the rest normal; normal videos have no events
    labels = sorted(v.label for v in truth.videos)
    assert labels == sorted(list(ALL_KINDS) + ["normal"] * 3)
    assert all((v.label == "normal") == (not v.events) for v in truth.videos)
    # the annotation file parses (UCF-Crime format, exclusive ends) to the right native frames
    local = tmp_path / "ann.txt"
    fs.get(f"{root}/_truth/Temporal_Anomaly_Annotation.txt", str(local))
    rows = {r.name: r for r in parse_ucf_temporal(local)}
    assert sorted(rows) == keys
    for v in truth.videos:
        r = rows[v.key]
        if v.label == "normal":
            assert r.label == "Normal" and r.events == ()
        else:
            assert r.label == UCF_CLASSES[v.label]
            (ev,) = v.events
            assert r.events == ((round(ev.start_s * 15), round(ev.end_s * 15)),)
            assert r.events[0][1] <= v.num_frames
            labels = v.frame_labels()
            assert (
                labels[r.events[0][0] : r.events[0][1]].all()
                and labels.sum() == r.events[0][1] - r.events[0][0]
            )
    raw = fs.cat(f"{root}/_truth/Temporal_Anomaly_Annotation.txt").decode().splitlines()
    assert all(len(line.split()) == 6 for line in raw)
    # events.json round-trips
    back = load_truth(url, opts)
    assert back.to_dict() == truth.to_dict()
    doc = json.loads(fs.cat(f"{root}/_truth/events.json"))
    v0 = next(v for v in doc["videos"] if v["label"] != "normal")
    assert {"key", "camera_id", "date", "start_time", "duration_s", "fps", "label", "events"} <= set(v0)
    assert {"kind", "start_s", "end_s", "box", "caption", "start_frame", "end_frame"} <= set(v0["events"][0])
    # the mp4s decode to the right frame count and rate, and match the scene they came from
    for v in (truth.videos[0], next(v for v in truth.videos if v.label == "explosion")):
        data = fs.cat(f"{root}/{v.key}")
        name, rate, _, frames, keys_ = decode(io.BytesIO(data))
        assert name == "h264" and rate == 15 and len(frames) == v.num_frames == 45 and keys_ == [0, 30]
        sc = v.scene()
        assert sc.events == v.events
        assert np.abs(frames[30].astype(int) - sc.frame(30).astype(int)).mean() < 6
    # videos of one camera share the view; cameras differ
    c1 = [v for v in truth.videos if v.camera_id == "cam01"]
    c2 = [v for v in truth.videos if v.camera_id == "cam02"]
    assert c1[0].scene().background().tobytes() == c1[1].scene().background().tobytes()
    assert c1[0].scene().background().tobytes() != c2[0].scene().background().tobytes()


@pytest.mark.timeout(120)
def test_event_start_range_spreads_events_over_the_video(tmp_path):
    truth = generate_archive(
        str(tmp_path / "arch"), cameras=2, videos_per_camera=4, duration_s=10.0, width=64, height=48, fps=5.0,
        anomaly_kinds=("fighting", "running", "collision"), normal_fraction=0.0, seed=1, event_start=(0.05, 0.6),
    )  # fmt: skip
    starts = [v.events[0].start_s / v.duration_s for v in truth.videos]
    assert all(0.05 - 1e-6 <= s <= 0.6 + 0.01 for s in starts)
    assert max(starts) - min(starts) > 0.2  # not the scene default's narrow 25-45% band
    with pytest.raises(ValueError, match="event_start"):
        generate_archive(str(tmp_path / "bad"), cameras=1, videos_per_camera=1, event_start=(0.5, 1.2))

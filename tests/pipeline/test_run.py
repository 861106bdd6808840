"""The decode adapter of the dataflow: transient storage errors are retried by the one retry policy;
run_ray groups by video inside Ray and gives what run_local gives."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile

import numpy as np
import pytest
import ray

from va_gpt.config import load_preset
from va_gpt.io.archive import list_archive
from va_gpt.pipeline.run import TRANSIENT_KINDS, Job, _resources, decode_videos, run_local, run_ray


def _batch(uri: str) -> dict[str, np.ndarray]:
    return {"uri": np.array([uri], dtype=object), "video_id": np.array(["v"], dtype=object)}


@pytest.mark.timeout(120)
def test_transient_storage_error_is_retried_then_reported(caplog):
    url = "s3://vagpt/test_run/retry/a.mp4"
    down = {  # nothing listens on port 9: connection refused, a transient error
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    job = Job(preset=load_preset("tiny"), storage_options=down, describe=False, retries=2, retry_delay_s=0.01)
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.retry"):
        rows = list(decode_videos(_batch(url), job))
    (row,) = rows
    assert row["error_kind"][0] == "storage" and url in row["error_message"][0]
    assert len([r for r in caplog.records if r.name == "va_gpt.io.retry"]) == 2  # 3 attempts


@pytest.mark.timeout(120)
def test_forbidden_is_its_own_kind_and_not_retried(s3_store, media, caplog):
    """SeaweedFS answers a request signed with the wrong secret with 403: permanent, no retries."""
    url = s3_store.url("test_run/forbidden/a.mp4")
    s3_store.filesystem().put(str(media("cfr30")), url)
    bad = dict(s3_store.storage_options(), secret="wrong-secret")
    job = Job(preset=load_preset("tiny"), storage_options=bad, describe=False, retries=2, retry_delay_s=0.01)
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.retry"):
        rows = list(decode_videos(_batch(url), job))
    (row,) = rows
    assert row["error_kind"][0] == "forbidden" and url in row["error_message"][0]
    assert row["error_kind"][0] not in TRANSIENT_KINDS
    assert not [r for r in caplog.records if r.name == "va_gpt.io.retry"]


@pytest.mark.timeout(300)
def test_partial_video_records_decoded_seconds_next_to_the_claimed_duration(media):
    job = Job(preset=load_preset("tiny"), describe=False)
    cut, whole = str(media.bad("cut_frag")), str(media("cfr30"))
    results, _ = run_local([{"video_id": "cut", "uri": cut}, {"video_id": "whole", "uri": whole}], job)
    by_id = {r["video_id"]: r for r in results}
    r = by_id["cut"]
    assert r["status"] == "partial"
    assert r["decoded_s"] < r["duration_s"] - 0.25  # the header claims more than decoded
    assert r["decoded_s"] == pytest.approx(r["t"][-1] + 1.0 / r["fps"])
    w = by_id["whole"]
    assert w["status"] == "ok" and w["decoded_s"] == pytest.approx(w["duration_s"])


@pytest.mark.timeout(60)
def test_permanent_error_is_not_retried(media, caplog):
    job = Job(preset=load_preset("tiny"), describe=False, retries=2, retry_delay_s=0.01)
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.retry"):
        rows = list(decode_videos(_batch(str(media.bad("text"))), job))
    assert [r["error_kind"][0] for r in rows] == ["not_video"]
    assert not [r for r in caplog.records if r.name == "va_gpt.io.retry"]
    ok = list(decode_videos(_batch(str(media("cfr30"))), job))
    assert ok and all(r["error_kind"][0] is None for r in ok) and ok[-1]["is_last"][0]


@pytest.mark.timeout(300)
def test_run_ray_groups_in_ray_and_gives_what_run_local_gives(tiny_archive, monkeypatch):
    """One row per video reaches the driver (never a per-clip row); results in input order and
    summaries the same as in-process, describe included."""
    objects = list_archive(tiny_archive)
    rows = [{"video_id": o.video_id, "uri": o.uri} for o in reversed(objects)]
    job = Job(preset=load_preset("tiny"), describe=True)
    local, local_summaries = run_local(rows, job)
    assert local_summaries  # the tiny archive has intervals: describe ran

    driver_rows = []
    iter_rows = ray.data.Dataset.iter_rows

    def counted(self, *a, **kw):
        for r in iter_rows(self, *a, **kw):
            driver_rows.append(r["video_id"])
            yield r

    monkeypatch.setattr(ray.data.Dataset, "iter_rows", counted)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    temp = tempfile.mkdtemp(prefix="vr", dir="/tmp")  # Ray's socket paths must stay short
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
    try:
        distributed, summaries = run_ray(rows, job)
        # on CPU the visual actor's torch threads span the decode task's CPU too (decode is ~1%
        # of the work); an explicit setting wins
        assert _resources(job)["visual_threads"] == 2
        assert _resources(Job(preset=job.preset, ray={"visual_threads": 1}))["visual_threads"] == 1
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    assert sorted(driver_rows) == sorted(r["video_id"] for r in rows)
    assert (
        [r["video_id"] for r in distributed]
        == [r["video_id"] for r in local]
        == [r["video_id"] for r in rows]
    )
    for d, w in zip(distributed, local):
        assert d.keys() == w.keys()
        for k in ("t", "score", "diff_energy"):
            np.testing.assert_allclose(np.asarray(d[k]), np.asarray(w[k]), atol=1e-5)
        assert (d["status"], d["error_message"], d["frames_sampled"]) == (
            w["status"],
            w["error_message"],
            w["frames_sampled"],
        )
        got, want = json.loads(d["intervals"]), json.loads(w["intervals"])
        assert [(i["start_s"], i["end_s"], i["label"]) for i in got] == [
            (i["start_s"], i["end_s"], i["label"]) for i in want
        ]
    key = lambda s: (s["video_id"], s["interval_id"])  # noqa: E731
    assert [(key(s), s["text"]) for s in summaries] == [(key(s), s["text"]) for s in local_summaries]

"""The nightly dataflow of va_gpt.pipeline.stream: per-video work inside Ray, frame_scores written by
workers, describe in the same execution; the tables are the same with and without Ray."""

from __future__ import annotations

import os
import shutil
import tempfile

import pyarrow as pa
import pytest
import ray

from schemas.tables import TABLES
from va_gpt.config import load_preset
from va_gpt.io.archive import list_archive
from va_gpt.lake.delta import open_table, run_versions
from va_gpt.lake.files import data_files
from va_gpt.pipeline.nightly import NightlyArgs, run_nightly
from va_gpt.pipeline.run import Job
from va_gpt.pipeline.stream import Sink, run_stream_local

pytestmark = pytest.mark.timeout(300)

# Columns that differ between two runs of the same inputs by design (the stills' URIs name the
# results root and the run).
VOLATILE = {"run_id", "processed_at", "keyframe_uri", "preview_uri"}
SORT = ("video_id", "interval_id", "t")


def table_rows(results: str) -> dict[str, list[dict]]:
    """Every result table at the last run's versions, volatile columns left out, sorted."""
    versions = run_versions(results)
    out = {}
    for name in TABLES:
        rows = pa.table(open_table(results, name, version=versions[name]).to_pyarrow_table()).to_pylist()
        rows = [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]
        out[name] = sorted(rows, key=lambda r: [repr(r.get(k)) for k in SORT])
    return out


def assert_same_rows(got: list[dict], want: list[dict], name: str) -> None:
    """The same rows; floats to 1e-5 (the visual stage batches clips differently on Ray: float32 rounding)."""
    assert len(got) == len(want), name
    for g, w in zip(got, want):
        assert g.keys() == w.keys(), name
        for k in w:
            if isinstance(w[k], float):
                assert g[k] == pytest.approx(w[k], abs=1e-5), (name, k)
            else:
                assert g[k] == w[k], (name, k)


def nightly(archive: str, results: str, **kw):
    return run_nightly(NightlyArgs(archive=archive, results=results, preset=load_preset("tiny"), **kw))


def test_stream_on_ray_writes_the_same_rows_as_local(tiny_archive, tmp_path):
    local = str(tmp_path / "local")
    on_ray = str(tmp_path / "ray")
    a = nightly(tiny_archive, local, local=True, describe=True)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    temp = tempfile.mkdtemp(prefix="vs", dir="/tmp")  # Ray's socket paths must stay short
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
    try:
        b = nightly(tiny_archive, on_ray, describe=True)
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    assert a.processed == b.processed == 4 and a.ok == b.ok == 4
    want, got = table_rows(local), table_rows(on_ray)
    assert want["frame_scores"] and want["intervals"] and want["summaries"]
    for name in TABLES:
        assert_same_rows(got[name], want[name], name)
    # The Ray workers cut every interval's stills (va_gpt.pipeline.keyframes) under its own root.
    ivs = pa.table(open_table(on_ray, "intervals").to_pyarrow_table()).to_pylist()
    for iv in ivs:
        for uri in (iv["keyframe_uri"], iv["preview_uri"]):
            assert uri.startswith(on_ray) and open(uri, "rb").read(2) == b"\xff\xd8", iv
    # frame_scores is one worker-written file per video, committed in one commit.
    assert len(data_files(on_ray, "frame_scores")) == 4
    assert all(
        "/part-w-" in "/" + p.rsplit("/", 1)[-1] or p.startswith("date=")
        for p in data_files(on_ray, "frame_scores")
    )


def test_the_driver_gets_small_rows_and_file_specs_only(tiny_archive, tmp_path):
    """run_stream_local returns what run_stream_ray returns: per-video scalars and JSON, frame
    scores only as the specs of files already written under the table."""
    objects = list_archive(tiny_archive)[:2]
    sink = Sink(
        str(tmp_path / "results"),
        "r1",
        None,
        {o.video_id: {"camera_id": o.camera_id, "date": o.date, "start_time": o.start_time} for o in objects},
    )
    job = Job(preset=load_preset("tiny"), describe=False)
    results, summaries, files = run_stream_local(
        [{"video_id": o.video_id, "uri": o.uri} for o in objects], job, sink
    )
    assert len(results) == 2 and summaries == []
    for r in results:
        assert all(
            v is None or isinstance(v, str | int | float)
            for k, v in r.items()
            if k not in ("t", "score", "diff_energy")
        )
        assert list(r["t"]) == list(r["score"]) == list(r["diff_energy"]) == []
    assert sum(f["num_records"] for f in files) == sum(r["frames_sampled"] for r in results) > 0
    for f in files:
        assert os.path.getsize(os.path.join(sink.results, "frame_scores", f["path"])) == f["size"]

"""The storage circuit breaker (va_gpt.pipeline.breaker) against a real outage: a private SeaweedFS
store stopped mid-run. The run stops after N videos in a row fail, commits nothing, and
`vagpt nightly` exits 3 with one clear line; with the store up it never trips."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import ray

from tests.pipeline.rayprocs import end_processes_of
from va_gpt.cli.main import main
from va_gpt.config import load_preset
from va_gpt.io.credentials import S3Credentials
from va_gpt.io.objectstore import ObjectStore, port_open
from va_gpt.lake.delta import runs
from va_gpt.lake.manifest import Manifest
from va_gpt.pipeline.breaker import NOT_ATTEMPTED, Breaker, StorageOutage
from va_gpt.pipeline.nightly import NightlyArgs, run_nightly
from va_gpt.pipeline.run import Job, _batch, decode_videos
from va_gpt.synthetic.archive import generate_archive

pytestmark = pytest.mark.timeout(300)
VIDEOS = 8
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    """A private store (tests stop it) holding an archive of VIDEOS short videos."""
    store = ObjectStore(tmp_path / "seaweedfs")
    endpoint = store.start()
    generate_archive(
        endpoint.url("archive"), cameras=2, videos_per_camera=VIDEOS // 2, duration_s=2.0, width=96,
        height=72, fps=10, seed=1, storage_options=endpoint.storage_options(),
    )  # fmt: skip
    try:
        yield store
    finally:
        store.stop()


def nightly_args(store: ObjectStore, **kw) -> NightlyArgs:
    ep = store.endpoint
    return NightlyArgs(
        archive=ep.url("archive"), results=ep.url("results"), preset=load_preset("tiny"),
        storage_options=ep.storage_options(), describe=False, **{"local": True, **kw},
    )  # fmt: skip


def assert_nothing_committed(store: ObjectStore) -> None:
    store.start()  # back up, to look
    so = store.endpoint.storage_options()
    assert runs(store.endpoint.url("results"), so) == []
    assert len(Manifest.load(store.endpoint.url("results"), so)) == 0  # the next night redoes every video


def test_the_breaker_counts_failures_in_a_row():
    b = Breaker(3, "s3://x")
    for error in ("e1", "e2", None, "e3", "e4"):
        b.record("u", error)
    assert b.tripped() is None and b.outage() is None  # the success reset the count
    b.record("u", "e5")
    assert NOT_ATTEMPTED in b.tripped() and "3 videos in a row" in b.tripped()
    outage = b.outage()
    assert isinstance(outage, StorageOutage) and outage.failures == 3 and "e5" in str(outage)
    off = Breaker(0, "s3://x")
    for _ in range(100):
        off.record("u", "down")
    assert off.tripped() is None
    with pytest.raises(ValueError):
        Breaker(-1, "s3://x")


def test_a_tripped_breaker_reads_nothing_more():
    dead = S3Credentials("k", "s", "http://127.0.0.1:9").storage_options()
    reads = []
    breaker = Breaker(1, "s3://b", after_read=lambda uri, error: reads.append(uri))
    breaker.record("s3://b/first.mp4", "down")
    job = Job(preset=load_preset("tiny"), storage_options=dead, describe=False, breaker=breaker)
    rows = [{"video_id": f"v{i}", "uri": f"s3://b/v{i}.mp4"} for i in range(3)]
    out = list(decode_videos(_batch(rows), job))
    assert [r["error_kind"][0] for r in out] == ["storage"] * 3
    assert all(NOT_ATTEMPTED in r["error_message"][0] for r in out)
    assert [r["frames"].shape[1] for r in out] == [0, 0, 0] and reads == ["s3://b/first.mp4"]
    assert np.all([r["is_last"][0] for r in out])


def test_a_store_stopped_mid_run_trips_the_breaker_and_commits_nothing(store):
    reads: list[tuple[str, str | None]] = []

    def after_read(uri: str, error: str | None) -> None:
        reads.append((uri, error))
        if len(reads) == 1:
            store.stop()  # a real outage, right after the first video was read

    with pytest.raises(StorageOutage) as caught:
        run_nightly(nightly_args(store, max_storage_failures=3, after_read=after_read))
    assert reads[0][1] is None and all(error for _, error in reads[1:])
    assert len(reads) == 1 + 3 < VIDEOS  # stopped early: 4 of 8 videos attempted
    message = str(caught.value)
    assert store.endpoint.endpoint_url in message and "3 videos in a row" in message
    assert "nothing of this run was committed" in message and "Last error:" in message
    assert_nothing_committed(store)


def test_with_the_store_up_the_breaker_never_trips(store):
    reads: list[str | None] = []
    summary = run_nightly(
        nightly_args(store, max_storage_failures=1, after_read=lambda u, e: reads.append(e))
    )
    assert summary.committed and summary.ok == VIDEOS and reads == [None] * VIDEOS
    assert len(runs(store.endpoint.url("results"), store.endpoint.storage_options())) == 1


def _cli(store: ObjectStore, *extra: str) -> int:
    ep = store.endpoint
    argv = ["nightly", "--archive", ep.url("archive"), "--results", ep.url("results"), "--preset", "tiny"]
    return main(argv + ["--local", "--no-describe", "--allow-random-weights", *extra])


class _StopOn(logging.Handler):
    """Stops the store when the nightly logs that it starts processing (the listing is done)."""

    def __init__(self, store: ObjectStore):
        super().__init__()
        self.store = store

    def emit(self, record: logging.LogRecord) -> None:
        if "objects to process" in record.getMessage():
            self.store.stop()


def test_cli_exits_3_with_one_line_when_the_store_goes_down(store, monkeypatch, capsys, caplog):
    for name, value in store.endpoint.env().items():
        monkeypatch.setenv(name, value)
    logger = logging.getLogger("va_gpt.pipeline.nightly")
    caplog.set_level(logging.INFO, logger=logger.name)
    handler = _StopOn(store)
    logger.addHandler(handler)
    try:
        rc = _cli(store, "--max-storage-failures", "2")
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert rc == 3 and "Traceback" not in err
    assert "storage unreachable: 2 videos in a row" in err and store.endpoint.endpoint_url in err
    assert_nothing_committed(store)

    store.stop()  # down before the run: the listing itself fails
    rc = _cli(store)
    err = capsys.readouterr().err
    assert rc == 3 and "Traceback" not in err
    assert "storage unreachable: the archive listing failed" in err and "nothing of this run" in err


def test_on_ray_the_decode_tasks_share_one_breaker(store):
    """The store down before the first read: the Ray job's decode tasks trip the actor's breaker,
    the driver stops with StorageOutage, nothing committed, and the process ends normally.

    Run in a child process: if Ray ended the process while stopping (a Ray Data thread calling
    into Ray after ray.shutdown(), see raylocal.stop_ray), that is reported here as a failure
    with the child's output, not as a silent death of the whole test session."""
    ep = store.endpoint
    temp = tempfile.mkdtemp(prefix="vb", dir="/tmp")  # Ray's socket paths must stay short
    spec = {
        "archive": ep.url("archive"), "results": ep.url("results"), "storage_options": ep.storage_options(),
        "store_pgid": store.proc.pid, "s3_port": store.s3_port, "ray_temp_dir": temp,
    }  # fmt: skip
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tests.pipeline.test_breaker import _ray_outage_child; _ray_outage_child()"
    try:
        child = subprocess.run(
            [sys.executable, "-c", code], input=json.dumps(spec), capture_output=True, text=True, timeout=240
        )
    finally:
        end_processes_of([temp])  # a child that timed out or crashed leaves its Ray behind
        shutil.rmtree(temp, ignore_errors=True)
    out = child.stdout + child.stderr
    assert child.returncode == 0, f"the child exited {child.returncode}:\n{out[-4000:]}"
    assert "OUTAGE: " in child.stdout and "2 videos in a row" in child.stdout, out[-4000:]
    assert "nothing of this run was committed" in child.stdout and "RAY STOPPED" in child.stdout
    assert_nothing_committed(store)


def _ray_outage_child() -> None:
    """The child of the Ray test: the nightly on a local Ray with the store stopped once the
    listing is done (the store process group is the parent's; it is killed by its id)."""
    spec = json.loads(sys.stdin.read())

    class StopStore(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "objects to process" in record.getMessage():
                os.killpg(spec["store_pgid"], signal.SIGTERM)
                deadline = time.monotonic() + 20
                while port_open(spec["s3_port"]) and time.monotonic() < deadline:
                    time.sleep(0.1)

    logger = logging.getLogger("va_gpt.pipeline.nightly")
    logger.setLevel(logging.INFO)
    logger.addHandler(StopStore())
    args = NightlyArgs(
        archive=spec["archive"], results=spec["results"], preset=load_preset("tiny"),
        storage_options=spec["storage_options"], describe=False, local=False, max_storage_failures=2,
        ray_temp_dir=spec["ray_temp_dir"],
    )  # fmt: skip
    try:
        run_nightly(args)
    except StorageOutage as e:
        print("OUTAGE: " + str(e).replace("\n", " "), flush=True)
    print("RAY STILL UP" if ray.is_initialized() else "RAY STOPPED", flush=True)

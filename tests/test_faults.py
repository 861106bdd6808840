"""The fault corpus (tests/faults.py) through the local pipeline: every kind ends as its status,
every bad name is reported with why, and a store that refuses access (403) is `forbidden`."""

from __future__ import annotations

import pytest

from tests.faults import PATTERN, write_corpus
from va_gpt.config import load_preset
from va_gpt.io.archive import scan_archive
from va_gpt.pipeline.run import TRANSIENT_KINDS, Job, run_local


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults") / "archive"
    return root, write_corpus(root)


@pytest.mark.timeout(300)
def test_every_fault_kind_ends_as_its_status(corpus):
    root, faults = corpus
    listing = scan_archive(str(root), PATTERN)
    skipped = {s.key: s.reason for s in listing.skipped}
    assert set(skipped) == {f.key for f in faults.values() if f.status == "skipped"}
    assert all(reason for reason in skipped.values())
    job = Job(preset=load_preset("tiny"), describe=False)
    results, _ = run_local([{"video_id": o.video_id, "uri": o.uri} for o in listing.objects], job)
    by_key = {r["uri"].split(f"{root}/", 1)[1]: r for r in results}
    want = {f.key: f.status for f in faults.values() if f.status != "skipped"}
    assert sorted(by_key) == sorted(want)  # one row per object: none lost, none twice
    got = {k: r["status"] for k, r in by_key.items()}
    assert got == want
    for r in results:
        msg = r["error_message"] or ""
        assert msg.isprintable() and "Traceback" not in msg
        if r["status"] not in ("ok", "partial"):
            assert r["uri"] in msg  # every error names its object
        else:
            assert r["decoded_s"] > 0


@pytest.mark.timeout(120)
def test_forbidden_object_is_a_permanent_row(s3_store, corpus):
    _, faults = corpus
    root, _ = corpus
    url = s3_store.url("test_faults/faults/2026-11-21/forbidden.mp4")
    s3_store.filesystem().put(str(root / faults["ok"].key), url)
    refused = dict(s3_store.storage_options(), secret="not-the-secret")  # the store answers 403
    job = Job(
        preset=load_preset("tiny"), storage_options=refused, describe=False, retries=1, retry_delay_s=0.01
    )
    (row,) = run_local([{"video_id": "forbidden", "uri": url}], job)[0]
    assert row["status"] == "forbidden" and row["status"] not in TRANSIENT_KINDS
    assert url in row["error_message"] and "403" in row["error_message"]

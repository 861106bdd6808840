"""The decode adapter of the dataflow: transient storage errors are retried by the one retry policy."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from va_gpt.config import load_preset
from va_gpt.pipeline.run import Job, decode_videos


def _batch(uri: str) -> dict[str, np.ndarray]:
    return {"uri": np.array([uri], dtype=object), "video_id": np.array(["v"], dtype=object)}


@pytest.mark.timeout(120)
def test_transient_storage_error_is_retried_then_reported(s3_store, media, caplog):
    url = s3_store.url("test_run/retry/a.mp4")
    s3_store.filesystem().put(str(media("cfr30")), url)
    bad = dict(s3_store.storage_options(), secret="wrong-secret")
    job = Job(preset=load_preset("tiny"), storage_options=bad, describe=False, retries=2, retry_delay_s=0.01)
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.retry"):
        rows = list(decode_videos(_batch(url), job))
    (row,) = rows
    assert row["error_kind"][0] == "storage" and url in row["error_message"][0]
    assert len([r for r in caplog.records if r.name == "va_gpt.io.retry"]) == 2  # 3 attempts


@pytest.mark.timeout(60)
def test_permanent_error_is_not_retried(media, caplog):
    job = Job(preset=load_preset("tiny"), describe=False, retries=2, retry_delay_s=0.01)
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.retry"):
        rows = list(decode_videos(_batch(str(media.bad("text"))), job))
    assert [r["error_kind"][0] for r in rows] == ["not_video"]
    assert not [r for r in caplog.records if r.name == "va_gpt.io.retry"]
    ok = list(decode_videos(_batch(str(media("cfr30"))), job))
    assert ok and all(r["error_kind"][0] is None for r in ok) and ok[-1]["is_last"][0]

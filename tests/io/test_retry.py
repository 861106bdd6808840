"""va_gpt.io.retry: only transient failures are retried, with capped exponential backoff."""

from __future__ import annotations

import botocore.exceptions
import pytest

from tests.io.storage_fixtures import client_error
from va_gpt.io.errors import StorageError, TransientStorageError
from va_gpt.io.retry import retry


@pytest.mark.timeout(30)
def test_retry_only_transient_with_backoff():
    delays: list[float] = []
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise TransientStorageError("s3://b/k", "busy")
        return "ok"

    assert retry(flaky, attempts=4, base_delay=0.5, sleep=delays.append) == "ok"
    assert calls["n"] == 3 and delays == [0.5, 1.0]

    def permanent():
        calls["n"] += 1
        raise StorageError("s3://b/k", "access denied")

    calls["n"] = 0
    with pytest.raises(StorageError, match="access denied"):
        retry(permanent, sleep=delays.append)
    assert calls["n"] == 1

    def always_busy():
        calls["n"] += 1
        raise client_error("SlowDown", 503)

    calls["n"], delays[:] = 0, []
    with pytest.raises(botocore.exceptions.ClientError):
        retry(always_busy, attempts=5, base_delay=1.0, max_delay=3.0, sleep=delays.append)
    assert calls["n"] == 5 and delays == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.timeout(30)
def test_retry_transient_results_returns_the_last_one():
    """A call that reports failures as values (a decode error row) is retried on a transient one."""
    delays: list[float] = []
    results = iter(["busy", "busy", "ok"])

    def why(result: str) -> str | None:
        return "server busy" if result == "busy" else None

    assert retry(lambda: next(results), attempts=4, sleep=delays.append, transient_result=why) == "ok"
    assert delays == [0.5, 1.0]

    # Out of attempts: the last transient result is returned, not raised.
    delays[:] = []
    assert (
        retry(lambda: "busy", attempts=3, base_delay=0.1, sleep=delays.append, transient_result=why) == "busy"
    )
    assert delays == [0.1, 0.2]

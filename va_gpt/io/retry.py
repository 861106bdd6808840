"""The one retry policy: re-run an idempotent call on transient failures, with capped exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from va_gpt.io.errors import is_transient

logger = logging.getLogger(__name__)

T = TypeVar("T")


def retry(
    fn: Callable[[], T],
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    *,
    sleep: Callable[[float], None] = time.sleep,
    transient_result: Callable[[T], str | None] | None = None,
) -> T:
    """Call `fn()`; on a transient error wait base_delay * 2**i (capped at max_delay) and call again.

    Permanent errors and the last transient one are raised unchanged. Only
    wrap idempotent calls: a retried write must not duplicate anything.

    `transient_result`, for calls that report failures as values (a decode
    error row): it returns why a result is a transient failure, or None to
    accept it. Such a result is retried like a transient error, and the last
    one is returned, not raised.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            result = fn()
        except Exception as exc:
            if last or not is_transient(exc):
                raise
            failure: object = exc
        else:
            failure = None if transient_result is None else transient_result(result)
            if failure is None or last:
                return result
        delay = min(max_delay, base_delay * 2**attempt)
        logger.warning(
            "transient storage error (attempt %d/%d), retrying in %.1fs: %s",
            attempt + 1,
            attempts,
            delay,
            failure,
        )
        sleep(delay)
    raise AssertionError("unreachable")  # the loop either returns or raises

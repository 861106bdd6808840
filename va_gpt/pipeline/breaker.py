"""The storage circuit breaker: a store outage stops the run after N videos in a row, not after all.

    breaker = Breaker(limit=5, store="s3://footage (http://10.0.0.5:8333)")
    breaker.record(uri, error)      # per video, after its first read: error None = the read worked
    breaker.tripped()               # None, or why the run stops

A video whose read fails with a transient storage error after the retries (decode
status `storage`) costs the retry policy's time (va_gpt.io.retry); with the store
down that is every remaining video. After `limit` such videos in a row (any video
that reads resets the count; 0 = never trip) the decode stage stops trying: each
remaining video becomes a `storage` row at once, and the nightly run raises
StorageOutage instead of committing (va_gpt.pipeline.nightly). `RemoteBreaker` is
the same counter in one Ray actor, so every decode task of a run shares it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlparse

import ray

from va_gpt.io.credentials import S3_SCHEMES, resolve_s3
from va_gpt.io.errors import TransientStorageError

DEFAULT_MAX_STORAGE_FAILURES = 5
NOT_ATTEMPTED = "not attempted: the storage circuit breaker tripped"


class StorageOutage(TransientStorageError):
    """The run stopped early: the store failed `failures` videos in a row. Nothing was committed."""

    def __init__(self, store: str, failures: int, last_error: str, what: str | None = None):
        self.store = store
        self.failures = failures
        self.last_error = last_error
        what = what or f"{failures} videos in a row could not be read"
        super().__init__(
            store,
            f"storage unreachable: {what}; stopped early, nothing of this run was committed "
            f"(no runs row, no table commit, the manifest untouched: the next night redoes every "
            f"video of this run). Last error: {last_error}",
        )


def store_name(archive: str, storage_options: dict | None) -> str:
    """The archive URL, with the S3 endpoint it is read from when that is not AWS itself."""
    if urlparse(archive).scheme in S3_SCHEMES:
        endpoint = resolve_s3(storage_options).endpoint_url
        if endpoint:
            return f"{archive} (endpoint {endpoint})"
    return archive


class Breaker:
    """Counts consecutive videos whose storage read failed; trips at `limit` (0: never)."""

    def __init__(self, limit: int, store: str, after_read: Callable[[str, str | None], None] | None = None):
        if limit < 0:
            raise ValueError(f"max storage failures must be >= 0 (0 = off), got {limit}")
        self.limit = int(limit)
        self.store = store
        self.consecutive = 0
        self.last_error: str | None = None
        self.is_tripped = False
        self.after_read = after_read  # tests: called with each record's arguments (stops a store mid-run)

    def record(self, uri: str, error: str | None) -> None:
        """One video's read: `error` is why it failed (a transient storage error), None when it read."""
        if self.after_read is not None:
            self.after_read(uri, error)
        if self.is_tripped:
            return
        if error is None:
            self.consecutive = 0
            return
        self.consecutive += 1
        self.last_error = error
        self.is_tripped = self.limit > 0 and self.consecutive >= self.limit

    def tripped(self) -> str | None:
        """None while the run goes on; once tripped, the message a skipped video's row carries."""
        if not self.is_tripped:
            return None
        return f"{NOT_ATTEMPTED} after {self.consecutive} videos in a row failed on {self.store}"

    def outage(self) -> StorageOutage | None:
        """The error the run stops with, or None when the breaker has not tripped."""
        return _outage(self.store, self.state())

    def state(self) -> tuple[bool, int, str | None]:
        return self.is_tripped, self.consecutive, self.last_error


class RemoteBreaker:
    """A Breaker in one Ray actor (picklable: decode tasks on any node share it)."""

    def __init__(self, limit: int, store: str):
        self.store = store
        self.actor = ray.remote(num_cpus=0)(Breaker).remote(limit, store)

    def record(self, uri: str, error: str | None) -> None:
        ray.get(self.actor.record.remote(uri, error))

    def tripped(self) -> str | None:
        return ray.get(self.actor.tripped.remote())

    def outage(self) -> StorageOutage | None:
        return _outage(self.store, ray.get(self.actor.state.remote()))


def _outage(store: str, state: tuple[bool, int, str | None]) -> StorageOutage | None:
    tripped, failures, last_error = state
    return StorageOutage(store, failures, last_error or "(none)") if tripped else None


def raise_if_tripped(breaker: Breaker | RemoteBreaker | None) -> None:
    """StorageOutage when `breaker` has tripped (None: no breaker)."""
    outage = breaker.outage() if breaker is not None else None
    if outage is not None:
        raise outage


def until_outage(rows: Iterable[dict], breaker: Breaker | RemoteBreaker | None) -> Iterator[dict]:
    """`rows` (per-video rows streamed from the Ray job), stopped by StorageOutage as soon as a
    `storage` row arrives after the breaker tripped: the driver stops consuming, the caller
    shuts the job down. A job that fails once the breaker tripped (a worker writing to the dead
    store) is the same outage, not a traceback."""
    it = iter(rows)
    try:
        for row in it:
            if row.get("status") == "storage":
                raise_if_tripped(breaker)
            yield row
    except StorageOutage:
        raise
    except Exception:
        raise_if_tripped(breaker)
        raise
    finally:
        # Stop the Ray Data execution now: left to the garbage collector, its executor thread
        # could still call into Ray after the caller's ray.shutdown(), and Ray then ends the
        # whole process ("the core worker has already been shutdown").
        close = getattr(it, "close", None)
        if close is not None:
            close()

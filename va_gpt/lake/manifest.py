"""The processed-object manifest: which (uri, etag, pipeline_version) a run already processed.

A Delta table `{results}/_manifest` (schemas/tables.py MANIFEST), one row per
uri. A nightly run lists the archive, diffs it against the manifest
(`Manifest.diff`) and processes only new or changed objects. `save` writes the
recorded entries in one commit that replaces those uris' rows, so saving the
same entries twice (a retry, a rerun) never duplicates them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.tables import conform
from va_gpt.io.archive import ArchiveObject
from va_gpt.io.errors import StorageError
from va_gpt.lake.delta import open_table, replace_rows


@dataclass(frozen=True)
class ManifestEntry:
    """The last processing of one source object."""

    uri: str
    etag: str
    size: int
    pipeline_version: str
    status: str
    run_id: str
    recorded_at: dt.datetime  # UTC


@dataclass(frozen=True)
class ManifestDiff:
    """Objects split by what the manifest knows about them; each list keeps the input order."""

    new: list[ArchiveObject]
    changed: list[ArchiveObject]  # same uri, different etag or pipeline version
    unchanged: list[ArchiveObject]

    @property
    def to_process(self) -> list[ArchiveObject]:
        return self.new + self.changed


class Manifest:
    """Which (uri, etag, pipeline_version) have been processed, one entry per uri.

    Single writer: the nightly driver loads it, diffs, runs, records and saves.
    """

    def __init__(
        self,
        results_url: str,
        storage_options: dict | None = None,
        entries: dict[str, ManifestEntry] | None = None,
    ):
        self.results_url = results_url
        self.storage_options = storage_options
        self.entries: dict[str, ManifestEntry] = dict(entries or {})
        self._pending: set[str] = set()

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, uri: object) -> bool:
        return uri in self.entries

    def get(self, uri: str) -> ManifestEntry | None:
        return self.entries.get(uri)

    @classmethod
    def load(cls, results_url: str, storage_options: dict | None = None) -> Manifest:
        """The manifest of `results_url`; an empty one when it does not exist yet."""
        try:
            table = open_table(results_url, "manifest", storage_options)
            rows = [] if table is None else table.to_pyarrow_table().to_pylist()
        except OSError as exc:  # delta-rs raises OSError subclasses for storage failures
            raise StorageError(results_url, f"cannot read the manifest table: {exc}") from exc
        entries = {r["uri"]: ManifestEntry(**r) for r in rows}
        return cls(results_url, storage_options, entries)

    def diff(self, objects: Iterable[ArchiveObject], pipeline_version: str) -> ManifestDiff:
        new, changed, unchanged = [], [], []
        for obj in objects:
            entry = self.entries.get(obj.uri)
            if entry is None:
                new.append(obj)
            elif entry.etag != obj.etag or entry.pipeline_version != pipeline_version:
                changed.append(obj)
            else:
                unchanged.append(obj)
        return ManifestDiff(new, changed, unchanged)

    def record(
        self,
        objects: Iterable[ArchiveObject],
        pipeline_version: str,
        run_id: str,
        status: dict[str, str] | None = None,
    ) -> None:
        """Mark `objects` as processed by `run_id` (in memory; `save` writes them).

        `status`: video_id -> the video's status in the run (default "ok").
        """
        now = dt.datetime.now(dt.UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # stored in ms
        for obj in objects:
            st = (status or {}).get(obj.video_id, "ok")
            self.entries[obj.uri] = ManifestEntry(
                obj.uri, obj.etag, obj.size, pipeline_version, st, run_id, now
            )
            self._pending.add(obj.uri)

    def save(self) -> None:
        """One commit replacing the rows of the entries recorded since load (retried; idempotent)."""
        if not self._pending:
            return
        uris = sorted(self._pending)
        rows = conform("manifest", [vars(self.entries[u]) for u in uris])
        replace_rows(self.results_url, "manifest", rows, "uri", uris, self.storage_options)
        self._pending.clear()

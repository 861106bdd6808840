"""The processed-object manifest: which (uri, etag, pipeline_version) a run already processed.

A nightly run lists the archive, diffs it against the manifest
(`Manifest.diff`) and processes only new or changed objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from va_gpt.io.archive import ArchiveObject
from va_gpt.io.errors import StorageError, mapped_errors
from va_gpt.io.filesystem import filesystem, write_bytes

MANIFEST_FORMAT = "va-gpt-manifest"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ManifestEntry:
    """The last processing of one source object."""

    uri: str
    etag: str
    size: int
    pipeline_version: str
    run_id: str
    recorded_at: str  # UTC ISO-8601


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
    """Which (uri, etag, pipeline_version) have been processed, one entry per uri, in a JSON object.

    Single writer: the nightly driver loads it, diffs, runs, records and
    saves. `save` replaces the object atomically, so a crash leaves the old
    manifest, never a truncated one.
    """

    def __init__(
        self, url: str, storage_options: dict | None = None, entries: dict[str, ManifestEntry] | None = None
    ):
        self.url = url
        self.storage_options = storage_options
        self.entries: dict[str, ManifestEntry] = dict(entries or {})

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, uri: object) -> bool:
        return uri in self.entries

    def get(self, uri: str) -> ManifestEntry | None:
        return self.entries.get(uri)

    @classmethod
    def load(cls, url: str, storage_options: dict | None = None) -> Manifest:
        """The manifest at `url`; an empty one when it does not exist yet. A corrupt file is a StorageError."""
        fs, path = filesystem(url, storage_options)
        try:
            with mapped_errors(url, "read manifest"):
                raw = fs.cat_file(path)
        except StorageError as exc:
            if isinstance(exc.__cause__, FileNotFoundError):
                return cls(url, storage_options)
            raise
        return cls(url, storage_options, _parse_manifest(url, raw))

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

    def record(self, objects: Iterable[ArchiveObject], pipeline_version: str, run_id: str) -> None:
        """Mark `objects` as processed by `run_id` (in memory; `save` writes it)."""
        now = datetime.now(UTC).isoformat()
        for obj in objects:
            self.entries[obj.uri] = ManifestEntry(obj.uri, obj.etag, obj.size, pipeline_version, run_id, now)

    def to_json(self) -> bytes:
        doc = {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "entries": [vars(self.entries[uri]) for uri in sorted(self.entries)],
        }
        return json.dumps(doc, indent=1).encode("utf-8")

    def save(self) -> None:
        write_bytes(self.url, self.to_json(), self.storage_options)


def _parse_manifest(url: str, raw: bytes) -> dict[str, ManifestEntry]:
    def corrupt(why: str) -> StorageError:
        return StorageError(url, f"corrupt manifest: {why}; fix or delete the file to reprocess everything")

    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(f"not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise corrupt(f"not a {MANIFEST_FORMAT} document")
    if doc.get("format_version") != MANIFEST_VERSION:
        raise corrupt(f"format_version {doc.get('format_version')!r}, this code reads {MANIFEST_VERSION}")
    try:
        entries = [ManifestEntry(**e) for e in doc["entries"]]
    except (KeyError, TypeError) as exc:
        raise corrupt(f"bad entries ({exc})") from exc
    return {e.uri: e for e in entries}

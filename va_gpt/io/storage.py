"""The storage layer: fsspec URLs, archive listing, the processed-object manifest, atomic run commits.

Every function takes a URL (`s3://bucket/prefix`, `file:///dir`, or a plain
local path) and `storage_options`, the fsspec keyword arguments for that URL
(for the embedded store: `Endpoint.storage_options()`). S3, local disks and
any other fsspec backend go through the same code.

Four parts:

- URLs and I/O: `filesystem`, `join`, `open_read`, `read_bytes`, `write_bytes`.
- Listing: `list_archive` turns an archive tree such as
  `{camera_id}/{date}/{name}.mp4` into sorted `ArchiveObject`s.
- Manifest: which (uri, etag, pipeline_version) a run already processed, so a
  nightly run picks only new or changed objects (`Manifest.diff`).
- Commit: a run stages its Parquet files under `{results}/_staging/{run_id}/`,
  `publish` copies them to their hive-partitioned home and then writes one
  marker `{results}/_runs/{run_id}.json`. Readers (`committed_files`) see only
  files named by markers, so a run killed halfway is invisible.

Errors are `StorageError` (permanent: not found, access denied, corrupt file)
or `TransientStorageError` (connection, timeout, 5xx, SlowDown), always naming
the URL; `retry` re-runs an idempotent call on transient errors only.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any, TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem

logger = logging.getLogger(__name__)

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class StorageError(Exception):
    """A storage operation failed permanently (not found, access denied, corrupt data, bad input).

    `url` names the object or prefix, `reason` says what went wrong.
    """

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class TransientStorageError(StorageError):
    """A storage operation failed in a way that may succeed when retried (network, timeout, 5xx)."""


# S3 error codes that mean "try again later" rather than "this will never work".
_TRANSIENT_S3_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "OperationAborted",
}
# errno values s3fs and the OS use for busy servers, 5xx replies and dropped connections.
_TRANSIENT_ERRNOS = {
    errno.EBUSY,
    getattr(errno, "EREMOTEIO", errno.EIO),
    errno.ETIMEDOUT,
    errno.ECONNRESET,
    errno.ECONNREFUSED,
    errno.ECONNABORTED,
    errno.EAGAIN,
}
_PERMANENT_OS_ERRORS = (
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    FileExistsError,
)


def _library_error_types() -> tuple[tuple[type, ...], tuple[type, ...], type | None]:
    """(transient types, all library error types, botocore ClientError) of the optional S3 stack."""
    transient: list[type] = []
    every: list[type] = []
    client_error = None
    try:
        import botocore.exceptions as bex

        transient += [bex.ConnectionError, bex.HTTPClientError]
        every += [bex.BotoCoreError, bex.ClientError]
        client_error = bex.ClientError
    except ImportError:
        pass
    try:
        import aiohttp

        transient += [aiohttp.ClientConnectionError, aiohttp.ClientPayloadError]
        every += [aiohttp.ClientError]
    except ImportError:
        pass
    return tuple(transient), tuple(every), client_error


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from (s3fs wraps botocore errors in OSErrors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _client_error_is_transient(exc: Any) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in _TRANSIENT_S3_CODES or status >= 500 or status == 429 or code.startswith("5")


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what it was raised from) is worth retrying.

    The first exception in the chain that decides wins: a FileNotFoundError
    wrapping a botocore 404 is permanent, an OSError(EBUSY) wrapping a 503
    SlowDown is transient.
    """
    transient_types, _, client_error = _library_error_types()
    for e in _exception_chain(exc):
        if isinstance(e, TransientStorageError):
            return True
        if isinstance(e, (StorageError, *_PERMANENT_OS_ERRORS)):
            return False
        if isinstance(e, (ConnectionError, TimeoutError, *transient_types)):
            return True
        if client_error is not None and isinstance(e, client_error):
            return _client_error_is_transient(e)
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS:
            return True
    return False


def _describe(exc: BaseException, transient: bool) -> str:
    if transient:
        kind = "temporary failure (connection, timeout or busy server), retryable"
    elif isinstance(exc, FileNotFoundError):
        kind = "not found"
    elif isinstance(exc, PermissionError):
        kind = "access denied"
    else:
        kind = "failed"
    return f"{kind} ({type(exc).__name__}: {exc})"


def storage_error(exc: BaseException, url: str, action: str) -> StorageError:
    """Map a library exception to a StorageError / TransientStorageError naming `url`."""
    if isinstance(exc, StorageError):
        return exc
    transient = is_transient(exc)
    cls = TransientStorageError if transient else StorageError
    return cls(url, f"{action}: {_describe(exc, transient)}")


@contextmanager
def _mapped(url: str, action: str) -> Iterator[None]:
    """Turn OS / botocore / aiohttp errors raised inside into StorageErrors naming `url`.

    Only I/O error types are mapped: a TypeError from our own code stays a bug, not a storage error.
    """
    _, library_types, _ = _library_error_types()
    try:
        yield
    except StorageError:
        raise
    except (OSError, *library_types) as exc:
        raise storage_error(exc, url, action) from exc


def retry(
    fn: Callable[[], T],
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn()`; on a transient error wait base_delay * 2**i (capped at max_delay) and call again.

    Permanent errors and the last transient one are raised unchanged. Only
    wrap idempotent calls: a retried write must not duplicate anything.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            delay = min(max_delay, base_delay * 2**attempt)
            logger.warning(
                "transient storage error (attempt %d/%d), retrying in %.1fs: %s",
                attempt + 1,
                attempts,
                delay,
                exc,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # the loop either returns or raises


# ---------------------------------------------------------------------------------------------
# URLs and single-object I/O
# ---------------------------------------------------------------------------------------------


def filesystem(url: str, storage_options: dict | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem for `url` and the path inside it (no protocol)."""
    try:
        return fsspec.core.url_to_fs(url, **(storage_options or {}))
    except (ValueError, ImportError, TypeError) as exc:
        # Unknown protocol, missing backend package, or options the backend does not take.
        raise StorageError(url, f"cannot open filesystem: {type(exc).__name__}: {exc}") from exc


def join(url: str, *parts: str) -> str:
    """`url` with `parts` appended, one `/` between each: join("s3://b/x/", "a", "b.json") -> "s3://b/x/a/b.json"."""
    out = url.rstrip("/") or url  # keep a bare "/" root
    for part in parts:
        part = part.strip("/")
        if part:
            out = out + part if out.endswith("/") else f"{out}/{part}"
    return out


def _url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """The full URL (with scheme) of `path` in `fs`: what ends up in manifests and query lists."""
    return fs.unstrip_protocol(path)


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


@contextmanager
def open_read(url: str, storage_options: dict | None = None, **open_kwargs: Any) -> Iterator[IO[bytes]]:
    """Open `url` for binary reading (a seekable file object, e.g. for PyAV or pyarrow).

    Errors from opening are StorageErrors naming the URL; errors raised by the
    caller's own code inside the `with` block pass through untouched.
    """
    fs, path = filesystem(url, storage_options)
    with _mapped(url, "open for reading"):
        f = fs.open(path, "rb", **open_kwargs)
    try:
        yield f
    finally:
        f.close()


def read_bytes(url: str, storage_options: dict | None = None) -> bytes:
    """The whole content of `url`."""
    fs, path = filesystem(url, storage_options)
    with _mapped(url, "read"):
        return fs.cat_file(path)


def exists(url: str, storage_options: dict | None = None) -> bool:
    fs, path = filesystem(url, storage_options)
    with _mapped(url, "check existence"):
        fs.invalidate_cache(path)  # fsspec caches listings per filesystem instance; we want the truth now
        return fs.exists(path)


def _write_atomic(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Replace `path` with `data` so a reader sees the old or the new content, never a part.

    Local disk: a temp file in the same folder, then os.replace (atomic on
    POSIX). Object stores: one PUT, which S3 makes visible all at once.
    """
    if _is_local(fs):
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        # The temp name does not end in .json, so marker listings never pick it up.
        tmp = os.path.join(parent, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        fs.pipe_file(path, data)


def write_bytes(url: str, data: bytes, storage_options: dict | None = None) -> None:
    """Write `data` to `url` atomically (see `_write_atomic`)."""
    fs, path = filesystem(url, storage_options)
    with _mapped(url, "write"):
        _write_atomic(fs, path, data)


# ---------------------------------------------------------------------------------------------
# Archive listing
# ---------------------------------------------------------------------------------------------

DEFAULT_PATTERN = "{camera_id}/{date}/{name}.mp4"
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REQUIRED_FIELDS = ("camera_id", "date")


def video_id_for(uri: str) -> str:
    """A short id for the video at `uri`: the first 16 hex digits of sha1(uri).

    Stable across reruns, processes and machines as long as the object keeps
    its URI (the same bucket and key); it does not depend on the content, so a
    re-uploaded object keeps its id and its rows are replaced, not duplicated.
    """
    return hashlib.sha1(uri.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ArchiveObject:
    """One source video in the archive.

    `etag` changes whenever the content changes: the S3 ETag (quotes
    stripped), or for local files "<mtime_ns hex>-<size hex>". `start_time` is
    naive local camera time, or None when the key does not carry a time.
    `fields` holds the other pattern fields, as sorted (name, value) pairs.
    """

    uri: str
    size: int
    etag: str
    camera_id: str
    date: str
    start_time: datetime | None = None
    fields: tuple[tuple[str, str], ...] = ()
    video_id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "video_id", video_id_for(self.uri))


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    """A regex with one named group per `{field}`; a field matches one path segment or part of one."""
    names: list[str] = []
    regex: list[str] = []
    pos = 0
    for m in _FIELD.finditer(pattern):
        literal = pattern[pos : m.start()]
        if "{" in literal or "}" in literal:
            raise ValueError(f"archive pattern {pattern!r}: bad brace in {literal!r}")
        name = m.group(1)
        if name in names:
            raise ValueError(f"archive pattern {pattern!r}: field {{{name}}} appears twice")
        names.append(name)
        regex += [re.escape(literal), f"(?P<{name}>[^/]+)"]
        pos = m.end()
    tail = pattern[pos:]
    if "{" in tail or "}" in tail:
        raise ValueError(f"archive pattern {pattern!r}: bad brace in {tail!r}")
    regex.append(re.escape(tail))
    missing = [n for n in _REQUIRED_FIELDS if n not in names]
    if missing:
        raise ValueError(f"archive pattern {pattern!r}: needs field(s) {['{' + n + '}' for n in missing]}")
    return re.compile("".join(regex))


def _parse_date(value: str) -> str | None:
    """`value` if it is a real YYYY-MM-DD date, else None."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        return None
    return value


def _parse_hhmmss(value: str) -> tuple[int, int, int] | None:
    if not re.fullmatch(r"\d{6}", value):
        return None
    h, m, s = int(value[:2]), int(value[2:4]), int(value[4:])
    return (h, m, s) if h < 24 and m < 60 and s < 60 else None


def _as_iso_date(value: str | date) -> str:
    """A date argument as YYYY-MM-DD; a ValueError for anything else."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or _parse_date(value) is None:
        raise ValueError(f"date {value!r} is not YYYY-MM-DD")
    return value


def _date_filter(dates: Any) -> Callable[[str], bool]:
    """None: every date; a tuple (start, end): that inclusive range; any other iterable: those dates."""
    if dates is None:
        return lambda d: True
    if isinstance(dates, str | date):
        dates = [dates]
    if isinstance(dates, tuple):
        if len(dates) != 2:
            raise ValueError(f"a date range is (start, end), got {dates!r}")
        start, end = (_as_iso_date(d) for d in dates)
        # ISO dates compare correctly as strings.
        return lambda d: start <= d <= end
    wanted = {_as_iso_date(d) for d in dates}
    return lambda d: d in wanted


def _version_tag(fs: fsspec.AbstractFileSystem, path: str, info: dict) -> str:
    """What changes when the object's content changes: ETag on object stores, mtime+size on disk."""
    if _is_local(fs):
        st = os.stat(path)
        return f"{st.st_mtime_ns:x}-{st.st_size:x}"
    tag = info.get("ETag") or info.get("etag") or info.get("VersionId") or info.get("generation")
    if tag:
        return str(tag).strip('"')
    # A backend with neither: fall back to what local files use.
    mtime = info.get("LastModified") or info.get("mtime") or info.get("updated") or ""
    return f"{mtime}-{info.get('size', 0)}"


def _object_from_key(key: str, uri: str, size: int, etag: str, match: re.Match[str]) -> ArchiveObject | None:
    """An ArchiveObject for a key that matched the pattern, or None (with a warning) when its date/time is bad."""
    values = match.groupdict()
    day = _parse_date(values["date"])
    if day is None:
        logger.warning("skipping %s: date %r in key %r is not a valid YYYY-MM-DD", uri, values["date"], key)
        return None
    hms = None
    if "time" in values:
        hms = _parse_hhmmss(values["time"])
        if hms is None:
            logger.warning("skipping %s: time %r in key %r is not a valid HHMMSS", uri, values["time"], key)
            return None
    elif "name" in values:
        hms = _parse_hhmmss(values["name"])  # a name that is not HHMMSS just means "no start time"
    start = datetime.fromisoformat(day).replace(hour=hms[0], minute=hms[1], second=hms[2]) if hms else None
    extra = tuple(sorted((k, v) for k, v in values.items() if k not in ("camera_id", "date")))
    return ArchiveObject(uri, size, etag, values["camera_id"], day, start, extra)


def _find(fs: fsspec.AbstractFileSystem, path: str, url: str, action: str) -> dict[str, dict]:
    """Every file under `path` with its details, in one recursive listing."""
    with _mapped(url, action):
        fs.invalidate_cache(path)
        return fs.find(path, detail=True)


def list_archive(
    url: str,
    pattern: str = DEFAULT_PATTERN,
    storage_options: dict | None = None,
    dates: Sequence[str | date] | tuple[str | date, str | date] | None = None,
    cameras: Iterable[str] | None = None,
) -> list[ArchiveObject]:
    """The videos under archive root `url` whose key (relative to `url`) matches `pattern`.

    `pattern` names fields in braces; `{camera_id}` and `{date}` (YYYY-MM-DD)
    are required, `{time}` (HHMMSS) or a 6-digit `{name}` gives the start
    time, other fields are kept in `ArchiveObject.fields`. Keys that do not
    match are ignored; keys with an invalid date or time are skipped with a
    warning. `dates` is a list of dates or an inclusive (start, end) tuple;
    `cameras` a list of camera ids. Sorted by (date, camera_id, uri).

    Raises StorageError naming `url` when the archive root does not exist.
    """
    regex = _compile_pattern(pattern)
    keep_date = _date_filter(dates)
    keep_camera = (lambda c: True) if cameras is None else set(cameras).__contains__
    fs, root = filesystem(url, storage_options)
    root = root.rstrip("/")
    found = _find(fs, root, url, "list archive")
    if not found:
        with _mapped(url, "list archive"):
            if not fs.exists(root):
                raise StorageError(url, "archive root does not exist (no such bucket, prefix or folder)")
    objects = []
    for path, info in found.items():
        if info.get("type", "file") != "file" or not path.startswith(root + "/"):
            continue
        key = path[len(root) + 1 :]
        match = regex.fullmatch(key)
        if match is None:
            continue
        if not keep_camera(match["camera_id"]) or not keep_date(match["date"]):
            # Filter before parsing so out-of-range keys cost nothing and warn about nothing.
            continue
        obj = _object_from_key(
            key, _url(fs, path), int(info.get("size") or 0), _version_tag(fs, path, info), match
        )
        if obj is not None:
            objects.append(obj)
    return sorted(objects, key=lambda o: (o.date, o.camera_id, o.uri))


# ---------------------------------------------------------------------------------------------
# Manifest of processed objects
# ---------------------------------------------------------------------------------------------

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
            with _mapped(url, "read manifest"):
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


# ---------------------------------------------------------------------------------------------
# Atomic run commits
# ---------------------------------------------------------------------------------------------

STAGING_DIR = "_staging"
RUNS_DIR = "_runs"
RUN_FORMAT = "va-gpt-run"
RUN_VERSION = 1
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_run_id(run_id: str) -> None:
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run_id {run_id!r} must match {_RUN_ID.pattern} (it becomes part of object keys)")


def _check_table(table: str) -> None:
    if not _TABLE.fullmatch(table) or table in (STAGING_DIR, RUNS_DIR):
        raise ValueError(f"table name {table!r} must match {_TABLE.pattern}")


def partition_path(table: str, date: str | date, camera_id: str) -> str:
    """`{table}/date=YYYY-MM-DD/camera_id=X`, the hive partition of one camera-day, relative to the results root."""
    _check_table(table)
    day = _as_iso_date(date)
    if not camera_id or "/" in camera_id or "=" in camera_id:
        raise ValueError(f"camera_id {camera_id!r} cannot be a hive partition value")
    return f"{table}/date={day}/camera_id={camera_id}"


def staging_url(results_url: str, run_id: str) -> str:
    """`{results}/_staging/{run_id}`: where a run writes before it publishes."""
    _check_run_id(run_id)
    return join(results_url, STAGING_DIR, run_id)


def part_url(
    results_url: str, table: str, date: str | date, camera_id: str, run_id: str, n: int, staged: bool = False
) -> str:
    """The URL of Parquet part `n` of `run_id` in one partition.

    Final: `{results}/{table}/date=D/camera_id=C/part-{run_id}-{n}.parquet`;
    staged=True: the same relative path under `{results}/_staging/{run_id}/`,
    which is where a run writes it before `publish`.
    """
    _check_run_id(run_id)
    rel = f"{partition_path(table, date, camera_id)}/part-{run_id}-{n}.parquet"
    return join(staging_url(results_url, run_id) if staged else results_url, rel)


@dataclass(frozen=True)
class RunCommit:
    """The commit record of one run: the content of `{results}/_runs/{run_id}.json`.

    Paths are relative to the results root, so a results tree can be copied
    elsewhere and stay readable. `superseded_files` are the earlier runs'
    files that `supersedes` resolved to when this run was published.
    """

    run_id: str
    committed_at: str  # UTC ISO-8601
    files: dict[str, list[str]]  # table -> relative paths
    supersedes: list[str] = field(default_factory=list)
    superseded_files: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def all_files(self) -> list[str]:
        return [rel for rels in self.files.values() for rel in rels]

    def to_json(self) -> bytes:
        doc = {"format": RUN_FORMAT, "format_version": RUN_VERSION, **vars(self)}
        return json.dumps(doc, indent=1, sort_keys=True, default=str).encode("utf-8")

    @classmethod
    def from_json(cls, url: str, raw: bytes) -> RunCommit:
        try:
            doc = json.loads(raw)
            if doc.get("format") != RUN_FORMAT or doc.get("format_version") != RUN_VERSION:
                raise ValueError(f"not a {RUN_FORMAT} v{RUN_VERSION} document")
            return cls(
                run_id=doc["run_id"],
                committed_at=doc["committed_at"],
                files={t: list(v) for t, v in doc["files"].items()},
                supersedes=list(doc["supersedes"]),
                superseded_files=list(doc["superseded_files"]),
                meta=dict(doc["meta"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StorageError(url, f"corrupt run marker: {exc}") from exc


def _is_superseded(rel: str, specs: Iterable[str]) -> bool:
    """Whether the committed file `rel` (`table/...`) falls under one of the supersede `specs`.

    A spec starting with a partition (`date=D/camera_id=C`) applies to every
    table; one starting with a table name (`videos/date=D`, or a file path)
    only to that table. A spec covers itself and everything below it.
    """
    _, _, in_table = rel.partition("/")
    for spec in specs:
        target = in_table if "=" in spec.split("/", 1)[0] else rel
        if target == spec or target.startswith(spec + "/"):
            return True
    return False


def _normalise_spec(spec: str) -> str:
    spec = spec.strip("/")
    if not spec or ".." in spec.split("/"):
        raise ValueError(
            f"bad supersede spec {spec!r}: want `date=D/camera_id=C`, `table/date=D/...` or a file path"
        )
    return spec


def _load_runs(fs: fsspec.AbstractFileSystem, root: str) -> list[RunCommit]:
    """Every committed run under results root `root`, oldest first."""
    runs_dir = f"{root}/{RUNS_DIR}"
    runs_url = _url(fs, runs_dir)
    listing = _find(fs, runs_dir, runs_url, "list run markers")
    markers = sorted(
        p for p, info in listing.items() if p.endswith(".json") and info.get("type", "file") == "file"
    )
    if not markers:
        return []
    with _mapped(runs_url, "read run markers"):
        raw = fs.cat(markers)  # one concurrent batch on object stores, not one round trip per run
    runs = []
    for path in markers:
        run = RunCommit.from_json(_url(fs, path), raw[path])
        if f"{run.run_id}.json" != os.path.basename(path):
            raise StorageError(_url(fs, path), f"corrupt run marker: names run {run.run_id!r}")
        runs.append(run)
    return sorted(runs, key=lambda r: (r.committed_at, r.run_id))


def committed_runs(results_url: str, storage_options: dict | None = None) -> list[RunCommit]:
    """The commit records under `results_url`, oldest first."""
    fs, root = filesystem(results_url, storage_options)
    return _load_runs(fs, root.rstrip("/"))


def _visible(runs: list[RunCommit]) -> dict[str, str]:
    """relative path -> run_id for every committed file that no later commit superseded."""
    hidden = {rel for run in runs for rel in run.superseded_files}
    return {rel: run.run_id for run in runs for rel in run.all_files() if rel not in hidden}


def committed_files(results_url: str, table: str, storage_options: dict | None = None) -> list[str]:
    """Full URLs of the Parquet files of `table` that committed, not superseded runs published. Sorted.

    Only files named by run markers count: files of a run that died before
    its marker, or leftovers in `_staging`, are never returned.
    """
    _check_table(table)
    fs, root = filesystem(results_url, storage_options)
    root = root.rstrip("/")
    visible = _visible(_load_runs(fs, root))
    return sorted(_url(fs, f"{root}/{rel}") for rel in visible if rel.split("/", 1)[0] == table)


def _staged_relpath(fs: fsspec.AbstractFileSystem, staging_root: str, table: str, entry: str) -> str:
    """The path of staged file `entry` relative to the run's staging folder; it must start with `{table}/`."""
    if "://" in entry or entry.startswith("/"):
        path = fs._strip_protocol(entry)
        if not path.startswith(staging_root + "/"):
            raise ValueError(
                f"staged file {entry!r} is not under the run's staging folder {_url(fs, staging_root)}"
            )
        rel = path[len(staging_root) + 1 :]
    else:
        rel = entry.strip("/")
    if not rel.startswith(table + "/") or ".." in rel.split("/"):
        raise ValueError(
            f"staged file {entry!r} of table {table!r} must lie under {table}/ in the staging folder"
        )
    return rel


def publish(
    results_url: str,
    run_id: str,
    table_files: dict[str, list[str]],
    meta: dict | None = None,
    supersedes: Iterable[str] = (),
    storage_options: dict | None = None,
) -> RunCommit:
    """Commit run `run_id`: copy its staged files to their final place, then write its marker.

    `table_files` maps a table name to that table's staged files, as URLs
    under `staging_url(results_url, run_id)` or paths relative to it (e.g.
    `videos/date=2026-11-21/camera_id=cam01/part-R-0.parquet`, see
    `part_url(..., staged=True)`); each lands at the same relative path
    under `results_url`. `meta` (JSON-serialisable) is stored in the marker.

    `supersedes` hides files of earlier commits from `committed_files`:
    `date=D/camera_id=C` (that partition in every table), `table/date=D/...`
    (one table) or a file path. Supersede a partition only when this run
    rewrote all of it; for a few changed videos, let the readers pick the
    latest run per video instead.

    The marker is written last and in one PUT: until it exists nothing of the
    run is visible, so publish can be re-run after a crash. Not safe for two
    concurrent publishers of the same partition (the nightly driver is one).
    """
    _check_run_id(run_id)
    specs = [_normalise_spec(s) for s in supersedes]
    fs, root = filesystem(results_url, storage_options)
    root = root.rstrip("/")
    staging_root = f"{root}/{STAGING_DIR}/{run_id}"
    marker = f"{root}/{RUNS_DIR}/{run_id}.json"
    if exists(_url(fs, marker), storage_options):
        raise StorageError(_url(fs, marker), f"run {run_id!r} is already committed")

    rels = _plan(fs, staging_root, table_files)
    runs = _load_runs(fs, root)
    _check_no_overwrite(fs, root, rels, runs)
    _copy_staged(fs, staging_root, root, [rel for table_rels in rels.values() for rel in table_rels])

    own = {rel for table_rels in rels.values() for rel in table_rels}
    superseded = sorted({rel for rel in _visible(runs) if rel not in own and _is_superseded(rel, specs)})
    commit = RunCommit(run_id, datetime.now(UTC).isoformat(), rels, specs, superseded, dict(meta or {}))
    with _mapped(_url(fs, marker), "write run marker"):
        retry(lambda: _write_atomic(fs, marker, commit.to_json()))
    _remove_quietly(fs, staging_root)
    return commit


def _plan(
    fs: fsspec.AbstractFileSystem, staging_root: str, table_files: dict[str, list[str]]
) -> dict[str, list[str]]:
    """table -> sorted relative paths, after checking every staged file exists (one listing)."""
    staged = _find(fs, staging_root, _url(fs, staging_root), "list staged files")
    rels: dict[str, list[str]] = {}
    for table, entries in sorted(table_files.items()):
        _check_table(table)
        rels[table] = sorted({_staged_relpath(fs, staging_root, table, e) for e in entries})
        for rel in rels[table]:
            if f"{staging_root}/{rel}" not in staged:
                raise StorageError(
                    _url(fs, f"{staging_root}/{rel}"), "staged file not found; nothing was published"
                )
    return rels


def _check_no_overwrite(
    fs: fsspec.AbstractFileSystem, root: str, rels: dict[str, list[str]], runs: list[RunCommit]
) -> None:
    """Refuse to copy over a file another committed run already published (it would change its data)."""
    owners = {rel: run.run_id for run in runs for rel in run.all_files()}
    for table_rels in rels.values():
        for rel in table_rels:
            if rel in owners:
                raise StorageError(_url(fs, f"{root}/{rel}"), f"already published by run {owners[rel]!r}")


def _copy_staged(fs: fsspec.AbstractFileSystem, staging_root: str, root: str, rels: list[str]) -> None:
    """Copy staged files to their final paths (server-side on S3, concurrently)."""
    if not rels:
        return
    sources = [f"{staging_root}/{rel}" for rel in rels]
    targets = [f"{root}/{rel}" for rel in rels]
    if _is_local(fs):
        for parent in sorted({os.path.dirname(t) for t in targets}):
            os.makedirs(parent, exist_ok=True)
    # Copies are idempotent (same source, same target), so retrying the whole batch is safe.
    with _mapped(_url(fs, staging_root), "copy staged files to their final place"):
        retry(lambda: fs.copy(sources, targets))


def _remove_quietly(fs: fsspec.AbstractFileSystem, path: str) -> None:
    """Best-effort recursive delete: the run is already committed, a leftover is only clutter."""
    try:
        if fs.exists(path):
            fs.rm(path, recursive=True)
    except Exception as exc:  # never fail a committed run over cleanup
        logger.warning("could not remove %s (cleanup_staging will retry): %s", _url(fs, path), exc)


def _mtime(info: dict) -> float | None:
    """Modification time in epoch seconds from an fsspec info dict (S3 LastModified or local mtime)."""
    value = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


def cleanup_staging(
    results_url: str,
    older_than: timedelta,
    storage_options: dict | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Delete staging folders of committed runs and of runs abandoned for longer than `older_than`.

    For an abandoned (never committed) run, the copies it may already have
    made in the final layout are deleted too: they sit at the same relative
    paths as its staged files and no marker refers to them. Pick `older_than`
    well above the longest run, or a live run loses its staged files.
    Returns the run ids whose staging folders were removed, sorted.
    """
    fs, root = filesystem(results_url, storage_options)
    root = root.rstrip("/")
    staging = f"{root}/{STAGING_DIR}"
    cutoff = (now or datetime.now(UTC)).timestamp() - older_than.total_seconds()
    with _mapped(_url(fs, staging), "list staging"):
        fs.invalidate_cache(staging)
        listing = fs.find(staging, detail=True, withdirs=True)

    by_run: dict[str, dict[str, dict]] = {}
    for path, info in listing.items():
        if path.startswith(staging + "/"):
            run_id, _, rel = path[len(staging) + 1 :].partition("/")
            by_run.setdefault(run_id, {})[rel] = info

    runs = _load_runs(fs, root)
    committed = {run.run_id for run in runs}
    referenced = {rel for run in runs for rel in run.all_files()}
    removed = []
    for run_id, entries in sorted(by_run.items()):
        times = [t for t in map(_mtime, entries.values()) if t is not None]
        abandoned = run_id not in committed and (not times or max(times) < cutoff)
        if run_id not in committed and not abandoned:
            continue
        if abandoned:
            partial = [
                f"{root}/{rel}"
                for rel, info in entries.items()
                if rel and info.get("type") == "file" and rel not in referenced
            ]
            with _mapped(_url(fs, staging), f"remove partial copies of abandoned run {run_id}"):
                for path in partial:
                    if fs.exists(path):
                        fs.rm_file(path)
        with _mapped(_url(fs, f"{staging}/{run_id}"), "remove staging folder"):
            fs.rm(f"{staging}/{run_id}", recursive=True)
        removed.append(run_id)
    return removed

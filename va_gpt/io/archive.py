"""Archive listing: an archive tree such as `{camera_id}/{date}/{name}.mp4` as sorted `ArchiveObject`s."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import fsspec

from va_gpt.io.errors import StorageError, mapped_errors
from va_gpt.io.filesystem import filesystem, find_files, is_local, url_of

logger = logging.getLogger(__name__)

DEFAULT_PATTERN = "{camera_id}/{date}/{name}.mp4"
_BRACES = re.compile(r"\{([^{}]*)\}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALTERNATIVES = re.compile(r"[A-Za-z0-9]+(?:\|[A-Za-z0-9]+)+")
_REQUIRED_FIELDS = ("camera_id", "date")
# Listing prefixes to narrow a listing to (more: list the whole archive instead).
MAX_PREFIXES = 5000
_KNOWN = ("camera_id", "date")
# What `{ext}` accepts (any case): the containers the decoder reads.
VIDEO_EXTENSIONS = ("mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts", "flv", "mpg", "mpeg")


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
    """A regex with one named group per `{field}`; a field matches one path segment or part of one.

    `{ext}` is the file extension, one of VIDEO_EXTENSIONS; `{mp4|mov|mkv}` is one of the listed
    words without a field. Both, and the literal text of the last path segment from its first
    dot on (the `.mp4` of `{name}.mp4`), match in any case: `.MP4` is an mp4.
    """
    names: list[str] = []
    regex: list[str] = []
    pos = 0
    last_segment = pattern.rfind("/") + 1
    for m in _BRACES.finditer(pattern):
        regex.append(_literal(pattern, pattern[pos : m.start()], pos, last_segment))
        body = m.group(1)
        if body == "ext":
            names.append(body)
            regex.append(f"(?P<ext>(?i:{'|'.join(VIDEO_EXTENSIONS)}))")
        elif _IDENT.fullmatch(body):
            if body in names:
                raise ValueError(f"archive pattern {pattern!r}: field {{{body}}} appears twice")
            names.append(body)
            regex.append(f"(?P<{body}>[^/]+)")
        elif _ALTERNATIVES.fullmatch(body):
            regex.append(f"(?i:{'|'.join(re.escape(w) for w in body.split('|'))})")
        else:
            raise ValueError(
                f"archive pattern {pattern!r}: bad brace {{{body}}}: neither a field name nor alternatives like {{mp4|mov}}"
            )
        pos = m.end()
    regex.append(_literal(pattern, pattern[pos:], pos, last_segment))
    missing = [n for n in _REQUIRED_FIELDS if n not in names]
    if missing:
        raise ValueError(f"archive pattern {pattern!r}: needs field(s) {['{' + n + '}' for n in missing]}")
    return re.compile("".join(regex))


def _literal(pattern: str, text: str, start: int, last_segment: int) -> str:
    """Regex for literal pattern text at `start`; from the last segment's first dot on, any case."""
    if "{" in text or "}" in text:
        raise ValueError(f"archive pattern {pattern!r}: bad brace in {text!r}")
    dot = pattern.find(".", last_segment)
    if dot < 0 or start + len(text) <= dot:
        return re.escape(text)
    cut = max(0, dot - start)
    return re.escape(text[:cut]) + (f"(?i:{re.escape(text[cut:])})" if text[cut:] else "")


def _why_no_match(key: str, pattern: str) -> str:
    """Why `key` does not fit `pattern`, in words."""
    want, got = pattern.count("/") + 1, key.count("/") + 1
    if got != want:
        return f"has {got} path segment(s), the pattern {pattern!r} has {want}"
    name = key.rsplit("/", 1)[-1]
    if "{ext}" in pattern and name.rpartition(".")[2].lower() not in VIDEO_EXTENSIONS:
        return f"extension {name[name.rfind('.') :] if '.' in name else 'none'!r} is not a video extension {{ext}} accepts"
    tail = pattern.rsplit("/", 1)[-1]
    ext = tail[tail.rfind(".") :] if "." in tail else ""
    name = key.rsplit("/", 1)[-1]
    if ext and "{" not in ext and not name.lower().endswith(ext.lower()):
        got_ext = name[name.rfind(".") :] if "." in name else "no extension"
        return f"extension {got_ext!r} is not the pattern's {ext!r} (use {{ext}} in --pattern for any video)"
    return f"does not match the pattern {pattern!r}"


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


def as_iso_date(value: str | date) -> str:
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
        start, end = (as_iso_date(d) for d in dates)
        # ISO dates compare correctly as strings.
        return lambda d: start <= d <= end
    wanted = {as_iso_date(d) for d in dates}
    return lambda d: d in wanted


def _version_tag(fs: fsspec.AbstractFileSystem, path: str, info: dict) -> str:
    """What changes when the object's content changes: ETag on object stores, mtime+size on disk."""
    if is_local(fs):
        st = os.stat(path)
        return f"{st.st_mtime_ns:x}-{st.st_size:x}"
    tag = info.get("ETag") or info.get("etag") or info.get("VersionId") or info.get("generation")
    if tag:
        return str(tag).strip('"')
    # A backend with neither: fall back to what local files use.
    mtime = info.get("LastModified") or info.get("mtime") or info.get("updated") or ""
    return f"{mtime}-{info.get('size', 0)}"


def _object_from_key(key: str, uri: str, size: int, etag: str, match: re.Match[str]) -> ArchiveObject | str:
    """An ArchiveObject for a key that matched the pattern, or why it is skipped (a bad date/time)."""
    values = match.groupdict()
    day = _parse_date(values["date"])
    if day is None:
        return f"date {values['date']!r} is not a valid YYYY-MM-DD"
    hms = None
    if "time" in values:
        hms = _parse_hhmmss(values["time"])
        if hms is None:
            return f"time {values['time']!r} is not a valid HHMMSS"
    elif "name" in values:
        hms = _parse_hhmmss(values["name"])  # a name that is not HHMMSS just means "no start time"
    start = datetime.fromisoformat(day).replace(hour=hms[0], minute=hms[1], second=hms[2]) if hms else None
    extra = tuple(sorted((k, v) for k, v in values.items() if k not in ("camera_id", "date")))
    return ArchiveObject(uri, size, etag, values["camera_id"], day, start, extra)


@dataclass(frozen=True)
class Skipped:
    """A listed object that is not processed, and why (it does not fit the pattern, a bad date...)."""

    key: str  # relative to the archive root
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "reason": self.reason}


@dataclass(frozen=True)
class Listing:
    objects: list[ArchiveObject]
    skipped: list[Skipped]


def list_archive(
    url: str,
    pattern: str = DEFAULT_PATTERN,
    storage_options: dict | None = None,
    dates: Sequence[str | date] | tuple[str | date, str | date] | None = None,
    cameras: Iterable[str] | None = None,
) -> list[ArchiveObject]:
    """The videos under archive root `url` whose key (relative to `url`) matches `pattern`.

    `scan_archive(...).objects`; see there. The skipped keys are logged as warnings.
    """
    listing = scan_archive(url, pattern, storage_options, dates, cameras)
    for s in listing.skipped:
        logger.warning("skipping %s/%s: %s", url.rstrip("/"), s.key, s.reason)
    return listing.objects


def scan_archive(
    url: str,
    pattern: str = DEFAULT_PATTERN,
    storage_options: dict | None = None,
    dates: Sequence[str | date] | tuple[str | date, str | date] | None = None,
    cameras: Iterable[str] | None = None,
) -> Listing:
    """The videos under archive root `url` whose key matches `pattern`, and every other listed object.

    `pattern` names fields in braces; `{camera_id}` and `{date}` (YYYY-MM-DD)
    are required, `{time}` (HHMMSS) or a 6-digit `{name}` gives the start
    time, `{ext}` any video extension, `{mp4|mov}` one of those words; other
    fields are kept in `ArchiveObject.fields`. Extensions match in any case.
    A key that does not match, or has an invalid date or time, is a `Skipped`
    with the reason: nothing listed disappears silently. Keys outside `dates`
    (a list, or an inclusive (start, end) tuple) or `cameras` are not wanted
    tonight, so they are neither objects nor skipped. Objects sorted by
    (date, camera_id, uri), skipped by key.

    With `dates` or `cameras` given, only their prefixes are listed when the
    pattern's folders allow it (`{camera_id}/{date}/...` with dates: one
    listing of the camera folders, then `{camera}/{date}/` each); keys under
    other prefixes are never listed, so never skipped either. Files met on the
    way (a README.md beside the camera folders) are skipped as before.

    Raises StorageError naming `url` when the archive root does not exist.
    """
    regex = _compile_pattern(pattern)
    keep_date = _date_filter(dates)
    keep_camera = (lambda c: True) if cameras is None else set(cameras).__contains__
    fs, root = filesystem(url, storage_options)
    root = root.rstrip("/")
    skipped: list[Skipped] = []
    prefixes = _narrowed_prefixes(fs, root, url, pattern, cameras, dates, skipped)
    if prefixes is None:
        found = find_files(fs, root, url, "list archive")
    else:
        found = {}
        for prefix in prefixes:
            found.update(_find_under(fs, f"{root}/{prefix}".rstrip("/"), url))
    if not found and not skipped:
        with mapped_errors(url, "list archive"):
            if not fs.exists(root):
                raise StorageError(url, "archive root does not exist (no such bucket, prefix or folder)")
    objects: list[ArchiveObject] = []
    for path, info in found.items():
        if info.get("type", "file") != "file" or not path.startswith(root + "/"):
            continue
        key = path[len(root) + 1 :]
        match = regex.fullmatch(key)
        if match is None:
            skipped.append(Skipped(key, _why_no_match(key, pattern)))
            continue
        if not keep_camera(match["camera_id"]) or not keep_date(match["date"]):
            # Filter before parsing so out-of-range keys cost nothing and warn about nothing.
            continue
        obj = _object_from_key(
            key, url_of(fs, path), int(info.get("size") or 0), _version_tag(fs, path, info), match
        )
        if isinstance(obj, str):
            skipped.append(Skipped(key, obj))
        else:
            objects.append(obj)
    return Listing(
        sorted(objects, key=lambda o: (o.date, o.camera_id, o.uri)), sorted(skipped, key=lambda s: s.key)
    )


def _find_under(fs: fsspec.AbstractFileSystem, path: str, url: str) -> dict[str, dict]:
    """`find_files` under one prefix; a prefix that does not exist holds nothing."""
    try:
        return find_files(fs, path, url, "list archive")
    except StorageError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return {}
        raise


def _wanted_dates(dates: Any) -> list[str] | None:
    """The dates `dates` names (None: every date, or a range too long to enumerate)."""
    if dates is None:
        return None
    if isinstance(dates, str | date):
        dates = [dates]
    if isinstance(dates, tuple) and len(dates) == 2:
        start, end = (date.fromisoformat(as_iso_date(d)) for d in dates)
        days = (end - start).days + 1
        return (
            [(start + timedelta(n)).isoformat() for n in range(max(0, days))]
            if days <= MAX_PREFIXES
            else None
        )
    return sorted({as_iso_date(d) for d in dates})


def _narrowed_prefixes(
    fs: fsspec.AbstractFileSystem,
    root: str,
    url: str,
    pattern: str,
    cameras: Iterable[str] | None,
    dates: Any,
    skipped: list[Skipped],
) -> list[str] | None:
    """Folders (relative to `root`, each ending in "/") that hold every wanted key, or None: list it all.

    The pattern's folder segments are filled in from the front: literal text as is,
    `{camera_id}`/`{date}` (and segments such as `cam-{camera_id}`) from `cameras`/`dates`,
    any other segment from a listing of the folders at that level (files met there
    cannot match the pattern: they are added to `skipped`). Stops after the last
    segment a wanted value fills; None when none does or the prefixes would be too many.
    """
    known: dict[str, list[str]] = {}
    if cameras is not None:
        known["camera_id"] = sorted(set(cameras))
    wanted = _wanted_dates(dates)
    if wanted is not None:
        known["date"] = wanted
    if any("/" in v or not v for vs in known.values() for v in vs):
        return None
    segments = pattern.split("/")[:-1]
    used = [
        i for i, seg in enumerate(segments) if (names := _BRACES.findall(seg)) and set(names) <= set(known)
    ]
    if not used:
        return None
    prefixes = [""]
    for seg in segments[: used[-1] + 1]:
        names = _BRACES.findall(seg)
        if not names:
            prefixes = [p + seg + "/" for p in prefixes]
        elif set(names) <= set(known):
            fills = [seg]
            for name in dict.fromkeys(names):
                fills = [f.replace("{" + name + "}", v) for f in fills for v in known[name]]
            prefixes = [p + f + "/" for p in prefixes for f in fills]
        else:
            prefixes = [p + d + "/" for p in prefixes for d in _folders(fs, root, p, url, pattern, skipped)]
        if len(prefixes) > MAX_PREFIXES:
            return None
    return prefixes


def _folders(
    fs: fsspec.AbstractFileSystem, root: str, prefix: str, url: str, pattern: str, skipped: list[Skipped]
) -> list[str]:
    """Names of the folders directly under `root/prefix`; files there go to `skipped` (too shallow)."""
    path = f"{root}/{prefix}".rstrip("/")
    with mapped_errors(url, "list archive"):
        fs.invalidate_cache(path)
        try:
            entries = fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
    out = []
    for e in entries:
        name = e["name"].rstrip("/").rsplit("/", 1)[-1]
        if e.get("type") == "directory":
            out.append(name)
        elif e["name"].startswith(root + "/"):
            key = e["name"][len(root) + 1 :]
            skipped.append(Skipped(key, _why_no_match(key, pattern)))
    return sorted(out)

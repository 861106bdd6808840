"""fsspec URLs and single-object I/O: one code path for S3, local disks and any other fsspec backend.

Every function takes a URL (`s3://bucket/prefix`, `file:///dir`, or a plain
local path) and `storage_options`, the fsspec keyword arguments for that URL
(for the embedded store: `Endpoint.storage_options()`). Errors are
StorageErrors naming the URL (va_gpt.io.errors).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from va_gpt.io.errors import StorageError, mapped_errors


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


def url_of(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """The full URL (with scheme) of `path` in `fs`: what ends up in manifests and query lists."""
    return fs.unstrip_protocol(path)


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


@contextmanager
def open_read(url: str, storage_options: dict | None = None, **open_kwargs: Any) -> Iterator[IO[bytes]]:
    """Open `url` for binary reading (a seekable file object, e.g. for PyAV or pyarrow).

    Errors from opening are StorageErrors naming the URL; errors raised by the
    caller's own code inside the `with` block pass through untouched.
    """
    fs, path = filesystem(url, storage_options)
    with mapped_errors(url, "open for reading"):
        f = fs.open(path, "rb", **open_kwargs)
    try:
        yield f
    finally:
        f.close()


def read_bytes(url: str, storage_options: dict | None = None) -> bytes:
    """The whole content of `url`."""
    fs, path = filesystem(url, storage_options)
    with mapped_errors(url, "read"):
        return fs.cat_file(path)


def exists(url: str, storage_options: dict | None = None) -> bool:
    fs, path = filesystem(url, storage_options)
    with mapped_errors(url, "check existence"):
        fs.invalidate_cache(path)  # fsspec caches listings per filesystem instance; we want the truth now
        return fs.exists(path)


def write_atomic(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Replace `path` with `data` so a reader sees the old or the new content, never a part.

    Local disk: a temp file in the same folder, then os.replace (atomic on
    POSIX). Object stores: one PUT, which S3 makes visible all at once.
    """
    if is_local(fs):
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
    """Write `data` to `url` atomically (see `write_atomic`)."""
    fs, path = filesystem(url, storage_options)
    with mapped_errors(url, "write"):
        write_atomic(fs, path, data)


def find_files(fs: fsspec.AbstractFileSystem, path: str, url: str, action: str) -> dict[str, dict]:
    """Every file under `path` with its details, in one recursive listing."""
    with mapped_errors(url, action):
        fs.invalidate_cache(path)
        return fs.find(path, detail=True)

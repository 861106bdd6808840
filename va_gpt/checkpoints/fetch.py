"""Folders at any fsspec URL, made local: the checkpoint cache and model sources.

`fetch_folder` copies a remote folder into the local cache once (keyed by URL
and the objects' etags/sizes); `local_model_dir` turns a model `source`
(folder, file:// or s3:// URL, hub id) into what `from_pretrained` takes, and
`from_pretrained_clear` turns its failures into one clear `CheckpointError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from va_gpt.io.filesystem import filesystem

# A relative model path that is no folder under the working directory is looked up under
# $VAGPT_HOME (the container image sets it), then the repository root, where the committed
# models/ live: the demo preset's trained encoder is `models/demo/vagpt/encoder` whatever
# directory a job or a Ray worker runs in.
REPO_ROOT = Path(__file__).resolve().parents[2]


def model_roots() -> list[Path]:
    """Where relative model paths are looked up after the working directory."""
    home = os.environ.get("VAGPT_HOME")
    return ([Path(home)] if home else []) + [REPO_ROOT]


def model_path(source: str) -> Path | None:
    """The absolute folder a local model `source` names (None for other protocols' URLs): a
    relative path under the first of the working directory and model_roots() that holds it,
    else under the repository root (where `make models` writes it)."""
    local = local_path(source)
    if local is None:
        return None
    p = Path(local)
    if p.is_absolute():
        return p
    for root in [Path.cwd(), *model_roots()]:
        if (root / p).is_dir():
            return (root / p).resolve()
    return (REPO_ROOT / p).resolve()


class CheckpointError(ValueError):
    """A checkpoint or model folder that cannot be read as one."""


def cache_root() -> Path:
    """Where remote folders are fetched to: $VAGPT_CACHE_DIR or ~/.cache/va_gpt."""
    return Path(os.environ.get("VAGPT_CACHE_DIR") or Path.home() / ".cache" / "va_gpt")


def is_url(s: str) -> bool:
    return "://" in s


def local_path(url: str) -> str | None:
    """The local path of a plain path or file:// URL; None for other protocols."""
    if not is_url(url):
        return os.path.expanduser(url)
    if url.startswith("file://"):
        return url[len("file://") :]
    return None


def fetch_folder(url: str, storage_options: dict | None = None) -> str:
    """Copy the folder at fsspec `url` into the local cache once; return the local path.

    The cache key is the URL plus every object's relative path, etag (or mtime)
    and size, so a changed object fetches a fresh copy and an unchanged one is reused.
    """
    local = local_path(url)
    if local is not None:
        if not os.path.isdir(local):
            raise CheckpointError(f"{url}: no such folder")
        return local
    fs, root = filesystem(url, storage_options)
    root = root.rstrip("/")
    try:
        entries = fs.find(root, detail=True)
    except Exception as e:  # noqa: BLE001 - any backend error becomes one clear message
        raise CheckpointError(f"{url}: cannot list the folder ({type(e).__name__}: {e})") from None
    if not entries:
        raise CheckpointError(f"{url}: no files there")
    listing = sorted(
        (
            p[len(root) + 1 :],
            str(info.get("ETag") or info.get("etag") or info.get("mtime") or ""),
            int(info.get("size") or 0),
        )
        for p, info in entries.items()
    )
    key = hashlib.sha256(json.dumps([url.rstrip("/"), listing]).encode()).hexdigest()[:24]
    dest = cache_root() / "folders" / key
    if dest.is_dir():
        return str(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{key}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        for rel, _, _ in listing:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(f"{root}/{rel}", str(target))
        try:
            os.rename(tmp, dest)
        except OSError:  # another process won the race: use its copy
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(dest)


def local_model_dir(source: str, storage_options: dict | None = None) -> str:
    """Resolve a model `source` for `from_pretrained`.

    - an existing local folder (or file:// URL of one) -> returned as is;
    - a relative path that is a folder under $VAGPT_HOME or the repository root -> that;
    - an s3:// or other fsspec URL of a folder -> fetched into the cache, the local path returned;
    - a path-like string (starting with / . ~) that does not exist -> CheckpointError;
    - anything else is a hub id, returned unchanged (from_pretrained tries the hub,
      which fails offline; wrap the call in `from_pretrained_clear` for a clear message).
    """
    local = local_path(source)
    if local is not None and os.path.isdir(local):
        return local
    found = model_path(source)
    if found is not None and found.is_dir():
        return str(found)
    if is_url(source):
        return fetch_folder(source, storage_options)
    if source.startswith(("/", ".", "~")):
        raise CheckpointError(f"{source}: no such local model folder")
    return source


def from_pretrained_clear(loader: Any, source: str, what: str, **kwargs: Any) -> Any:
    """`loader.from_pretrained(source, **kwargs)` (or `loader(source)`), with one clear error on failure."""
    load = loader.from_pretrained if hasattr(loader, "from_pretrained") else loader
    try:
        return load(source, **kwargs)
    except (OSError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if os.path.isdir(source):
            raise CheckpointError(f"{what}: cannot load from folder {source}: {first}") from None
        raise CheckpointError(
            f"{what}: {source!r} is neither a local folder nor an fsspec URL, so it was tried as a "
            f"Hugging Face hub id and failed (no network here?): {first}"
        ) from None

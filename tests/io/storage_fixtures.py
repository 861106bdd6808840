"""What the storage tests share: a fresh prefix on each real backend (local disk, SeaweedFS S3)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import botocore.exceptions
import fsspec
import pytest

from va_gpt.io.filesystem import join

DAY = "2026-11-21"


@dataclass
class Backend:
    """A fresh, empty prefix on one storage backend."""

    name: str
    root: str
    options: dict | None

    def url(self, *parts: str) -> str:
        return join(self.root, *parts)

    def put(self, rel: str, data: bytes = b"video") -> str:
        """Write an object with plain fsspec (not the code under test) and return its URL."""
        url = self.url(rel)
        fs, path = fsspec.core.url_to_fs(url, **(self.options or {}))
        fs.makedirs(fs._parent(path), exist_ok=True)
        fs.pipe_file(path, data)
        return url

    def files_under(self, url: str) -> list[str]:
        """Files (not empty folders: SeaweedFS keeps those after a delete) under `url`."""
        fs, path = fsspec.core.url_to_fs(url, **(self.options or {}))
        fs.invalidate_cache()
        return [p for p, info in fs.find(path, detail=True).items() if info["type"] == "file"]

    def fs_exists(self, url: str) -> bool:
        fs, path = fsspec.core.url_to_fs(url, **(self.options or {}))
        fs.invalidate_cache()
        return fs.exists(path)


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        return Backend("local", str(tmp_path / "store"), None)
    s3 = request.getfixturevalue("s3_store")
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name) + "-" + uuid.uuid4().hex[:8]
    return Backend("s3", s3.url(f"test_storage/{prefix}"), s3.storage_options())


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, "GetObject")

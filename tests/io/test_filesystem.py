"""va_gpt.io.filesystem on a real SeaweedFS server and on local disk: the same tests run on both."""

from __future__ import annotations

import re

import pytest

from va_gpt.io.errors import StorageError, TransientStorageError
from va_gpt.io.filesystem import exists, join, open_read, read_bytes, write_bytes


@pytest.mark.timeout(120)
def test_roundtrip(backend):
    url = backend.url("a/b/blob.bin")
    payload = bytes(range(256)) * 100
    assert not exists(url, backend.options)
    write_bytes(url, payload, backend.options)
    assert exists(url, backend.options)
    assert read_bytes(url, backend.options) == payload
    with open_read(url, backend.options) as f:
        f.seek(256)
        assert f.read(3) == bytes([0, 1, 2])
    write_bytes(url, b"replaced", backend.options)
    assert read_bytes(url, backend.options) == b"replaced"


@pytest.mark.timeout(120)
def test_read_missing_object_is_permanent_error_naming_url(backend):
    url = backend.url("nope.bin")
    with pytest.raises(StorageError) as info:
        read_bytes(url, backend.options)
    assert not isinstance(info.value, TransientStorageError)
    assert info.value.url == url and url in str(info.value)
    assert "not found" in info.value.reason
    with pytest.raises(StorageError, match=re.escape(url)):
        with open_read(url, backend.options):
            pass


@pytest.mark.timeout(30)
def test_join():
    assert join("s3://b/x/", "a", "/c/", "d.json") == "s3://b/x/a/c/d.json"
    assert join("/tmp/r", "t") == "/tmp/r/t"
    assert join("file:///tmp/r/", "", "t") == "file:///tmp/r/t"

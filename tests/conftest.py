"""Shared fixtures. Storage tests use a real SeaweedFS server, never a mock."""

from __future__ import annotations

import os

import pytest

from va_gpt.io.objectstore import ObjectStore

# Keep Ray on loopback, without auth, and DeepSpeed's op builds inside the tree.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory):
    """A running SeaweedFS S3 endpoint (va_gpt.io.objectstore.Endpoint) for the whole session.

    Use `s3_store.url("some/prefix")` for URLs, `s3_store.storage_options()` for
    fsspec kwargs and `s3_store.filesystem()` for an s3fs filesystem. Tests
    must use their own unique prefix (e.g. the test name) inside the bucket.
    """
    store = ObjectStore(tmp_path_factory.mktemp("seaweedfs"))
    endpoint = store.start()
    try:
        yield endpoint
    finally:
        store.stop()

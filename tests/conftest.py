"""Shared fixtures. Storage tests use a real SeaweedFS server, never a mock."""

from __future__ import annotations

import os

import pytest
import torch

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


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on a shared 2-core machine: one torch thread is faster (no OpenMP waits) and
    fair to the other tests. Modules opt in with `pytestmark = pytest.mark.usefixtures(...)`."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

"""va_gpt.io.errors: which failures are transient, and errors that name the URL."""

from __future__ import annotations

import botocore.exceptions
import pytest

from tests.io.storage_fixtures import client_error
from va_gpt.io.archive import list_archive
from va_gpt.io.errors import StorageError, TransientStorageError, is_forbidden, is_transient, storage_error
from va_gpt.io.filesystem import read_bytes


@pytest.mark.timeout(30)
def test_error_classification():
    assert is_transient(client_error("SlowDown", 503))
    assert is_transient(client_error("InternalError", 500))
    assert is_transient(client_error("Whatever", 502))
    assert not is_transient(client_error("NoSuchKey", 404))
    assert not is_transient(client_error("AccessDenied", 403))
    assert is_transient(botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"))
    assert is_transient(botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"))
    assert is_transient(ConnectionResetError())
    assert not is_transient(FileNotFoundError("k"))
    assert not is_transient(ValueError("bug"))

    # s3fs turns a 503 SlowDown into OSError(EBUSY) raised from the ClientError, and a 404 into FileNotFoundError.
    wrapped = OSError(16, "SlowDown")
    wrapped.__cause__ = client_error("SlowDown", 503)
    err = storage_error(wrapped, "s3://b/k", "read")
    assert isinstance(err, TransientStorageError) and err.url == "s3://b/k" and "retryable" in err.reason
    not_found = FileNotFoundError("k")
    not_found.__cause__ = client_error("NoSuchKey", 404)
    err = storage_error(not_found, "s3://b/k", "read")
    assert type(err) is StorageError and "read: not found" in err.reason


@pytest.mark.timeout(30)
def test_forbidden_is_permanent_and_only_5xx_429_are_transient():
    """403 in any spelling is `forbidden`, never retried; 5xx, 429 and SlowDown are transient."""
    for code in ("AccessDenied", "403", "Forbidden", "SignatureDoesNotMatch", "InvalidAccessKeyId"):
        err = client_error(code, 403)
        assert is_forbidden(err) and not is_transient(err), code
    # s3fs: a 403 on HEAD has Code "403" and becomes a PermissionError raised from the ClientError.
    wrapped = PermissionError("Forbidden")
    wrapped.__cause__ = client_error("403", 403)
    assert is_forbidden(wrapped) and not is_transient(wrapped)
    assert "forbidden" in storage_error(wrapped, "s3://b/k", "read").reason
    for code, status in (
        ("SlowDown", 503),
        ("ServiceUnavailable", 503),
        ("TooManyRequests", 429),
        ("X", 500),
    ):
        err = client_error(code, status)
        assert is_transient(err) and not is_forbidden(err), code
    assert not is_forbidden(client_error("NoSuchKey", 404))
    assert not is_forbidden(botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"))


@pytest.mark.timeout(60)
def test_unreachable_endpoint_is_transient():
    opts = {
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    with pytest.raises(TransientStorageError) as info:
        list_archive("s3://vagpt/archive", storage_options=opts)
    assert info.value.url == "s3://vagpt/archive"


@pytest.mark.timeout(60)
def test_wrong_credentials_are_access_denied(s3_store):
    s3_store.filesystem().pipe(s3_store.url("test_storage/creds/x.bin"), b"x")
    opts = {**s3_store.storage_options(), "key": "wrong", "secret": "wrong"}
    url = s3_store.url("test_storage/creds/x.bin")
    with pytest.raises(StorageError) as info:
        read_bytes(url, opts)
    assert not isinstance(info.value, TransientStorageError)
    assert info.value.url == url and "access denied" in info.value.reason

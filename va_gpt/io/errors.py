"""Storage errors: what failed, on which URL, and whether a retry may help.

`StorageError` is permanent (not found, access denied, corrupt data, bad
input), `TransientStorageError` may succeed when retried (connection,
timeout, 5xx, SlowDown). Both name the URL. `is_transient` classifies any
exception (and what it was raised from); `mapped_errors` turns the OS,
botocore and aiohttp errors raised inside it into StorageErrors.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import botocore.exceptions


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


# Library errors: s3fs (a core dependency) raises botocore and aiohttp errors, sometimes wrapped in OSErrors.
_TRANSIENT_LIBRARY_ERRORS = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
)
_LIBRARY_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, aiohttp.ClientError)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from (s3fs wraps botocore errors in OSErrors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _client_error_is_transient(exc: botocore.exceptions.ClientError) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if status == 403 or code in _FORBIDDEN_S3_CODES:
        return False
    return code in _TRANSIENT_S3_CODES or status >= 500 or status == 429 or code.startswith("5")


# S3 error codes that mean "this key may not read this object": permanent until someone changes a policy.
_FORBIDDEN_S3_CODES = {
    "403",
    "AccessDenied",
    "Forbidden",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccountProblem",
}


def is_forbidden(exc: BaseException) -> bool:
    """True when `exc` (or what it was raised from) is a permission error: HTTP 403, an S3
    AccessDenied-type code, PermissionError, EACCES/EPERM. Never transient: retrying the same
    request with the same credentials gets the same answer."""
    for e in _exception_chain(exc):
        if isinstance(e, PermissionError):
            return True
        if isinstance(e, botocore.exceptions.ClientError):
            response = getattr(e, "response", None) or {}
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return status == 403 or code in _FORBIDDEN_S3_CODES
        if isinstance(e, aiohttp.ClientResponseError):
            return e.status == 403
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM):
            return True
    return False


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what it was raised from) is worth retrying.

    The first exception in the chain that decides wins: a FileNotFoundError
    wrapping a botocore 404 is permanent, an OSError(EBUSY) wrapping a 503
    SlowDown is transient.
    """
    for e in _exception_chain(exc):
        if isinstance(e, TransientStorageError):
            return True
        if isinstance(e, (StorageError, *_PERMANENT_OS_ERRORS)):
            return False
        if isinstance(e, (ConnectionError, TimeoutError, *_TRANSIENT_LIBRARY_ERRORS)):
            return True
        if isinstance(e, botocore.exceptions.ClientError):
            return _client_error_is_transient(e)
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS:
            return True
    return False


def _describe(exc: BaseException, transient: bool) -> str:
    if any(isinstance(e, botocore.exceptions.NoCredentialsError) for e in _exception_chain(exc)):
        return (
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(and AWS_ENDPOINT_URL, or --endpoint, for a store that is not AWS)"
        )
    if transient:
        kind = "temporary failure (connection, timeout or busy server), retryable"
    elif isinstance(exc, FileNotFoundError):
        kind = "not found"
    elif is_forbidden(exc):
        kind = "access denied (forbidden: these credentials may not read it; permanent, not retried)"
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
def mapped_errors(url: str, action: str) -> Iterator[None]:
    """Turn OS / botocore / aiohttp errors raised inside into StorageErrors naming `url`.

    Only I/O error types are mapped: a TypeError from our own code stays a bug, not a storage error.
    """
    try:
        yield
    except StorageError:
        raise
    except (OSError, *_LIBRARY_ERRORS) as exc:
        raise storage_error(exc, url, action) from exc

"""S3 credentials, resolved in one place for every client: fsspec/s3fs, DuckDB, child processes.

Credentials come from explicit storage options when a caller has them (the
embedded store's `Endpoint`), otherwise from the standard AWS variables (a
Kubernetes Secret in production, the embedded store's values in `make run`),
never from arguments that would land in shell history or a process list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

from va_gpt.io.errors import StorageError

DEFAULT_REGION = "us-east-1"
S3_SCHEMES = ("s3", "s3a")
# botocore client settings for every s3fs client (s3fs passes them to botocore's Config): bounded
# timeouts and ONE botocore retry, so va_gpt.io.retry is the retry layer that counts. botocore's
# defaults (60 s connect timeout, up to 5 attempts in "legacy" mode) stacked under our own
# per-object retries kept a run against a stopped store retrying for minutes per video.
# delta-rs and DuckDB take their own options (delta_options, va_gpt.lake.query): unaffected.
CLIENT_CONFIG = {
    "connect_timeout": 5,
    "read_timeout": 60,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}


@dataclass(frozen=True)
class S3Credentials:
    """Resolved S3 access: what fsspec options, a DuckDB secret and AWS env variables are built from."""

    key: str | None = None
    secret: str | None = None
    endpoint_url: str | None = None  # None: AWS itself
    region: str = DEFAULT_REGION

    def storage_options(self) -> dict:
        """fsspec/s3fs keyword arguments."""
        opts: dict = {}
        if self.key and self.secret:
            opts.update(key=self.key, secret=self.secret)
        client: dict = {}
        if self.endpoint_url:
            client["endpoint_url"] = self.endpoint_url
        client["region_name"] = self.region
        opts["client_kwargs"] = client
        opts["config_kwargs"] = {k: dict(v) if isinstance(v, dict) else v for k, v in CLIENT_CONFIG.items()}
        return opts

    def env(self) -> dict[str, str]:
        """The AWS environment variables that make s3fs/boto clients in other processes resolve these."""
        out = {"AWS_DEFAULT_REGION": self.region}
        if self.key and self.secret:
            out.update(AWS_ACCESS_KEY_ID=self.key, AWS_SECRET_ACCESS_KEY=self.secret)
        if self.endpoint_url:
            out["AWS_ENDPOINT_URL"] = self.endpoint_url
        return out

    def delta_options(self) -> dict[str, str]:
        """delta-rs (deltalake) storage options: object_store's AWS keys.

        AWS S3 itself needs only keys and region (conditional PUT is native);
        another S3 store (SeaweedFS, MinIO, Ceph) gets its endpoint, plain HTTP
        when the endpoint is http://, and `AWS_CONDITIONAL_PUT=etag`, the
        compare-and-swap that lets two writers commit to one table safely.
        """
        out = {"AWS_REGION": self.region}
        if self.key and self.secret:
            out.update(AWS_ACCESS_KEY_ID=self.key, AWS_SECRET_ACCESS_KEY=self.secret)
        if self.endpoint_url:
            out["AWS_ENDPOINT_URL"] = self.endpoint_url
            out["AWS_CONDITIONAL_PUT"] = "etag"
            if self.endpoint_url.startswith("http://"):
                out["AWS_ALLOW_HTTP"] = "true"
        return out


def resolve_s3(storage_options: dict | None = None, endpoint: str | None = None) -> S3Credentials:
    """The S3 credentials to use: `endpoint`, then `storage_options` (fsspec form), then the AWS variables."""
    opts = storage_options or {}
    client = opts.get("client_kwargs") or {}
    return S3Credentials(
        key=opts.get("key") or os.environ.get("AWS_ACCESS_KEY_ID"),
        secret=opts.get("secret") or os.environ.get("AWS_SECRET_ACCESS_KEY"),
        endpoint_url=endpoint or client.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL"),
        region=client.get("region_name") or os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
    )


def storage_options_for(url: str, endpoint: str | None = None) -> dict | None:
    """fsspec storage options for `url` from the environment: None for anything but s3:// URLs."""
    if urlparse(url).scheme not in S3_SCHEMES:
        return None
    return resolve_s3(endpoint=endpoint).storage_options()


# Besides the two variables, where boto finds credentials without any (a profile, a Kubernetes
# service account's web identity, a container role); the instance metadata service is not
# probed here (it costs a timeout where there is none).
_OTHER_CREDENTIAL_SOURCES = (
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_SHARED_CREDENTIALS_FILE",
)
NO_CREDENTIALS = (
    "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(and AWS_ENDPOINT_URL, or --endpoint, for a store that is not AWS)"
)


def require_credentials(url: str, endpoint: str | None = None) -> None:
    """StorageError naming `url` and the variables to set when an s3:// URL has no credentials
    anywhere boto would look (checked before any work starts, not after a listing fails)."""
    if urlparse(url).scheme not in S3_SCHEMES:
        return
    creds = resolve_s3(endpoint=endpoint)
    if creds.key and creds.secret:
        return
    if any(os.environ.get(v) for v in _OTHER_CREDENTIAL_SOURCES):
        return
    if os.path.exists(os.path.expanduser("~/.aws/credentials")):
        return
    raise StorageError(url, NO_CREDENTIALS)

"""va_gpt.io.credentials: one resolution of S3 credentials for fsspec, DuckDB and child processes."""

from __future__ import annotations

import pytest

from va_gpt.io.credentials import CLIENT_CONFIG, S3Credentials, resolve_s3, storage_options_for
from va_gpt.io.errors import TransientStorageError
from va_gpt.io.filesystem import filesystem, read_bytes, write_bytes

AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")


@pytest.fixture
def aws_env(monkeypatch):
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.timeout(30)
def test_storage_options_from_the_environment(aws_env):
    assert storage_options_for("/local/path") is None
    assert storage_options_for("file:///x") is None
    assert storage_options_for("s3://b/k") == {
        "client_kwargs": {"region_name": "us-east-1"},
        "config_kwargs": CLIENT_CONFIG,
    }

    creds = S3Credentials("k", "s", "http://127.0.0.1:8333", "eu-west-1")
    for name, value in creds.env().items():
        aws_env.setenv(name, value)
    assert resolve_s3() == creds
    assert storage_options_for("s3a://b/k") == {
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:8333", "region_name": "eu-west-1"},
        "config_kwargs": CLIENT_CONFIG,
    }
    # An explicit endpoint wins over the environment.
    opts = storage_options_for("s3://b/k", endpoint="http://other:9000")
    assert opts["client_kwargs"]["endpoint_url"] == "http://other:9000"


@pytest.mark.timeout(30)
def test_explicit_storage_options_win_over_the_environment(aws_env):
    aws_env.setenv("AWS_ACCESS_KEY_ID", "env-key")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    aws_env.setenv("AWS_ENDPOINT_URL", "http://env:1")
    explicit = S3Credentials("k", "s", "http://store:2", "us-west-2")
    assert resolve_s3(explicit.storage_options()) == explicit
    # What the options leave out comes from the environment.
    assert resolve_s3({"client_kwargs": {"region_name": "r"}}) == S3Credentials(
        "env-key", "env-secret", "http://env:1", "r"
    )


# The s3fs clients get bounded timeouts and one botocore retry (CLIENT_CONFIG), so va_gpt.io.retry
# is the one retry layer; delta-rs and DuckDB options are unaffected.
def _botocore_config(url: str, so: dict):
    fs, _ = filesystem(url, so)
    fs.connect()  # s3fs builds its botocore client here, from config_kwargs
    return fs.s3.meta.config


@pytest.mark.timeout(60)
def test_s3fs_clients_get_the_bounded_config(s3_store):
    so = s3_store.storage_options()
    assert so["config_kwargs"] == CLIENT_CONFIG  # the embedded store's clients too
    url = s3_store.url("test_client_config/x.bin")
    write_bytes(url, b"abc", so)
    assert read_bytes(url, so) == b"abc"
    config = _botocore_config(url, so)
    assert config.connect_timeout == CLIENT_CONFIG["connect_timeout"]
    assert config.read_timeout == CLIENT_CONFIG["read_timeout"]
    assert config.retries["total_max_attempts"] == 2 and config.retries["mode"] == "standard"


@pytest.mark.timeout(60)
def test_a_dead_endpoint_is_one_transient_error_after_one_client_retry():
    so = S3Credentials("k", "s", "http://127.0.0.1:9").storage_options()  # nothing listens on port 9
    attempts: list[str] = []
    fs, _ = filesystem("s3://b/k", so)
    fs.connect()
    fs.s3.meta.events.register("before-send", lambda request, **_: attempts.append(request.url))
    with pytest.raises(TransientStorageError, match="temporary failure"):
        read_bytes("s3://b/k", so)
    assert len(attempts) == 2  # botocore's one retry, then our own policy decides


@pytest.mark.timeout(60)
def test_delta_and_duckdb_options_do_not_carry_the_client_config():
    creds = S3Credentials("k", "s", "http://127.0.0.1:8333")
    assert not any("timeout" in k.lower() or "retr" in k.lower() for k in creds.delta_options())
    assert creds.delta_options()["AWS_ENDPOINT_URL"] == "http://127.0.0.1:8333"
    assert resolve_s3(creds.storage_options()) == creds  # DuckDB's secret is built from these fields

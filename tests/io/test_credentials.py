"""va_gpt.io.credentials: one resolution of S3 credentials for fsspec, DuckDB and child processes."""

from __future__ import annotations

import pytest

from va_gpt.io.credentials import S3Credentials, resolve_s3, storage_options_for

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
    assert storage_options_for("s3://b/k") == {"client_kwargs": {"region_name": "us-east-1"}}

    creds = S3Credentials("k", "s", "http://127.0.0.1:8333", "eu-west-1")
    for name, value in creds.env().items():
        aws_env.setenv(name, value)
    assert resolve_s3() == creds
    assert storage_options_for("s3a://b/k") == {
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:8333", "region_name": "eu-west-1"},
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

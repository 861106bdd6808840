"""fsspec storage options from the environment, the way every job resolves them.

Credentials come from the standard AWS variables (a Kubernetes Secret in
production, the embedded store's values in `make run`), never from arguments
that would land in shell history or a process list.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse


def storage_options_for(url: str, endpoint: str | None = None) -> dict | None:
    if urlparse(url).scheme not in ("s3", "s3a"):
        return None
    opts: dict = {}
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        opts.update(key=key, secret=secret)
    client = {}
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        client["endpoint_url"] = endpoint
    client["region_name"] = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    opts["client_kwargs"] = client
    return opts

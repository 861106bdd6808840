"""DecodeError: pickles, rejects unknown kinds."""

from __future__ import annotations

import pickle

import pytest

from va_gpt.video.errors import DecodeError


@pytest.mark.timeout(60)
def test_decode_error_pickles_and_rejects_unknown_kinds():
    err = pickle.loads(pickle.dumps(DecodeError("s3://b/x.mp4", "truncated", "s3://b/x.mp4: cut")))
    assert (err.uri, err.kind, err.message) == ("s3://b/x.mp4", "truncated", "s3://b/x.mp4: cut")
    with pytest.raises(ValueError):
        DecodeError("u", "weird", "m")

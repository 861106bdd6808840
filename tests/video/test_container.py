"""Opening a video: probe, reading from S3, typed errors for bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.video.media import SIZE, decode_all
from va_gpt.video.clips import decode_window, iter_clips
from va_gpt.video.container import probe
from va_gpt.video.errors import KINDS, DecodeError


@pytest.mark.timeout(60)
def test_probe_reports_gop(media):
    info = probe(str(media("gop30")))
    assert info.gop_s == pytest.approx(1.0, abs=1e-3)
    assert info.keyframes_indexed is True and info.codec == "h264"
    ts = probe(str(media("gop30_ts")))
    assert ts.gop_s == pytest.approx(1.0, abs=1e-3) and ts.keyframes_indexed is False
    assert ts.container == "mpegts"


@pytest.mark.timeout(120)
def test_decode_from_s3(s3_store, media):
    fs = s3_store.filesystem()
    url = s3_store.url("test_decode/cam01/gop30.mp4")
    fs.put(str(media("gop30")), url)
    opts = s3_store.storage_options()
    clips, t, frames = decode_all(url, fps=2.0, storage_options=opts)
    _, t_local, f_local = decode_all(media("gop30"), fps=2.0)
    np.testing.assert_array_equal(t, t_local)
    np.testing.assert_array_equal(frames, f_local)
    assert clips[0].uri == url and clips[0].info.size_bytes == Path(media("gop30")).stat().st_size
    frames, t = decode_window(url, 1.0, 2.0, fps=2.0, size=SIZE, storage_options=opts)
    np.testing.assert_allclose(t, [1.0, 1.5, 2.0])
    assert probe(url, opts).gop_s == pytest.approx(1.0, abs=1e-3)


@pytest.mark.timeout(120)
def test_s3_missing_object_and_bad_credentials(s3_store, media):
    opts = s3_store.storage_options()
    url = s3_store.url("test_decode/nothing/here.mp4")
    with pytest.raises(DecodeError) as e:
        list(iter_clips(url, fps=2, clip_len=4, size=SIZE, storage_options=opts))
    assert e.value.kind == "missing" and url in e.value.message
    put = s3_store.url("test_decode/creds/a.mp4")
    s3_store.filesystem().put(str(media("cfr30")), put)
    bad = dict(opts, secret="wrong-secret")
    with pytest.raises(DecodeError) as e:
        list(iter_clips(put, fps=2, clip_len=4, size=SIZE, storage_options=bad))
    # SeaweedFS answers 403 (SignatureDoesNotMatch): permanent, its own kind, never retried as `storage`.
    assert e.value.kind == "forbidden" and put in e.value.message and "403" in e.value.message


# ---- typed errors --------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "name,kind",
    [
        ("missing", "missing"),
        ("empty", "empty"),
        ("text", "not_video"),
        ("audio_only", "no_video_stream"),
        ("bogus_codec", "unsupported_codec"),
        ("cut_mp4", "truncated"),
        ("garbled", "corrupt"),
        ("random_after_ftyp", "corrupt"),
    ],
)
def test_bad_inputs_raise_typed_errors(media, name, kind):
    uri = str(media.bad(name))
    for call in (
        lambda: list(iter_clips(uri, fps=2, clip_len=4, size=SIZE)),
        lambda: decode_window(uri, 0.0, 1.0, fps=2, size=SIZE),
    ):
        with pytest.raises(DecodeError) as e:
            call()
        err = e.value
        assert err.kind == kind, err.message
        assert err.uri == uri and uri in err.message and uri in str(err)
        assert "Traceback" not in err.message
        assert err.message.isprintable(), repr(err.message)  # no raw file bytes
        assert err.__cause__ is None  # the library exception is not chained in
    if kind not in ("missing", "empty", "not_video"):
        assert kind in KINDS

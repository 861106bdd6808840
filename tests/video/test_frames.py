"""Damage: a cut file yields its frames before the damage, with every strategy; skipped
non-reference frames change no sample."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.video.media import SIZE, decode_all, expected_nearest, indices
from va_gpt.video.container import Video
from va_gpt.video.frames import Run, sampled_frames
from va_gpt.video.preprocess import frame_to_rgb
from va_gpt.video.sampling import Sampler


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,src", [("cut_frag", "frag"), ("cut_ts", "gop15_ts")])
@pytest.mark.parametrize("strategy", ["full", "seek", "nonkey"])
def test_truncated_file_yields_partial_frames(media, name, src, strategy):
    uri = media.bad(name)
    clips, t, frames = decode_all(uri, fps=2.0, strategy=strategy)
    _, t_full, f_full = decode_all(media(src), fps=2.0, strategy="full")
    assert 2 <= len(t) < len(t_full)
    np.testing.assert_allclose(t, t_full[: len(t)])  # the samples before the damage are the right ones
    assert indices(frames) == indices(f_full[: len(t)])
    assert clips[-1].partial is True and clips[-1].summary.partial is True
    assert clips[-1].summary.damage
    assert all(c.partial is False for c in clips[:-1])


def _every_frame(uri) -> tuple[list[float], list[np.ndarray]]:
    """Reference: every frame decoded (nothing skipped), its time and its preprocessed pixels."""
    times, pixels = [], []
    with av.open(str(uri)) as c:
        s = c.streams.video[0]
        s.codec_context.thread_count = 1
        origin = s.start_time or 0
        for f in c.decode(s):
            times.append(float((f.pts - origin) * s.time_base))
            pixels.append(frame_to_rgb(f, SIZE))
    return times, pixels


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["gop30", "gop45", "vfr_b"])
def test_skipped_non_reference_frames_change_no_sample(media, name):
    """Frames no target can pick are not decoded (B-frames here), and the samples are exactly
    those of decoding every frame: same times, same pixels."""
    uri = media(name)
    times, pixels = _every_frame(uri)
    for fps in (2.0, 7.0):
        want = expected_nearest(times, fps)
        for strategy in ("full", "seek"):
            clips, t, frames = decode_all(uri, fps=fps, strategy=strategy)
            np.testing.assert_array_equal(t, [times[i] for i in want])
            np.testing.assert_array_equal(frames, np.stack([pixels[i] for i in want]))
            if strategy == "full" and fps == 2.0:
                assert clips[-1].summary.decoded_frames < len(times)


@pytest.mark.timeout(60)
def test_seek_drains_the_decoder_instead_of_decoding_on(media):
    """Before each seek the decoder's delayed frames are drained (no packet after the sample
    goes in), and the samples stay those of decoding every frame."""
    uri = media("gop45")
    times, _ = _every_frame(uri)
    with Video(str(uri), None, 1) as vid:
        run = Run("seek")
        got = [t for t, _ in sampled_frames(vid, Sampler(2.0), run)]
    assert run.drains > 0 and vid.seeks > 0
    np.testing.assert_array_equal(got, [times[i] for i in expected_nearest(times, 2.0)])

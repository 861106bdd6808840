"""Sampling: sample times and content on odd and variable rates; every strategy gives the same samples."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests import videos
from tests.video.media import SIZE, decode_all, expected_nearest, indices
from va_gpt.video.clips import iter_clips
from va_gpt.video.container import Video
from va_gpt.video.sampling import choose_strategy


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "name,rate",
    [
        ("cfr30", Fraction(30)),
        ("cfr27", Fraction(27)),
        ("ntsc", Fraction(30000, 1001)),
        ("odd", Fraction(30067, 1000)),
    ],
)
def test_cfr_sample_times_and_content(media, name, rate):
    clips, t, frames = decode_all(media(name), fps=2.0)
    period, frame_dur = 0.5, float(1 / rate)
    n_frames = int(round(3 * rate))
    frame_times = [i * frame_dur for i in range(n_frames)]
    expect = expected_nearest(frame_times, 2.0)
    assert len(t) == len(expect) == 6
    for k, (tk, i) in enumerate(zip(t, expect)):
        assert abs(tk - k * period) <= frame_dur / 2 + 1e-6  # nearest frame: within half a frame
        assert tk == pytest.approx(frame_times[i], abs=1e-6)
    # the pixels are those of the frame at that time
    assert indices(frames) == expect
    info = clips[0].info
    assert info.fps == pytest.approx(float(rate), rel=1e-4)
    assert (info.width, info.height, info.codec) == (160, 120, "h264")


@pytest.mark.timeout(120)
def test_vfr_sample_times_and_content(media):
    times = videos.vfr_times(90, seed=1)
    _, t, frames = decode_all(media("vfr"), fps=4.0)
    expect = expected_nearest(times, 4.0)
    assert np.allclose(t, [times[i] for i in expect], atol=1e-6)
    for k, tk in enumerate(t[: int(times[-1] * 4)]):
        assert abs(tk - k / 4) <= 0.035 + 1e-6  # within half the largest frame gap (70 ms)
    assert indices(frames) == expect


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", ["gop15", "gop30", "gop45", "gop30_ts", "gop15_ts", "frag", "vfr"])
def test_strategies_give_the_same_samples(media, name):
    uri = media(name)
    _, t_full, f_full = decode_all(uri, fps=2.0, strategy="full")
    ref_idx = indices(f_full)
    for strategy in ("seek", "auto"):
        clips, t, f = decode_all(uri, fps=2.0, strategy=strategy)
        assert len(t) == len(t_full), strategy
        assert np.max(np.abs(t - t_full)) < 1 / 30, strategy  # within one native frame (here: equal)
        assert indices(f) == ref_idx, strategy
    with Video(str(uri), None, 1) as vid:
        chosen = choose_strategy(vid, 2.0)
    _, t_nk, f_nk = decode_all(uri, fps=2.0, strategy="nonkey")
    nonkey_exact = len(t_nk) == len(t_full) and np.max(np.abs(t_nk - t_full)) < 1 / 60
    if name in ("gop15", "gop15_ts", "frag"):  # keyframe every 0.5 s = the sampling period
        assert nonkey_exact and indices(f_nk) == ref_idx
        assert chosen == "nonkey"
    else:
        assert not nonkey_exact  # keyframes are too sparse for 2 fps
        assert chosen != "nonkey"


@pytest.mark.timeout(120)
def test_seek_skips_work_when_samples_are_sparse(media):
    uri = media("gop15")
    full = list(iter_clips(str(uri), fps=0.5, clip_len=4, size=SIZE, strategy="full"))[-1].summary
    seek = list(iter_clips(str(uri), fps=0.5, clip_len=4, size=SIZE, strategy="seek"))[-1].summary
    assert seek.seeks > 0 and seek.decoded_frames < full.decoded_frames / 3
    assert seek.samples == full.samples == 2

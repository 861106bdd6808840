"""Clips and windows: codecs, a real clip, overlap and lengths, argument checks, decode_window."""

from __future__ import annotations

import numpy as np
import pytest

from tests.shared_paths import CAR_ACCIDENT
from tests.video.media import SIZE, decode_all, indices
from va_gpt.video.clips import background_frame, decode_window, iter_clips


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "name,codec,audio", [("h264_audio", "h264", True), ("hevc", "hevc", False), ("hevc_audio", "hevc", True)]
)
def test_codecs_with_and_without_audio(media, name, codec, audio):
    clips, t, frames = decode_all(media(name), fps=3.0)
    assert clips[0].info.codec == codec
    assert clips[0].info.has_audio is audio
    assert np.allclose(t, np.arange(6) / 3.0, atol=1 / 60 + 1e-6)
    assert indices(frames) == [round(x * 30) for x in t]
    assert frames.dtype == np.uint8 and frames.shape[1:] == (SIZE, SIZE, 3)


@pytest.mark.timeout(120)
def test_real_car_accident_clip():
    clips, t, frames = decode_all(CAR_ACCIDENT, fps=2.0, clip_len=4, size=32)
    assert len(t) == 8
    assert np.all(np.abs(t - np.arange(8) * 0.5) <= 1 / 60 + 1e-6)
    info = clips[0].info
    assert (info.codec, info.width, info.height, info.has_audio) == ("h264", 640, 480, True)
    assert info.fps == pytest.approx(30.0)
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert frames.shape == (8, 32, 32, 3) and frames.std() > 5  # real picture, not blank
    assert clips[-1].summary.partial is False


@pytest.mark.timeout(120)
@pytest.mark.parametrize("clip_len", [2, 3, 4, 5, 6, 7, 12])
def test_clip_overlap_and_lengths(media, clip_len):
    clips, t, _ = decode_all(media("cfr30"), fps=3.0, clip_len=clip_len)  # 9 samples
    assert len(t) == 9
    assert [c.index for c in clips] == list(range(len(clips)))
    for c in clips[:-1]:
        assert len(c.t) == clip_len and not c.is_last and c.summary is None
    last = clips[-1]
    assert last.is_last and last.summary is not None and 2 <= len(last.t) <= clip_len
    assert last.summary.samples == 9 and last.summary.clips == len(clips)
    assert clips[0].first_is_overlap is False
    for prev, cur in zip(clips, clips[1:]):
        assert cur.first_is_overlap is True
        assert cur.t[0] == prev.t[-1]
        np.testing.assert_array_equal(cur.frames[0], prev.frames[-1])
    for c in clips:
        assert c.frames.shape == (len(c.t), SIZE, SIZE, 3) and c.frames.dtype == np.uint8
        assert c.t.dtype == np.float64 and np.all(np.diff(c.t) > 0)
        assert c.partial is False


@pytest.mark.timeout(120)
@pytest.mark.parametrize("context", [0, 1, 3, 7])
def test_clips_carry_their_context_and_the_reference(media, context):
    """Each clip after the first starts with the `context` samples before its own (all there are
    near the start); the new frames partition the video as with one overlap frame; every clip
    carries the video's first sample as its reference."""
    base, t, frames = decode_all(media("cfr30"), fps=3.0, clip_len=3)  # 9 samples
    clips = list(iter_clips(str(media("cfr30")), fps=3.0, clip_len=3, size=SIZE, context=context))
    assert len(clips) == len(base)
    new = np.concatenate([c.t[c.context :] for c in clips])
    np.testing.assert_array_equal(new, t)
    start = 0
    for c, b in zip(clips, base):
        assert c.context == min(context, start) and c.first_is_overlap == (c.context > 0)
        np.testing.assert_array_equal(c.t[c.context :], b.t[b.context :])
        np.testing.assert_array_equal(c.frames[: c.context], frames[start - c.context : start])
        np.testing.assert_array_equal(c.reference, frames[0])
        start += len(c.t) - c.context


@pytest.mark.timeout(120)
@pytest.mark.parametrize("clip_len", [2, 3, 12])
def test_every_clip_carries_the_median_of_the_first_samples(media, clip_len):
    """With background_samples K every clip carries the per-pixel median of the video's first K
    samples (each prepared first when a preparation is given), also the clips made before K
    samples were read (clip_len 2 < K: they wait for it), and the clips themselves are those of
    K = 1; a video shorter than K gives the median of all it has; K = 1 carries none."""
    _, t, frames = decode_all(media("cfr30"), fps=3.0, clip_len=3)  # 9 samples
    plain = list(iter_clips(str(media("cfr30")), fps=3.0, clip_len=clip_len, size=SIZE, context=2))
    assert all(c.background is None for c in plain)
    clips = list(
        iter_clips(
            str(media("cfr30")), fps=3.0, clip_len=clip_len, size=SIZE, context=2, background_samples=5
        )
    )
    want = np.rint(np.median(frames[:5].astype(np.float64), axis=0)).astype(np.uint8)
    assert len(clips) == len(plain)
    for c, p in zip(clips, plain):
        np.testing.assert_array_equal(c.background, want)
        np.testing.assert_array_equal(c.frames, p.frames)
        np.testing.assert_array_equal(c.reference, frames[0])
    # the median is not the first sample: the test video's frames differ
    assert not np.array_equal(want, frames[0])
    longer = list(iter_clips(str(media("cfr30")), fps=3.0, clip_len=4, size=SIZE, background_samples=64))
    np.testing.assert_array_equal(longer[0].background, background_frame(frames))

    # with a preparation: the median of the samples each prepared against the first, the frames
    # and reference still as decoded
    def prepare(f, ref):  # a stand-in that visibly changes every frame but the reference
        return np.where(f == ref, f, 255 - f).astype(np.uint8), ref

    prepared = list(
        iter_clips(
            str(media("cfr30")), fps=3.0, clip_len=clip_len, size=SIZE, background_samples=5, prepare=prepare
        )
    )
    assert len(prepared) == len(plain)
    for c in prepared:
        np.testing.assert_array_equal(c.background, background_frame(prepare(frames[:5], frames[0])[0]))
        np.testing.assert_array_equal(c.reference, frames[0])
    assert not np.array_equal(prepared[0].background, want)


@pytest.mark.timeout(120)
def test_a_damaged_video_keeps_its_clips_and_their_background(media):
    """A file cut off after a few samples (fewer than background_samples): the same clips as
    without a background, the last one partial, each with the median of every sample read."""
    plain = list(iter_clips(str(media.bad("cut_frag")), fps=2.0, clip_len=2, size=SIZE))
    got = list(iter_clips(str(media.bad("cut_frag")), fps=2.0, clip_len=2, size=SIZE, background_samples=40))
    assert [list(c.t) for c in got] == [list(c.t) for c in plain] and got[-1].partial
    samples = np.concatenate([plain[0].frames] + [c.frames[1:] for c in plain[1:]])
    assert 1 < len(samples) < 40
    for c in got:
        np.testing.assert_array_equal(c.background, background_frame(samples))


def test_background_frame_checks_its_input():
    with pytest.raises(ValueError, match="samples must be uint8"):
        background_frame(np.zeros((0, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="samples must be uint8"):
        background_frame(np.zeros((2, 4, 4, 3), np.float32))
    two = np.stack(
        [np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8), np.full((2, 2, 3), 7, np.uint8)]
    )
    assert (background_frame(two) == 7).all()  # the median, not the mean


@pytest.mark.timeout(60)
def test_single_sample_video_gives_one_frame_clip(media):
    clips = list(iter_clips(str(media("one_frame")), fps=2.0, clip_len=4, size=SIZE))
    assert len(clips) == 1 and clips[0].frames.shape == (1, SIZE, SIZE, 3) and clips[0].is_last


@pytest.mark.timeout(60)
def test_two_sample_video_and_exact_multiple(media):
    # 3 s at 1 fps: 3 samples; clip_len 3 -> exactly one clip, no 1-frame tail
    clips = list(iter_clips(str(media("cfr30")), fps=1.0, clip_len=3, size=SIZE))
    assert [len(c.t) for c in clips] == [3]
    # clip_len 2 -> [s0 s1] [s1 s2]
    clips = list(iter_clips(str(media("cfr30")), fps=1.0, clip_len=2, size=SIZE))
    assert [list(c.t) for c in clips] == [[0.0, 1.0], [1.0, 2.0]]


@pytest.mark.timeout(60)
def test_bad_arguments_are_value_errors(media):
    with pytest.raises(ValueError, match="strategy"):
        list(iter_clips(str(media("cfr30")), fps=2, clip_len=4, size=SIZE, strategy="fast"))
    with pytest.raises(ValueError, match="clip_len"):
        list(iter_clips(str(media("cfr30")), fps=2, clip_len=1, size=SIZE))
    with pytest.raises(ValueError, match="background_samples"):
        list(iter_clips(str(media("cfr30")), fps=2, clip_len=4, size=SIZE, background_samples=0))


# ---- decode_window ------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["gop30", "gop30_ts", "gop45"])
def test_decode_window_matches_full_decode(media, name):
    uri = str(media(name))
    _, t_all, f_all = decode_all(uri, fps=4.0, strategy="full")
    frames, t = decode_window(uri, 1.6, 2.9, fps=4.0, size=SIZE)
    keep = slice(7, 12)  # targets k/4 for k = 7..11 (1.75 .. 2.75 s); sample k serves target k here
    np.testing.assert_allclose(t, t_all[keep], atol=1e-9)
    assert indices(frames) == indices(f_all[keep])
    assert frames.shape == (5, SIZE, SIZE, 3) and t.dtype == np.float64


@pytest.mark.timeout(60)
def test_decode_window_past_the_end_is_empty(media):
    frames, t = decode_window(str(media("gop30")), 10.0, 12.0, fps=2.0, size=SIZE)
    assert frames.shape == (0, SIZE, SIZE, 3) and t.shape == (0,)

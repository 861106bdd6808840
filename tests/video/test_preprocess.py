"""The one frame preprocessing: training's resize gives the pixels serving decodes."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests import videos
from va_gpt.video.clips import iter_clips
from va_gpt.video.preprocess import frame_to_rgb, resize_frames


@pytest.mark.timeout(60)
@pytest.mark.parametrize("height,width,size", [(120, 160, 64), (24, 32, 64), (120, 160, 120)])
def test_resize_frames_is_frame_to_rgb_of_each_picture(height, width, size):
    raw = np.stack([videos.frame_image(i, width, height) for i in range(3)])
    out = resize_frames(raw, size)
    assert out.shape == (3, size, size, 3) and out.dtype == np.uint8
    for picture, got in zip(raw, out):
        want = frame_to_rgb(av.VideoFrame.from_ndarray(picture, format="rgb24"), size)
        np.testing.assert_array_equal(got, want)
    assert resize_frames(raw[:0], size).shape == (0, size, size, 3)


@pytest.mark.timeout(60)
def test_serving_decode_of_a_lossless_video_equals_resize_frames(tmp_path):
    raw = np.stack([videos.frame_image(i) for i in range(5)])
    uri = str(videos.write_rgb(tmp_path / "rgb.mkv", raw))
    served = np.concatenate(
        [c.frames[1 if c.first_is_overlap else 0 :] for c in iter_clips(uri, fps=5, clip_len=8, size=64)]
    )
    np.testing.assert_array_equal(served, resize_frames(raw, 64))


@pytest.mark.timeout(60)
def test_frame_to_rgb_reuses_its_scaler_without_changing_a_pixel(media):
    """The kept reformatter gives what a fresh `VideoFrame.reformat` gives, frame after frame,
    also when geometry and pixel format change between calls (its cached context is rebuilt)."""
    with av.open(str(media("gop30"))) as c:
        decoded = [f for _, f in zip(range(6), c.decode(video=0))]
    rgb = [av.VideoFrame.from_ndarray(videos.frame_image(i, 96, 72), format="rgb24") for i in range(3)]
    d = decoded
    pictures = [d[0], d[1], rgb[0], d[2], rgb[1], d[3], d[4], rgb[2], d[5]]
    for size in (64, 224, 64):
        for frame in pictures:
            want = frame.reformat(width=size, height=size, format="rgb24").to_ndarray()
            np.testing.assert_array_equal(frame_to_rgb(frame, size), want)


@pytest.mark.timeout(30)
def test_resize_frames_rejects_other_arrays():
    with pytest.raises(ValueError, match="uint8"):
        resize_frames(np.zeros((2, 8, 8, 3), np.float32), 4)
    with pytest.raises(ValueError, match="uint8"):
        resize_frames(np.zeros((8, 8, 3), np.uint8), 4)

"""va_gpt.video.keyframes: the peak frame with its box and the contact sheet, cut from the source."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from tests.videos import read_index, write_video
from va_gpt.video.errors import DecodeError
from va_gpt.video.keyframes import (
    BOX_RGB,
    contact_sheet,
    cut_interval_media,
    draw_box,
    encode_jpeg,
    sheet_times,
)


def decode_jpeg(data: bytes) -> np.ndarray:
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    with av.open(io.BytesIO(data), format="jpeg_pipe") as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    # 10 s at 10 fps, a keyframe every 2 s: the cut must seek, then land on the nearest frame.
    return str(write_video(tmp_path_factory.mktemp("kf") / "v.mp4", seconds=10.0, fps=10, gop=20))


def test_keyframe_is_the_frame_nearest_the_peak_with_the_box_drawn(video):
    box = (0.25, 0.5, 0.75, 0.9)
    m = cut_interval_media(video, peak_s=6.3, start_s=5.0, end_s=8.0, box=box, width=160)
    assert m.peak_t == pytest.approx(6.3, abs=0.051)
    key = decode_jpeg(m.keyframe)
    assert key.shape == (120, 160, 3)
    assert read_index(key) == 63  # the code sits in the top third, above the box
    # The box edge is drawn in BOX_RGB (JPEG-lossy: close, not exact).
    edge = key[int(0.5 * 119) + 1, 60:100].astype(int)
    assert np.abs(edge - np.array(BOX_RGB)).mean() < 40
    # Outside the box the footage is untouched.
    inside = key[10:30, 10:30].astype(int)
    assert np.abs(inside - np.array(BOX_RGB)).mean() > 40


def test_contact_sheet_spans_the_interval_in_order(video):
    m = cut_interval_media(
        video, peak_s=3.0, start_s=2.0, end_s=5.0, box=None, frames=6, columns=3, thumb_width=80
    )
    assert m.sheet_t == pytest.approx(sheet_times(2.0, 5.0, 6), abs=0.051)
    sheet = decode_jpeg(m.sheet)
    # 3 x 2 thumbs of 80x60 with 4 px gaps.
    assert sheet.shape == (2 * 60 + 3 * 4, 3 * 80 + 4 * 4, 3)
    got = []
    for k in range(6):
        r, c = divmod(k, 3)
        y, x = 4 + r * 64, 4 + c * 84
        got.append(read_index(sheet[y : y + 60, x : x + 80]))
    assert got == [round(t * 10) for t in m.sheet_t]


def test_interval_past_the_end_gets_the_last_frame(video):
    m = cut_interval_media(video, peak_s=12.0, start_s=9.5, end_s=12.0, frames=2, width=160)
    assert read_index(decode_jpeg(m.keyframe)) == 99


def test_missing_source_is_a_decode_error_of_kind_missing(tmp_path):
    with pytest.raises(DecodeError) as e:
        cut_interval_media(str(tmp_path / "gone.mp4"), peak_s=1.0, start_s=0.0, end_s=2.0)
    assert e.value.kind == "missing" and "gone.mp4" in str(e.value)


def test_not_a_video_is_a_decode_error(tmp_path):
    p = tmp_path / "x.mp4"
    p.write_bytes(b"hello, not a video" * 100)
    with pytest.raises(DecodeError):
        cut_interval_media(str(p), peak_s=1.0, start_s=0.0, end_s=2.0)


def test_draw_box_clips_and_ignores_bad_boxes():
    img = np.zeros((50, 80, 3), np.uint8)
    assert (draw_box(img, None) == 0).all()
    assert (draw_box(img, [float("nan")] * 4) == 0).all()
    out = draw_box(img, (-0.5, -0.5, 2.0, 2.0), thickness=2)  # clipped to the frame
    assert (out[0, :] == BOX_RGB).all() and (out[-1, :] == BOX_RGB).all()
    assert (out[25, 40] == 0).all()


def test_encode_jpeg_round_trips_and_pads_odd_sizes():
    img = np.full((31, 47, 3), 128, np.uint8)
    back = decode_jpeg(encode_jpeg(img))
    assert back.shape in ((30, 46, 3), (32, 48, 3))
    assert abs(int(back.mean()) - 128) < 6
    with pytest.raises(ValueError):
        encode_jpeg(np.zeros((4, 4), np.uint8))


def test_contact_sheet_layout():
    pics = [np.full((10, 20, 3), k * 40, np.uint8) for k in range(4)]
    sheet = contact_sheet(pics, columns=3)
    assert sheet.shape == (2 * 10 + 3 * 4, 3 * 20 + 4 * 4, 3)
    assert (sheet[4 + 14, 4] == 120).all()  # the 4th picture starts the second row

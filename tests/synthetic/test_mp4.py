"""Encoding synthetic scenes to mp4 (h264, hevc): frame count, rate, fixed GOP, fidelity."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.synthetic.mp4s import decode
from va_gpt.synthetic.mp4 import write_mp4
from va_gpt.synthetic.scene import make_scene


@pytest.mark.timeout(120)
def test_write_mp4_h264_local(tmp_path):
    sc = make_scene(2, "collision", 3.0, 160, 120)
    url = tmp_path / "deep" / "dir" / "clip.mp4"
    assert write_mp4(sc, str(url), gop=30) == str(url)
    name, rate, pix_fmt, frames, keys = decode(str(url))
    assert name == "h264" and rate == 30 and pix_fmt == "yuv420p"
    assert len(frames) == sc.num_frames == 90
    assert keys == [0, 30, 60]  # a fixed GOP like a camera
    for i in (0, 45, 89):
        mse = np.mean((frames[i].astype(float) - sc.frame(i).astype(float)) ** 2)
        assert 10 * np.log10(255**2 / mse) > 28
    write_mp4(sc, f"file://{tmp_path}/default_gop.mp4")
    assert decode(str(tmp_path / "default_gop.mp4"))[4] == [0, 60]  # default: 2 s


@pytest.mark.timeout(180)
def test_write_mp4_hevc(tmp_path):
    sc = make_scene(3, "running", 2.0, 160, 120, fps=25.0)
    write_mp4(sc, str(tmp_path / "clip.mp4"), codec="hevc", gop=25)
    name, rate, pix_fmt, frames, keys = decode(str(tmp_path / "clip.mp4"))
    assert name == "hevc" and rate == 25 and pix_fmt == "yuv420p"
    assert len(frames) == 50 and keys == [0, 25]
    for i in (0, 20, 49):
        mse = np.mean((frames[i].astype(float) - sc.frame(i).astype(float)) ** 2)
        assert 10 * np.log10(255**2 / mse) > 28
    with pytest.raises(ValueError, match="codec"):
        write_mp4(sc, str(tmp_path / "x.mp4"), codec="vp9")


def _encoder_options(path) -> str:
    """The encoder's own settings line that x264 and x265 write into the stream."""
    found = re.search(rb"options: [ -~]+", open(path, "rb").read())  # printable up to the next byte
    assert found, f"{path}: no encoder settings in the stream"
    return found.group().decode()


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "codec, one_thread",
    [
        ("h264", ("threads=1", "lookahead_threads=1", "sliced_threads=0")),
        ("hevc", ("frame-threads=1", "numa-pools=none", "no-wpp")),
    ],
)
def test_write_mp4_encodes_on_one_thread_and_gives_the_same_bytes_twice(tmp_path, codec, one_thread):
    # A synthetic archive is training data: threaded x264 once gave one video of the demo
    # VA-GPT's archive other bytes in a second build of the same commit. One thread cannot.
    sc = make_scene(4, "fighting", 2.0, 320, 240, fps=25.0)
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    write_mp4(sc, str(a), codec=codec, gop=25)
    write_mp4(sc, str(b), codec=codec, gop=25)
    options = _encoder_options(a).split()
    assert all(o in options for o in one_thread), options
    assert a.read_bytes() == b.read_bytes()

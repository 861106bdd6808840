"""Encoding synthetic scenes to mp4 (h264, hevc): frame count, rate, fixed GOP, fidelity."""

from __future__ import annotations

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

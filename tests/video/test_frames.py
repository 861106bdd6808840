"""Damage: a cut file yields its frames before the damage, with every strategy."""

from __future__ import annotations

import numpy as np
import pytest

from tests.video.media import decode_all, indices


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

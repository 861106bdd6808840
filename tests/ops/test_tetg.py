"""TETG: scores -> time-stamped tokens. Pure functions, checked against plain loops."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from va_gpt.config import TetgConfig
from va_gpt.ops import tetg

CFG = TetgConfig(encoding="text", num_buckets=10, max_frames=64, high=0.5)


def curve(n=40, fps=2.0, spike=(25, 35)):
    t = np.arange(n) / fps
    s = np.full(n, 0.03)
    s[spike[0] : spike[1]] = 0.9
    return t, s


@pytest.mark.timeout(10)
def test_text_round_trip_times_scores_and_spans():
    t, s = curve()
    text = tetg.encode(t, s, CFG)
    assert text.startswith("anomaly scores: 0.0s:0.03 0.5s:0.03 ")
    assert text.endswith("; high: 12.5-17.0s")
    back = tetg.parse(text)
    np.testing.assert_allclose(back.t, t, atol=0.05)
    np.testing.assert_allclose(back.scores, s, atol=0.005)
    assert back.spans == [(12.5, 17.0)]


@pytest.mark.timeout(10)
def test_times_keep_one_decimal_in_seconds():
    t = np.array([0.0, 0.333, 61.25, 3600.04])
    text = tetg.encode(t, np.array([0.1, 0.2, 0.7, 0.1]), CFG)
    assert "0.3s:0.20" in text and "61.2s:0.70" in text and "3600.0s:0.10" in text
    assert "high: 61.2-61.2s" in text  # a one-frame span still names its time


@pytest.mark.timeout(10)
def test_several_spans_and_none():
    t = np.arange(10) * 1.0
    s = np.array([0.9, 0.9, 0.1, 0.6, 0.1, 0.1, 0.5, 0.5, 0.5, 0.49])
    assert tetg.high_spans(t, s, 0.5) == [(0.0, 1.0), (3.0, 3.0), (6.0, 8.0)]
    assert tetg.encode(t, np.zeros(10), CFG).endswith("; high: none")
    s2 = np.zeros(10)
    s2[-2:] = 1.0  # a span running to the last frame is closed there
    assert tetg.high_spans(t, s2, 0.5) == [(8.0, 9.0)]


def pool_loop(t, s, m):
    n = len(t)
    if n <= m:
        return list(t), list(s)
    # np.array_split: the first n % m runs have one extra frame.
    base, extra = divmod(n, m)
    ot, os_, i = [], [], 0
    for r in range(m):
        size = base + (1 if r < extra else 0)
        ot.append(t[i])
        os_.append(max(s[i : i + size]))
        i += size
    return ot, os_


@pytest.mark.timeout(10)
@pytest.mark.parametrize("n,m", [(100, 7), (64, 64), (65, 64), (5, 8), (1000, 32)])
def test_pool_matches_loop_and_bounds_entries(n, m):
    rng = np.random.default_rng(n)
    t = np.sort(rng.uniform(0, 100, n))
    s = rng.uniform(0, 1, n)
    pt, ps = tetg.pool(t, s, m)
    lt, ls = pool_loop(t, s, m)
    np.testing.assert_array_equal(pt, lt)
    np.testing.assert_array_equal(ps, ls)
    assert len(pt) == min(n, m)
    text = tetg.encode(t, s, dataclasses.replace(CFG, max_frames=m))
    assert len(tetg.parse(text).t) == min(n, m)


@pytest.mark.timeout(10)
def test_pooling_keeps_a_one_frame_spike():
    t = np.arange(1000) * 0.1
    s = np.zeros(1000)
    s[517] = 0.97
    pt, ps = tetg.pool(t, s, 10)
    assert ps.max() == 0.97 and pt[np.argmax(ps)] <= t[517]


@pytest.mark.timeout(10)
def test_bucket_boundaries():
    s = np.array([0.0, 0.0999, 0.1, 0.1999, 0.5, 0.8999, 0.9, 0.99, 1.0])
    assert tetg.bucketize(s, 10).tolist() == [0, 0, 1, 1, 5, 8, 9, 9, 9]
    assert tetg.bucketize(np.array([0.0, 0.24, 0.25, 0.5, 0.75, 1.0]), 4).tolist() == [0, 0, 1, 2, 3, 3]
    loop = [min(int(x * 7), 6) for x in np.linspace(0, 1, 101)]
    assert tetg.bucketize(np.linspace(0, 1, 101), 7).tolist() == loop


@pytest.mark.timeout(10)
def test_embedding_encoding_time_then_bucket_token():
    t, s = curve(n=6, spike=(2, 4))
    cfg = dataclasses.replace(CFG, encoding="embedding")
    text = tetg.encode(t, s, cfg)
    assert text == (
        "anomaly scores: 0.0s<score_0> 0.5s<score_0> 1.0s<score_9> 1.5s<score_9> 2.0s<score_0> "
        "2.5s<score_0> ; high: 1.0-1.5s"
    )
    back = tetg.parse(text, num_buckets=10)
    np.testing.assert_allclose(back.t, t)
    np.testing.assert_allclose(back.scores, [0.05, 0.05, 0.95, 0.95, 0.05, 0.05])
    assert tetg.score_tokens(3) == ["<score_0>", "<score_1>", "<score_2>"]


@pytest.mark.timeout(10)
def test_none_encoding_is_empty():
    t, s = curve()
    assert tetg.encode(t, s, dataclasses.replace(CFG, encoding="none")) == ""


@pytest.mark.timeout(10)
def test_nan_score_names_the_frame():
    t, s = curve()
    s[7] = np.nan
    with pytest.raises(ValueError, match=r"frame 7 \(t=3.50s\).*nan"):
        tetg.encode(t, s, CFG)
    s[7] = 1.5
    with pytest.raises(ValueError, match=r"frame 7 .*outside"):
        tetg.encode(t, s, CFG)
    with pytest.raises(ValueError, match="equal length"):
        tetg.encode(t, s[:-1], CFG)
    t2 = t.copy()
    t2[4] = 0.0
    with pytest.raises(ValueError, match="frame 4"):
        tetg.encode(t2, np.zeros_like(t2), CFG)


KINDS = ("normal", "fighting", "falling", "abandoned_object")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("encoding", ["text", "embedding"])
def test_kind_phrase_ends_the_segment_and_reads_back(encoding):
    t, s = curve()
    cfg = dataclasses.replace(CFG, encoding=encoding, kind=True)
    text = tetg.encode(t, s, cfg, "abandoned_object")
    assert text.endswith("; high: 12.5-17.0s ; kind: abandoned object")
    back = tetg.parse(text)
    assert back.kind == "abandoned_object" and back.spans == [(12.5, 17.0)]
    assert tetg.encode(t, s, cfg, None).endswith("; kind: none")
    assert tetg.parse(tetg.encode(t, s, cfg, None)).kind is None
    # off (the default, and the 7B preset): no phrase whatever kind is given
    assert "kind" not in tetg.encode(t, s, CFG, "falling")
    assert (
        tetg.encode(np.zeros(0), np.zeros(0), cfg, "falling")
        == "anomaly scores: none ; high: none ; kind: falling"
    )


@pytest.mark.timeout(10)
def test_window_kind_follows_the_high_frames_not_the_quiet_ones():
    s = np.array([0.05, 0.05, 0.05, 0.9, 0.8, 0.6])
    kp = np.zeros((6, 4))
    kp[:3] = [0.1, 0.8, 0.05, 0.05]  # quiet frames lean to fighting
    kp[3:] = [0.1, 0.1, 0.7, 0.1]  # the high frames to falling
    assert tetg.window_kind(s, kp, KINDS, 0.5) == "falling"
    assert tetg.window_kind(s, kp, KINDS, 0.95) is None  # no frame reaches high
    assert tetg.window_kind(s, None, KINDS, 0.5) is None
    # the score weights the frames: one very high frame outweighs two barely high ones
    kp2 = np.array([[0, 0.6, 0.4, 0], [0, 0.6, 0.4, 0], [0, 0, 0, 1.0]])
    assert tetg.window_kind(np.array([0.5, 0.5, 1.0]), kp2, KINDS, 0.5) == "abandoned_object"
    with pytest.raises(ValueError, match="kind_prob has 3 kinds per frame"):
        tetg.window_kind(s, kp[:, :3], KINDS, 0.5)

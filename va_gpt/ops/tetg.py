"""TETG, Temporal Effective Token Generation: per-frame anomaly scores -> tokens for the LLM.

A lightweight classifier gives every sampled frame an anomaly probability.
TETG turns that curve into a short segment of the LLM's input, in its language
space, so the LLM knows *when* to look. Every encoding carries times in
seconds (of the source video), so the LLM can answer "when" questions.

Encodings (`TetgConfig.encoding`):

- ``text``: a compact time-stamped score string, pooled to at most
  ``max_frames`` entries, plus the high-score spans as interval phrases::

      anomaly scores: 0.0s:0.02 0.5s:0.03 ... 12.5s:0.91 ; high: 12.5-17.0s

- ``embedding``: every (pooled) frame is its time as text followed by one
  special score-bucket token ``<score_b>`` (b in 0..num_buckets-1). The bucket
  tokens are added to the tokenizer and their embedding rows are trained::

      anomaly scores: 0.0s<score_0> 0.5s<score_0> ... 12.5s<score_9> ; high: 12.5-17.0s

- ``none``: no temporal tokens (the ablation); ``encode`` returns "".

With ``TetgConfig.kind`` the segment ends with the classifier's anomaly kind of the window
(`window_kind`: its kind head where its scores are high; "none" when no frame reaches
``high``)::

      anomaly scores: 0.0s:0.02 ... 12.5s:0.91 ; high: 12.5-17.0s ; kind: falling

The small LLM cannot tell a fall from a fight in a few tokens per frame; the kind head can, and
a description written after a judgement the LLM did not see in its input mixes kinds ("a group
of people happens dangerous" after "Judgement: abandoned object").

Pure numpy functions, no torch, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from va_gpt.config import TetgConfig
from va_gpt.taxonomy import display, parse_kind

ENCODINGS = ("text", "embedding", "none")
PREFIX = "anomaly scores:"


def score_token(bucket: int) -> str:
    """The special token of one score bucket."""
    return f"<score_{bucket}>"


def score_tokens(num_buckets: int) -> list[str]:
    """All bucket tokens, in bucket order: what the tokenizer must hold as special tokens."""
    return [score_token(b) for b in range(num_buckets)]


def check_scores(t: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate one video's curve. t [T] seconds, scores [T] in [0, 1] -> (float64 [T], float64 [T]).

    A NaN / infinite / out-of-range score raises ValueError naming the frame
    (index and time); so does a NaN time or a time that goes backwards.
    """
    t = np.asarray(t, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if t.ndim != 1 or s.ndim != 1 or t.shape != s.shape:
        raise ValueError(f"t and scores must be 1-D of equal length, got {t.shape} and {s.shape}")
    for i in range(len(t)):
        if not np.isfinite(t[i]):
            raise ValueError(f"frame {i}: time is {t[i]}")
        if not np.isfinite(s[i]):
            raise ValueError(f"frame {i} (t={t[i]:.2f}s): score is {s[i]}")
        if not 0.0 <= s[i] <= 1.0:
            raise ValueError(f"frame {i} (t={t[i]:.2f}s): score {s[i]} is outside [0, 1]")
    bad = np.flatnonzero(np.diff(t) < 0)
    if len(bad):
        i = int(bad[0]) + 1
        raise ValueError(f"frame {i}: time {t[i]:.3f}s is before frame {i - 1}'s {t[i - 1]:.3f}s")
    return t, s


def pool(t: np.ndarray, scores: np.ndarray, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Pool a curve to at most `max_frames` entries.

    t [T], scores [T] -> t [M], scores [M], M = min(T, max_frames). The frames
    are split into M contiguous, nearly equal runs (np.array_split); each run
    becomes one entry: the time of its first frame and the MAX of its scores
    (max, not mean, so a short spike survives pooling).
    """
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    t = np.asarray(t, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    n = len(t)
    if n <= max_frames:
        return t.copy(), scores.copy()
    runs = np.array_split(np.arange(n), max_frames)  # M runs of frame indices
    return np.array([t[r[0]] for r in runs]), np.array([scores[r].max() for r in runs])


def high_spans(t: np.ndarray, scores: np.ndarray, threshold: float) -> list[tuple[float, float]]:
    """Maximal runs of consecutive frames with score >= threshold, as (t_first, t_last) seconds."""
    spans: list[tuple[float, float]] = []
    start = None
    for i in range(len(t)):
        if scores[i] >= threshold:
            if start is None:
                start = i
        elif start is not None:
            spans.append((float(t[start]), float(t[i - 1])))
            start = None
    if start is not None:
        spans.append((float(t[start]), float(t[-1])))
    return spans


def bucketize(scores: np.ndarray, num_buckets: int) -> np.ndarray:
    """scores [T] in [0, 1] -> bucket ids int64 [T] in [0, num_buckets).

    Bucket b holds [b / n, (b + 1) / n); the last bucket also holds 1.0.
    """
    s = np.asarray(scores, dtype=np.float64)
    return np.minimum(np.floor(s * num_buckets), num_buckets - 1).astype(np.int64)


def bucket_centre(bucket: np.ndarray | int, num_buckets: int) -> np.ndarray:
    """The score a bucket stands for when read back: its centre."""
    return (np.asarray(bucket, dtype=np.float64) + 0.5) / num_buckets


def _fmt_t(x: float) -> str:
    return f"{x:.1f}"


def _spans_phrase(spans: list[tuple[float, float]]) -> str:
    if not spans:
        return "high: none"
    return "high: " + ", ".join(f"{_fmt_t(a)}-{_fmt_t(b)}s" for a, b in spans)


def window_kind(
    scores: np.ndarray, kind_prob: np.ndarray | None, kinds: tuple[str, ...], high: float
) -> str | None:
    """The classifier's anomaly kind of a window: scores [T], kind_prob [T, K] over `kinds`
    (kinds[0] is `normal`) -> the anomaly kind with the highest score-weighted mean probability
    over the frames scoring >= `high`; None when no frame does (or there are no kind probabilities)."""
    if kind_prob is None or len(kinds) < 2:
        return None
    s = np.asarray(scores, dtype=np.float64)
    kp = np.asarray(kind_prob, dtype=np.float64).reshape(len(s), -1)
    if kp.shape[1] != len(kinds):
        raise ValueError(f"kind_prob has {kp.shape[1]} kinds per frame, the kind head {len(kinds)}")
    on = s >= high
    if not on.any():
        return None
    return kinds[1 + int(np.argmax((s[on, None] * kp[on, 1:]).sum(0)))]


def _kind_phrase(kind: str | None) -> str:
    return f" ; kind: {display(kind) if kind else 'none'}"


def encode(t: np.ndarray, scores: np.ndarray, cfg: TetgConfig, kind: str | None = None) -> str:
    """One video's curve (t [T] seconds, scores [T]) -> the TETG segment of the LLM input;
    with cfg.kind the classifier's `kind` of the window ends it (None: "kind: none")."""
    if cfg.encoding not in ENCODINGS:
        raise ValueError(f"tetg encoding must be one of {ENCODINGS}, got {cfg.encoding!r}")
    if cfg.encoding == "none":
        return ""
    tail = _kind_phrase(kind) if cfg.kind else ""
    t, s = check_scores(t, scores)
    if len(t) == 0:
        return f"{PREFIX} none ; high: none{tail}"
    spans = _spans_phrase(high_spans(t, s, cfg.high))  # on the full-rate curve, before pooling
    tp, sp = pool(t, s, cfg.max_frames)  # [M], [M]
    if cfg.encoding == "text":
        entries = [f"{_fmt_t(a)}s:{b:.2f}" for a, b in zip(tp, sp)]
    else:  # embedding
        entries = [f"{_fmt_t(a)}s{score_token(int(b))}" for a, b in zip(tp, bucketize(sp, cfg.num_buckets))]
    return f"{PREFIX} {' '.join(entries)} ; {spans}{tail}"


@dataclass
class Parsed:
    t: np.ndarray  # [M] seconds
    scores: np.ndarray  # [M] scores (bucket centres for the embedding encoding)
    spans: list[tuple[float, float]]
    kind: str | None = None  # the " ; kind: x" phrase's kind (None for "none" or no phrase)


_TEXT_ENTRY = re.compile(r"(-?\d+(?:\.\d+)?)s:(\d+(?:\.\d+)?)")
_EMB_ENTRY = re.compile(r"(-?\d+(?:\.\d+)?)s<score_(\d+)>")
_SPAN = re.compile(r"(-?\d+(?:\.\d+)?)-(-?\d+(?:\.\d+)?)s")


def parse(text: str, num_buckets: int = 10) -> Parsed:
    """Read a TETG segment (either encoding) back into numbers; the inverse of `encode` up to rounding."""
    if not text.startswith(PREFIX):
        raise ValueError(f"not a TETG segment (must start with {PREFIX!r}): {text[:60]!r}")
    body, _, tail = text[len(PREFIX) :].partition(";")
    text_entries = _TEXT_ENTRY.findall(body)
    emb_entries = _EMB_ENTRY.findall(body)
    if emb_entries:
        t = np.array([float(a) for a, _ in emb_entries])
        s = bucket_centre(np.array([int(b) for _, b in emb_entries]), num_buckets)
    else:
        t = np.array([float(a) for a, _ in text_entries])
        s = np.array([float(b) for _, b in text_entries])
    tail, _, kind = tail.partition("; kind:")
    spans = [(float(a), float(b)) for a, b in _SPAN.findall(tail)]
    return Parsed(t=t, scores=s, spans=spans, kind=parse_kind(kind) if kind.strip() else None)

"""Evaluation metrics, pure numpy, no I/O.

Frame level, as the field computes them (README of shared/benchmarks):

- :func:`expand_scores_to_frames` holds each sampled score on every native
  frame up to the next sample, so scores and per-frame ground truth line up;
- :func:`frame_auc`: ROC AUC over all frames of all test videos concatenated
  (UCF-Crime, ShanghaiTech), the same number as sklearn ``roc_auc_score``;
- :func:`frame_ap`: XD-Violence AP in both readings in use: ``"sklearn"`` =
  ``average_precision_score`` (step-wise, VadCLIP) and ``"trapezoid"`` =
  ``auc(recall, precision)`` over ``precision_recall_curve`` (RTFM, LAVAD, VERA).
  Report both; they differ by a few points on the same scores.

Interval level: :func:`temporal_iou`, :func:`match_intervals` (greedy
one-to-one by IoU), :func:`interval_precision_recall` at IoU thresholds.

Text: :func:`qa_accuracy` (multiple-choice with a free-form answer parser,
total and temporal accuracy), :func:`bleu` (corpus BLEU with brevity penalty
and smoothing) and :func:`rouge_l`.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "IntervalScores",
    "QAResult",
    "bleu",
    "expand_scores_to_frames",
    "frame_ap",
    "frame_auc",
    "interval_precision_recall",
    "match_intervals",
    "pairwise_iou",
    "parse_choice",
    "qa_accuracy",
    "rouge_l",
    "temporal_iou",
    "tokenize",
]


# --------------------------------------------------------------------------- frame level


def _binary_inputs(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.shape[0]} vs {y.shape[0]}")
    if s.size == 0:
        raise ValueError("empty scores")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0/1")
    y = y.astype(bool)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise ValueError(f"labels need both classes, got {n_pos} positives of {y.size}")
    return s, y


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of x (N,), ties given their mean rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # boundaries of runs of equal values
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    run_len = ends - starts
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, run_len)
    return ranks


def frame_auc(scores, labels) -> float:
    """ROC AUC of scores (N,) against 0/1 labels (N,).

    Computed as the Mann-Whitney statistic with tied scores counted half,
    which equals the area under the ROC curve (and sklearn's
    ``roc_auc_score``). Both classes must be present.
    """
    s, y = _binary_inputs(scores, labels)
    ranks = _average_ranks(s)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _pr_curve(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold, highest threshold first."""
    order = np.argsort(-s, kind="mergesort")
    ss, ys = s[order], y[order]
    last_of_run = np.r_[ss[1:] != ss[:-1], True]  # threshold = each distinct score
    tps = np.cumsum(ys)[last_of_run].astype(np.float64)
    fps = np.cumsum(~ys)[last_of_run].astype(np.float64)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return precision, recall


def frame_ap(scores, labels, reading: str = "sklearn") -> float:
    """Average precision of scores (N,) against 0/1 labels (N,), in one of the field's two readings.

    reading="sklearn":   sum_k (R_k - R_{k-1}) * P_k over distinct thresholds,
                         highest first, R_0 = 0 (sklearn ``average_precision_score``,
                         VadCLIP's XD-Violence AP).
    reading="trapezoid": trapezoidal area under the precision-recall points
                         of ``precision_recall_curve`` plus its (R=0, P=1) end
                         point, i.e. ``sklearn.metrics.auc(recall, precision)``
                         (RTFM, LAVAD, VERA).
    """
    s, y = _binary_inputs(scores, labels)
    precision, recall = _pr_curve(s, y)
    r = np.r_[0.0, recall]
    p = np.r_[1.0, precision]
    dr = np.diff(r)
    if reading == "sklearn":
        return float(np.sum(dr * p[1:]))
    if reading == "trapezoid":
        return float(np.sum(dr * (p[1:] + p[:-1]) / 2.0))
    raise ValueError(f"reading must be 'sklearn' or 'trapezoid', got {reading!r}")


def expand_scores_to_frames(t_s, scores, n_frames: int, native_fps: float) -> np.ndarray:
    """Hold sampled scores onto every native frame.

    t_s:     (T,) sample times in seconds, non-decreasing
    scores:  (T,) one score per sample
    returns: (n_frames,) float; native frame i (at i / native_fps) takes the
             score of the latest sample at or before it. Frames before the
             first sample take the first sample's score. Comparison is made in
             frame units with a 1e-6 tolerance, so a sample at 1/3 s covers
             frame 10 at 30 fps despite float rounding.
    """
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    v = np.asarray(scores)
    v = v.astype(v.dtype if np.issubdtype(v.dtype, np.floating) else np.float64).reshape(-1)
    if t.shape != v.shape:
        raise ValueError(f"t_s and scores differ in length: {t.shape[0]} vs {v.shape[0]}")
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    if native_fps <= 0:
        raise ValueError(f"native_fps must be > 0, got {native_fps}")
    if n_frames == 0:
        return np.zeros(0, dtype=v.dtype)
    if t.size == 0:
        raise ValueError("no samples to expand")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise ValueError("t_s must be finite and non-decreasing")
    sample_frame = t * float(native_fps) - 1e-6  # (T,) sample positions in native frames
    idx = np.searchsorted(sample_frame, np.arange(int(n_frames), dtype=np.float64), side="right") - 1
    return v[np.clip(idx, 0, t.size - 1)]


# --------------------------------------------------------------------------- intervals


def temporal_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two intervals (start, end): overlap length / union length; 0 if disjoint or both empty."""
    a0, a1 = float(a[0]), float(a[1])
    b0, b1 = float(b[0]), float(b[1])
    if a1 < a0 or b1 < b0:
        raise ValueError(f"interval with end before start: {a!r}, {b!r}")
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = (a1 - a0) + (b1 - b0) - inter
    return inter / union if union > 0 else 0.0


def _intervals(x, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{what}: expected (N, 2) intervals, got shape {arr.shape}")
    if np.any(arr[:, 1] < arr[:, 0]):
        raise ValueError(f"{what}: interval with end before start")
    return arr


def pairwise_iou(pred, gt) -> np.ndarray:
    """IoU matrix (P, G) between intervals pred (P, 2) and gt (G, 2)."""
    p = _intervals(pred, "pred")
    g = _intervals(gt, "gt")
    inter = np.clip(
        np.minimum(p[:, None, 1], g[None, :, 1]) - np.maximum(p[:, None, 0], g[None, :, 0]), 0, None
    )
    union = (p[:, None, 1] - p[:, None, 0]) + (g[None, :, 1] - g[None, :, 0]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou


def match_intervals(pred, gt, iou_threshold: float) -> tuple[int, int, int, list[tuple[int, int, float]]]:
    """Greedy one-to-one matching of predicted to ground-truth intervals.

    pred (P, 2), gt (G, 2). All pairs with IoU >= iou_threshold and IoU > 0
    are taken in order of decreasing IoU (ties: lower pred index, then lower
    gt index); a pair is matched when neither side is matched yet.
    Returns (tp, fp, fn, matches): tp = matched pairs, fp = unmatched
    predictions, fn = unmatched ground truths, matches = [(pred_idx, gt_idx, iou)]
    in matching order.
    """
    iou = pairwise_iou(pred, gt)
    n_pred, n_gt = iou.shape
    pi, gi = np.nonzero((iou >= iou_threshold) & (iou > 0))
    vals = iou[pi, gi]
    order = np.lexsort((gi, pi, -vals))
    used_p: set[int] = set()
    used_g: set[int] = set()
    matches: list[tuple[int, int, float]] = []
    for k in order:
        p, g = int(pi[k]), int(gi[k])
        if p in used_p or g in used_g:
            continue
        used_p.add(p)
        used_g.add(g)
        matches.append((p, g, float(vals[k])))
    tp = len(matches)
    return tp, n_pred - tp, n_gt - tp, matches


@dataclass(frozen=True)
class IntervalScores:
    """Interval detection counts and rates at one IoU threshold (summed over videos)."""

    threshold: float
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


def interval_precision_recall(
    pred_by_video: Mapping[str, Sequence],
    gt_by_video: Mapping[str, Sequence],
    thresholds: Sequence[float] = (0.3, 0.5, 0.7),
) -> dict[float, IntervalScores]:
    """Precision / recall / F1 of predicted intervals, matched per video, counts summed over videos.

    A video missing from one mapping has no intervals there. With no
    predictions precision is 1.0 if there is also no ground truth, else 0.0;
    likewise recall is 1.0 when there is no ground truth at all.
    """
    out: dict[float, IntervalScores] = {}
    videos = sorted(set(pred_by_video) | set(gt_by_video))
    for thr in thresholds:
        tp = fp = fn = 0
        for v in videos:
            t, f, n, _ = match_intervals(pred_by_video.get(v, ()), gt_by_video.get(v, ()), thr)
            tp, fp, fn = tp + t, fp + f, fn + n
        precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[float(thr)] = IntervalScores(float(thr), tp, fp, fn, precision, recall, f1)
    return out


# --------------------------------------------------------------------------- question answering

_LETTERS = string.ascii_uppercase


def _normalize_text(text: str) -> str:
    text = text.lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def parse_choice(text: str, options: Sequence[str] | Mapping[str, str] | None = None) -> str | None:
    """The option letter a free-form answer picks, or None.

    Recognised, in order: ``(B)`` anywhere; a lone ``B`` or ``B.``, ``B)``,
    ``B:`` at the start; ``answer is B`` / ``option B`` / ``Answer: B``. Only
    upper-case letters count, and a leading letter must be alone or followed
    by ``.):`` (so "A man ..." is not option A); with ``options`` only their
    letters count. If no letter is found and options are
    given, the option whose text appears in the answer (whole words, case and
    punctuation ignored) is taken; when several appear, the longest one that
    contains all the others wins, otherwise it is ambiguous (None).

    options: texts in letter order (``["fighting", "normal"]`` = A, B) or a
    mapping letter -> text.
    """
    if options is None:
        opts: dict[str, str] = {}
    elif isinstance(options, Mapping):
        opts = {str(k).strip().upper(): str(v) for k, v in options.items()}
    else:
        opts = {_LETTERS[i]: str(v) for i, v in enumerate(options)}
    valid = "".join(opts) if opts else _LETTERS
    letter = f"[{re.escape(valid)}]"
    stripped = text.strip().strip("*`'\"").strip()
    patterns = (
        rf"\(({letter})\)",  # (B) anywhere
        rf"^({letter})(?:[.):]|$)",  # B / B. / B) / B: at the start
        rf"\b(?i:answer|option|choice)\s*(?i:is)?\s*:?\s*\(?({letter})\b",  # answer is B, Option: B
    )
    for pat in patterns:
        m = re.search(pat, stripped)
        if m:
            return m.group(1)
    if not opts:
        return None
    answer = f" {_normalize_text(stripped)} "
    hits = [k for k, v in opts.items() if _normalize_text(v) and f" {_normalize_text(v)} " in answer]
    if len(hits) == 1:
        return hits[0]
    if hits:
        longest = max(hits, key=lambda k: len(_normalize_text(opts[k])))
        if all(f" {_normalize_text(opts[k])} " in f" {_normalize_text(opts[longest])} " for k in hits):
            return longest
    return None


@dataclass(frozen=True)
class QAResult:
    """QA accuracy: total over all questions, temporal over questions of kind ``temporal``.

    temporal is None when there is no temporal question. correct (N,) bool
    per question; per_kind maps each kind to its accuracy.
    """

    total: float
    temporal: float | None
    n: int
    n_temporal: int
    correct: np.ndarray = field(repr=False)
    per_kind: dict[str, float]


def qa_accuracy(
    predictions: Sequence[str],
    answers: Sequence[str],
    kinds: Sequence[str],
    options: Sequence[Sequence[str] | Mapping[str, str] | None] | None = None,
) -> QAResult:
    """Multiple-choice accuracy of free-form predictions.

    predictions, answers, kinds: (N,) strings. answers give the correct option
    as a letter (``"B"``, ``"(B)"``, ``"B. fighting"``) or, with options, its
    text. A prediction is correct when :func:`parse_choice` finds the same
    letter. If an answer has no letter and there are no options, the
    normalised texts are compared. kinds label each question; the temporal
    accuracy is over kinds equal to ``temporal`` (case-insensitive).
    options: optional (N,) per-question option lists / mappings.
    """
    n = len(predictions)
    if len(answers) != n or len(kinds) != n:
        raise ValueError(f"lengths differ: {n} predictions, {len(answers)} answers, {len(kinds)} kinds")
    if options is not None and len(options) != n:
        raise ValueError(f"lengths differ: {n} predictions, {len(options)} option lists")
    if n == 0:
        raise ValueError("no questions")
    correct = np.zeros(n, dtype=bool)
    for i, (pred, ans) in enumerate(zip(predictions, answers)):
        opts = options[i] if options is not None else None
        gold = parse_choice(ans, opts)
        if gold is None:
            correct[i] = _normalize_text(pred) == _normalize_text(ans) and bool(_normalize_text(ans))
        else:
            correct[i] = parse_choice(pred, opts) == gold
    kinds_l = [str(k).lower() for k in kinds]
    temporal = np.array([k == "temporal" for k in kinds_l], dtype=bool)
    per_kind = {k: float(correct[[x == k for x in kinds_l]].mean()) for k in dict.fromkeys(kinds_l)}
    return QAResult(
        total=float(correct.mean()),
        temporal=float(correct[temporal].mean()) if temporal.any() else None,
        n=n,
        n_temporal=int(temporal.sum()),
        correct=correct,
        per_kind=per_kind,
    )


# --------------------------------------------------------------------------- text generation

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens: ``"The dog's bark."`` -> the dog ' s bark ."""
    return _TOKEN_RE.findall(text.lower())


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _references(references: Sequence, n_cand: int) -> list[list[str]]:
    if len(references) != n_cand:
        raise ValueError(f"{n_cand} candidates but {len(references)} references")
    return [[r] if isinstance(r, str) else list(r) for r in references]


def bleu(
    candidates: Sequence[str], references: Sequence[str | Sequence[str]], n: int = 4, epsilon: float = 0.1
) -> float:
    """Corpus BLEU-n (Papineni et al. 2002), uniform weights, in [0, 1].

    candidates: (N,) strings; references: (N,) strings or lists of strings
    (several references per candidate). Text is split by :func:`tokenize`.
    Per order k, clipped k-gram matches and candidate k-gram counts are summed
    over the corpus, p_k = matches / count. Smoothing (Chen & Cherry 2014,
    method 1): an order with no match uses epsilon / count (epsilon=0: no
    smoothing, BLEU is 0 when an order has no match). Orders for which
    the corpus has no candidate k-gram at all (every sentence shorter than k)
    are left out of the geometric mean. Brevity penalty exp(1 - r / c) when
    c <= r, with r the summed reference length closest to each candidate's
    (shorter on ties). Returns 0 for an empty corpus output.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    refs = _references(references, len(candidates))
    matches = np.zeros(n)
    totals = np.zeros(n)
    c_len = r_len = 0
    for cand, rs in zip(candidates, refs):
        ct = tokenize(cand)
        rts = [tokenize(r) for r in rs]
        if not rts:
            raise ValueError("a candidate without reference")
        c_len += len(ct)
        r_len += min((abs(len(r) - len(ct)), len(r)) for r in rts)[1]
        for k in range(1, n + 1):
            cg = _ngrams(ct, k)
            if not cg:
                continue
            max_ref: Counter = Counter()
            for r in rts:
                max_ref |= _ngrams(r, k)
            matches[k - 1] += sum(min(c, max_ref[g]) for g, c in cg.items())
            totals[k - 1] += sum(cg.values())
    if c_len == 0:
        return 0.0
    logs = []
    for k in range(n):
        if totals[k] == 0:
            continue
        m = matches[k] if matches[k] > 0 else epsilon
        if m <= 0:  # no smoothing and no match of this order
            return 0.0
        logs.append(math.log(m / totals[k]))
    bp = 1.0 if c_len > r_len else math.exp(1.0 - r_len / c_len)
    return float(bp * math.exp(sum(logs) / len(logs)))


def _lcs(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidates: Sequence[str], references: Sequence[str | Sequence[str]], beta: float = 1.2) -> float:
    """Mean sentence ROUGE-L F-measure (Lin 2004) over the corpus, in [0, 1].

    Per candidate: P = LCS / len(candidate), R = LCS / len(reference),
    F = (1 + beta^2) P R / (R + beta^2 P), taking the best reference; beta
    1.2 as in the COCO caption evaluation. Tokens from :func:`tokenize`.
    """
    refs = _references(references, len(candidates))
    if not candidates:
        raise ValueError("no candidates")
    scores = []
    for cand, rs in zip(candidates, refs):
        ct = tokenize(cand)
        best = 0.0
        for r in rs:
            rt = tokenize(r)
            lcs = _lcs(ct, rt)
            if lcs == 0:
                continue
            p, rec = lcs / len(ct), lcs / len(rt)
            best = max(best, (1 + beta**2) * p * rec / (rec + beta**2 * p))
        scores.append(best)
    return float(np.mean(scores))

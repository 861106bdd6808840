"""Frame-level AUC and AP of a nightly results folder against benchmark annotations.

The results folder's Parquet `frame_scores` + `videos` (read with va_gpt.lake.query)
against annotations matched by file name (va_gpt.eval.annotations). Scores are
held on every native frame (`expand_scores_to_frames`, at the video's native fps
from the `videos` table) and the annotation gives per-native-frame labels,
half-open ``[start, end)`` (VadCLIP's reading). Over all frames of all matched
videos concatenated: ROC AUC, and AP in both readings: ``ap_sklearn``
(average_precision_score, VadCLIP) and ``ap_trapezoid`` (auc(recall,
precision), RTFM / LAVAD / VERA).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from va_gpt.data import benchmarks as bm
from va_gpt.eval.annotations import match_results
from va_gpt.eval.errors import EvaluationError
from va_gpt.lake.query import query
from va_gpt.ops.metrics import expand_scores_to_frames, frame_ap, frame_auc


@dataclass
class FrameMetrics:
    auc: float
    ap_sklearn: float  # average_precision_score (step-wise; VadCLIP's XD-Violence AP)
    ap_trapezoid: float  # auc(recall, precision) (RTFM, LAVAD, VERA)
    n_videos: int
    n_frames: int
    n_positive: int
    unmatched: list[str] = field(default_factory=list)  # result videos without annotation
    missing: list[str] = field(default_factory=list)  # annotated names with no scored result video
    no_scores: list[str] = field(default_factory=list)  # matched videos without frame scores (errors)
    implicit_normal: int = 0
    reading: str = "labels [start, end) per native frame (VadCLIP); scores held to the next sample"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("unmatched", "missing", "no_scores"):
            d[f"n_{k}"] = len(d[k])
            d[k] = d[k][:20]
        return d


def frame_arrays(
    results_url: str, annotations: dict[str, bm.VideoAnnotation], storage_options: dict | None = None
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(scores [N], labels [N], info) over the native frames of every matched, scored video."""
    videos, m = match_results(results_url, annotations, storage_options)
    rows = query(
        results_url, "SELECT video_id, t, score FROM frame_scores ORDER BY video_id, t", storage_options
    ).to_pydict()
    curves: dict[str, tuple[list, list]] = {}
    for vid, t, s in zip(rows["video_id"], rows["t"], rows["score"]):
        a, b = curves.setdefault(vid, ([], []))
        a.append(t)
        b.append(s)
    all_s, all_y, no_scores = [], [], []
    by_id = {v["video_id"]: v for v in videos}
    for vid, ann in m.matched.items():
        v = by_id[vid]
        if vid not in curves:
            no_scores.append(v["uri"])
            continue
        t, s = np.asarray(curves[vid][0]), np.asarray(curves[vid][1], dtype=np.float64)
        fps = float(v["fps"]) if v.get("fps") else ann.fps
        if ann.n_frames:
            n = int(ann.n_frames)
        elif v.get("duration_s"):
            n = int(round(float(v["duration_s"]) * fps))
        else:
            n = int(np.floor(t[-1] * fps)) + 1
        all_y.append(bm.to_frame_labels(ann, n))
        all_s.append(expand_scores_to_frames(t, s, n, fps))
    if not all_s:
        raise EvaluationError(f"{results_url}: no matched video has frame scores ({len(no_scores)} without)")
    claimed = set(m.names.values())
    info = {
        "unmatched": m.unmatched,
        "missing": sorted(n for n in annotations if n not in claimed),
        "no_scores": no_scores,
        "implicit_normal": len(m.implicit_normal),
        "n_videos": len(all_s),
    }
    return np.concatenate(all_s), np.concatenate(all_y), info


def frame_metrics(
    results_url: str, annotations: dict[str, bm.VideoAnnotation], storage_options: dict | None = None
) -> FrameMetrics:
    """Frame-level AUC and both AP readings of a results folder against annotations."""
    s, y, info = frame_arrays(results_url, annotations, storage_options)
    try:
        auc = frame_auc(s, y)
        ap_s = frame_ap(s, y, "sklearn")
        ap_t = frame_ap(s, y, "trapezoid")
    except ValueError as e:
        raise EvaluationError(f"frame metrics over {info['n_videos']} matched videos: {e}") from None
    return FrameMetrics(
        auc=auc,
        ap_sklearn=ap_s,
        ap_trapezoid=ap_t,
        n_videos=info["n_videos"],
        n_frames=int(len(y)),
        n_positive=int(y.sum()),
        unmatched=info["unmatched"],
        missing=info["missing"],
        no_scores=info["no_scores"],
        implicit_normal=info["implicit_normal"],
    )

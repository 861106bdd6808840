"""Interval detection of a results folder: the `intervals` table against the annotated events,
greedy one-to-one matching, precision / recall / F1 at tIoU 0.3 / 0.5 / 0.7."""

from __future__ import annotations

import dataclasses

from va_gpt.data import benchmarks as bm
from va_gpt.eval.annotations import match_results
from va_gpt.lake.query import query
from va_gpt.ops.metrics import interval_precision_recall

IOU_THRESHOLDS = (0.3, 0.5, 0.7)


def interval_metrics(
    results_url: str,
    annotations: dict[str, bm.VideoAnnotation],
    storage_options: dict | None = None,
    thresholds=IOU_THRESHOLDS,
) -> dict:
    """Precision / recall / F1 of the `intervals` table against annotated events, per tIoU threshold."""
    videos, m = match_results(results_url, annotations, storage_options)
    fps = {v["video_id"]: (float(v["fps"]) if v.get("fps") else None) for v in videos}
    rows = query(results_url, "SELECT video_id, start_s, end_s FROM intervals", storage_options).to_pylist()
    pred: dict[str, list] = {vid: [] for vid in m.matched}
    for r in rows:
        if r["video_id"] in pred:
            pred[r["video_id"]].append((r["start_s"], r["end_s"]))
    gt = {}
    for vid, ann in m.matched.items():
        f = fps[vid] or ann.fps  # annotation frame indices are native frames of the video
        gt[vid] = [(s / f, e / f) for s, e in ann.frame_ranges()]
    res = interval_precision_recall(pred, gt, thresholds)
    return {
        "n_videos": len(m.matched),
        "n_pred": sum(len(v) for v in pred.values()),
        "n_gt": sum(len(v) for v in gt.values()),
        "by_iou": {f"{k:.1f}": dataclasses.asdict(v) for k, v in res.items()},
    }

"""The detection table of a results folder: the classifier's intervals and, as the baseline row,
the raw motion energy (`frame_scores.diff_energy`) cut into intervals the same calibrated way.

Per detector: frame AUC; event recall / precision / F1 at tIoU 0.3 / 0.5 / 0.7 (greedy
one-to-one matching, va_gpt.ops.metrics); event recall at 0.5 per kind; false intervals per
normal video; the frame AUC per kind (`frame_auc_by_kind`: each kind's event frames against
every frame of the normal videos, so a kind the detector misses shows even when the pooled
figure hides it); the 95 % bootstrap interval of the frame AUC and of the recall at tIoU 0.5
(`frame_auc_ci95`, `recall_0.5_ci95`: what another archive of the same size could give;
va_gpt.ops.metrics.video_bootstrap_ci), drawing whole cameras when the videos share them
(`ci_unit`); where the intervals sit against each kind's events (`boundaries_by_kind`: events
missed outright, the median start and end offsets of the ones found); kind accuracy (the
`intervals.label`, from the classifier's kind head, against the annotated class of the event the
interval overlaps most, on the UCF class scale so the synthetic `collision` is `RoadAccidents`). The baseline's intervals come from
va_gpt.ops.intervals.scores_to_intervals with the `diff_energy_calibration` the classifier was
trained with (calibrated on the same validation videos as its own thresholds).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from va_gpt.config import IntervalConfig
from va_gpt.data import benchmarks as bm
from va_gpt.eval.annotations import match_results
from va_gpt.eval.errors import EvaluationError
from va_gpt.lake.query import query
from va_gpt.ops.intervals import scores_to_intervals
from va_gpt.ops.metrics import (
    expand_scores_to_frames,
    frame_auc,
    interval_precision_recall,
    match_intervals,
    temporal_iou,
    video_bootstrap_ci,
)
from va_gpt.taxonomy import SYNTHETIC_UCF_CLASSES, ucf_kind

IOU_THRESHOLDS = (0.3, 0.5, 0.7)


def _kind(label: str | None) -> str | None:
    """A kind or class name on the UCF class scale (lower-case)."""
    if not label:
        return None
    return ucf_kind(SYNTHETIC_UCF_CLASSES.get(label, label))


def detector_metrics(
    pred: dict[str, list[tuple[float, float, str | None]]],
    gt: dict[str, list[tuple[float, float]]],
    gt_kind: dict[str, str | None],
    thresholds=IOU_THRESHOLDS,
) -> dict:
    """pred: video -> (start_s, end_s, label) intervals; gt: video -> events; gt_kind: video -> its
    annotated class (None: normal) -> the table row (without the frame AUC)."""
    spans = {v: [(a, b) for a, b, _ in p] for v, p in pred.items()}
    res = interval_precision_recall(spans, gt, thresholds)
    row = {"by_iou": {f"{k:.1f}": dataclasses.asdict(v) for k, v in res.items()}, "recall_0.5_by_kind": {}}
    normal = [v for v in gt if not gt[v]]
    row["false_per_normal"] = sum(len(pred.get(v, [])) for v in normal) / max(1, len(normal))
    for kind in sorted({k for k in gt_kind.values() if k}):
        vids = [v for v in gt if gt_kind[v] == kind and gt[v]]
        r = interval_precision_recall({v: spans.get(v, []) for v in vids}, {v: gt[v] for v in vids}, (0.5,))
        row["recall_0.5_by_kind"][kind] = r[0.5].recall
    row["boundaries_by_kind"] = boundaries_by_kind(spans, gt, gt_kind)
    right = total = 0
    for v, p in pred.items():
        if not gt.get(v):
            continue
        for a, b, label in p:
            if max(temporal_iou((a, b), g) for g in gt[v]) > 0 and label is not None:
                total += 1
                right += _kind(label) == gt_kind[v]
    row["kind_accuracy"] = right / total if total else None
    row["kind_intervals"] = total
    return row


def false_by_hard_negative(
    pred: dict[str, list[tuple[float, float]]],
    gt: dict[str, list[tuple[float, float]]],
    negatives: dict[str, tuple[str, ...]],
) -> dict:
    """pred: video -> intervals; gt: video -> events; negatives: video -> the hard negatives its
    scene shows -> per hard negative (and "none" for normal videos showing none): how many normal
    videos show it, the false intervals on them and per video. A video showing two counts under
    both. Why: one kind of normal scene (a person lying down) can hold every false interval of an
    archive, and the pooled false_per_normal does not say which."""
    rows: dict[str, dict] = {}
    for v, events in gt.items():
        if events:
            continue
        n_false = len(pred.get(v, []))
        for name in negatives.get(v) or ("none",):
            r = rows.setdefault(name, {"normal_videos": 0, "false_intervals": 0})
            r["normal_videos"] += 1
            r["false_intervals"] += n_false
    for r in rows.values():
        r["per_video"] = r["false_intervals"] / r["normal_videos"]
    return dict(sorted(rows.items()))


def boundaries_by_kind(
    pred: dict[str, list[tuple[float, float]]],
    gt: dict[str, list[tuple[float, float]]],
    gt_kind: dict[str, str | None],
) -> dict:
    """Where the intervals sit against the events, per kind: how many events no interval touches
    (`missed`: the scores never rose there) and, for the others, the median seconds the interval
    that overlaps each event most starts and ends after it (`start_s`, `end_s`; negative: before).
    Tells a miss from a cut: an event found but held 5 s too long fails tIoU 0.5 all the same."""
    per: dict[str, dict] = {}
    for v, events in gt.items():
        if not events:
            continue
        kind = gt_kind.get(v) or "unlabelled"
        acc = per.setdefault(kind, {"events": 0, "start": [], "end": []})
        for g in events:
            acc["events"] += 1
            overlap = [(min(b, g[1]) - max(a, g[0]), a, b) for a, b in pred.get(v, [])]
            best = max(overlap, default=(0.0, 0.0, 0.0))
            if best[0] > 0:
                acc["start"].append(best[1] - g[0])
                acc["end"].append(best[2] - g[1])
    med = lambda x: round(float(np.median(x)), 2) if x else None  # noqa: E731
    return {
        kind: {"events": a["events"], "missed": a["events"] - len(a["start"]),
               "start_s": med(a["start"]), "end_s": med(a["end"])}
        for kind, a in sorted(per.items())
    }  # fmt: skip


def _ci(interval: tuple[float, float] | None) -> list[float] | None:
    """(lo, hi) -> [lo, hi] rounded outward to 4 decimals (the range still holds the figure)."""
    if interval is None:
        return None
    return [math.floor(interval[0] * 1e4) / 1e4, math.ceil(interval[1] * 1e4) / 1e4]


def runs(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One video's per-frame (scores, labels) -> (score, label, count) of each run of equal
    pairs. Scores are held over the native frames between samples, so a video of thousands of
    frames has a few hundred runs; the AUC weighted by the counts is the AUC over the frames."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels)
    if len(s) == 0:
        return s, y, np.zeros(0, np.int64)
    start = np.flatnonzero(np.r_[True, (s[1:] != s[:-1]) | (y[1:] != y[:-1])])
    return s[start], y[start], np.diff(np.r_[start, len(s)])


def frame_auc_ci(
    scores: list[np.ndarray], labels: list[np.ndarray], groups: list | None = None
) -> list[float] | None:
    """95 % bootstrap interval over videos (over `groups`, e.g. cameras, when given: one per
    video) of the pooled frame AUC: scores[i] and labels[i] are video i's frames; a draw without
    both classes gives no value. Each draw scores the videos' runs (`runs`, `RunsAuc`), not every
    frame: the same AUC at a fraction of the cost on long benchmark videos."""
    return _ci(
        video_bootstrap_ci(RunsAuc([runs(s, y) for s, y in zip(scores, labels)]), len(scores), groups=groups)
    )


class RunsAuc:
    """The pooled frame AUC of any draw of videos (repeats count again) from their `runs`.

    The runs are sorted once; a draw only reweights them (a run's weight = its frames x how often
    its video was drawn), so each of a bootstrap's thousand draws costs three `np.bincount`s
    instead of a sort and sklearn's input checks (about 10 ms a call, most of a `vagpt eval`).
    Tied scores count half, as `roc_auc_score` does; the result equals it to rounding."""

    def __init__(self, r: list[tuple[np.ndarray, np.ndarray, np.ndarray]]):
        if not r:
            raise ValueError("a frame AUC over videos needs at least one video, got none")
        bad = [i for i, x in enumerate(r) if not np.all(np.isfinite(x[0]))]
        if bad:  # as frame_auc: sklearn refused them, and a NaN would sort as a value here
            raise ValueError(f"scores contain NaN or inf (videos {bad[:5]} of the {len(r)})")
        self.n_videos = len(r)
        self.video = np.repeat(np.arange(len(r)), [len(x[0]) for x in r])
        values, self.index = np.unique(np.concatenate([x[0] for x in r]), return_inverse=True)
        self.n_values = len(values)
        self.weight = np.concatenate([x[2] for x in r]).astype(np.float64)
        self.positive = np.concatenate([x[1] for x in r]).astype(bool)

    def __call__(self, idx) -> float | None:
        """The AUC of videos `idx` (indices into the runs, with repeats); None when those frames
        lack event or normal frames."""
        w = self.weight * np.bincount(np.asarray(idx, np.int64), minlength=self.n_videos)[self.video]
        pos = np.bincount(self.index[self.positive], w[self.positive], minlength=self.n_values)
        neg = np.bincount(self.index[~self.positive], w[~self.positive], minlength=self.n_values)
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos == 0 or n_neg == 0:
            return None
        below = np.cumsum(neg) - neg  # normal frames scored lower than each value
        return float(np.dot(pos, below + 0.5 * neg) / (n_pos * n_neg))


def recall_ci(
    pred: dict[str, list],
    gt: dict[str, list[tuple[float, float]]],
    iou: float = 0.5,
    groups: dict[str, str] | None = None,
) -> list[float] | None:
    """95 % bootstrap interval over videos (over groups, e.g. cameras, when `groups` maps every
    video of gt to one) of the event recall at `iou`; pred: video -> (start_s, end_s, ...)
    intervals, gt: video -> events. A draw without events gives no value."""
    vids = sorted(gt)
    counts = []
    for v in vids:
        tp, _, fn, _ = match_intervals([p[:2] for p in pred.get(v, [])], gt[v], iou)
        counts.append((tp, tp + fn))
    c = np.asarray(counts, dtype=np.float64).reshape(-1, 2)

    def stat(idx):
        n = c[idx, 1].sum()
        return c[idx, 0].sum() / n if n else None

    return _ci(video_bootstrap_ci(stat, len(vids), groups=[groups[v] for v in vids] if groups else None))


# Fewer cameras than this: the bootstrap draws videos. A draw of 4 cameras gave /tmp/a's recall
# at tIoU 0.5 the interval [0.67, 0.67] (each camera found 2 of its 3 events), against [0.38, 0.92]
# over its 24 videos: too few clusters make a bootstrap overconfident.
MIN_CAMERAS = 8


def camera_groups(cameras: list[str | None]) -> list[str] | None:
    """One camera per video -> the same list when the bootstrap should draw cameras (every video
    has one, at least MIN_CAMERAS of them, and some camera has more than one video), else None."""
    n = len(set(cameras))
    if None in cameras or n < MIN_CAMERAS or n == len(cameras):
        return None
    return list(cameras)


@dataclasses.dataclass
class _Video:
    """One matched video of a results folder: its annotation `name`, native `fps` and `frames`,
    `camera` (None when not recorded), and its frame_scores columns as sampled (`t` and `values`,
    None when it has no frame scores: a failed video)."""

    name: str
    fps: float
    frames: int | None
    camera: str | None
    t: np.ndarray | None
    values: dict[str, np.ndarray]

    def held(self, column: str) -> np.ndarray:
        """The column's samples held on every native frame (expand_scores_to_frames)."""
        return expand_scores_to_frames(self.t, self.values[column], self.frames, self.fps)


def _videos(
    results_url: str,
    annotations: dict[str, bm.VideoAnnotation],
    storage_options: dict | None,
    columns: tuple[str, ...],
) -> tuple[dict[str, bm.VideoAnnotation], dict[str, _Video]]:
    """(video_id -> annotation, video_id -> _Video) for every video of `results_url` that matches
    an annotation; one read of its videos and frame_scores tables."""
    videos, m = match_results(results_url, annotations, storage_options)
    by_id = {v["video_id"]: v for v in videos}
    cols = ", ".join(("t", *columns))
    fs = query(
        results_url, f"SELECT video_id, {cols} FROM frame_scores ORDER BY video_id, t", storage_options
    ).to_pydict()
    curves: dict[str, list[int]] = {}
    for k, vid in enumerate(fs["video_id"]):
        curves.setdefault(vid, []).append(k)
    out = {}
    for vid, ann in m.matched.items():
        v = by_id[vid]
        f = float(v["fps"]) if v.get("fps") else ann.fps
        rows = curves.get(vid)
        t = None if rows is None else np.asarray([fs["t"][k] for k in rows], np.float64)
        values = (
            {} if rows is None else {c: np.asarray([fs[c][k] for k in rows], np.float64) for c in columns}
        )
        if t is None:
            n = None
        elif v.get("duration_s"):
            n = int(round(float(v["duration_s"]) * f))
        else:
            n = int(t[-1] * f) + 1
        out[vid] = _Video(m.names[vid], f, n, v.get("camera_id"), t, values)
    return m.matched, out


def frame_auc_by_kind(
    scores: list[np.ndarray], labels: list[np.ndarray], kinds: list[str | None]
) -> dict[str, float]:
    """Per video: scores [F], 0/1 labels [F] and its kind (None: a normal video) -> kind -> the AUC
    of that kind's event frames against every frame of the normal videos. The frames of an
    anomalous video outside its events count for neither (an aftermath is not a normal scene).
    {} without normal videos; a kind without event frames is left out."""
    neg = [s for s, k in zip(scores, kinds) if k is None]
    if not neg:
        return {}
    neg = np.concatenate(neg)
    out = {}
    for kind in sorted({k for k in kinds if k is not None}):
        pos = np.concatenate([s[y > 0] for s, y, k in zip(scores, labels, kinds) if k == kind])
        if len(pos):
            out[kind] = frame_auc(np.r_[pos, neg], np.r_[np.ones(len(pos)), np.zeros(len(neg))])
    return out


def detection_report(
    results_url: str,
    annotations: dict[str, bm.VideoAnnotation],
    storage_options: dict | None = None,
    baseline_calibration: dict | None = None,
    hard_negatives: dict[str, tuple[str, ...]] | None = None,
) -> dict:
    """{"classifier": row, "diff_energy": row (when baseline_calibration is given)} over the videos
    of `results_url` that match an annotation. hard_negatives (annotation name -> what its normal
    scene shows, annotations.load_hard_negatives): each row also gets
    `false_per_normal_by_hard_negative` (false_by_hard_negative)."""
    matched, videos = _videos(results_url, annotations, storage_options, ("score", "diff_energy"))
    rows = query(
        results_url, "SELECT video_id, start_s, end_s, label FROM intervals", storage_options
    ).to_pylist()
    pred: dict[str, list] = {vid: [] for vid in matched}
    for r in rows:
        if r["video_id"] in pred:
            pred[r["video_id"]].append((r["start_s"], r["end_s"], r["label"]))
    gt, gt_kind, frames = {}, {}, {"score": [], "diff_energy": [], "y": [], "video": []}
    energy_pred: dict[str, list] = {}
    cal = IntervalConfig(**baseline_calibration) if baseline_calibration else None
    for vid, ann in matched.items():
        v = videos[vid]
        gt[vid] = [(s / v.fps, e / v.fps) for s, e in ann.frame_ranges()]
        gt_kind[vid] = _kind(ann.labels[0]) if ann.labels else None
        if v.t is None:
            continue
        frames["y"].append(bm.to_frame_labels(ann, v.frames))
        frames["video"].append(vid)
        frames["score"].append(v.held("score"))
        frames["diff_energy"].append(v.held("diff_energy"))
        if cal is not None:
            ivs = scores_to_intervals(v.t, v.values["diff_energy"], cal)
            energy_pred[vid] = [(iv.start_s, iv.end_s, None) for iv in ivs]
    y = np.concatenate(frames["y"])
    vids = sorted(gt)
    groups = camera_groups([videos[v].camera for v in vids])
    cams = dict(zip(vids, groups)) if groups else None  # video -> the bootstrap's unit, else videos
    unit = {"ci_unit": "camera" if cams else "video", "n_cameras": len(set(cams.values())) if cams else None}
    fgroups = [cams[v] for v in frames["video"]] if cams else None
    report = {"n_videos": len(gt), "n_events": sum(map(len, gt.values())), **unit}
    report["classifier"] = {
        "frame_auc": frame_auc(np.concatenate(frames["score"]), y),
        "frame_auc_ci95": frame_auc_ci(frames["score"], frames["y"], fgroups),
        "recall_0.5_ci95": recall_ci(pred, gt, groups=cams),
    }
    report["classifier"].update(detector_metrics(pred, gt, gt_kind))
    negatives = None
    if hard_negatives is not None:
        missing = sorted(videos[vid].name for vid in gt if videos[vid].name not in hard_negatives)
        if missing:  # the truth of another archive: its breakdown would read every video as "none"
            raise EvaluationError(
                f"{len(missing)} of the {len(gt)} annotated videos are not in the archive's truth "
                f"(first: {missing[0]!r}): --truth-events of another archive?"
            )
        negatives = {vid: hard_negatives[videos[vid].name] for vid in gt}
        report["classifier"]["false_per_normal_by_hard_negative"] = false_by_hard_negative(
            pred, gt, negatives
        )
    fkinds = [(gt_kind[v] or "unlabelled") if gt[v] else None for v in frames["video"]]
    report["classifier"]["frame_auc_by_kind"] = frame_auc_by_kind(frames["score"], frames["y"], fkinds)
    report["diff_energy"] = {
        "frame_auc": frame_auc(np.concatenate(frames["diff_energy"]), y),
        "frame_auc_ci95": frame_auc_ci(frames["diff_energy"], frames["y"], fgroups),
        "frame_auc_by_kind": frame_auc_by_kind(frames["diff_energy"], frames["y"], fkinds),
    }
    if cal is not None:
        report["diff_energy"]["recall_0.5_ci95"] = recall_ci(energy_pred, gt, groups=cams)
        report["diff_energy"].update(detector_metrics(energy_pred, gt, gt_kind))
        if negatives is not None:
            report["diff_energy"]["false_per_normal_by_hard_negative"] = false_by_hard_negative(
                energy_pred, gt, negatives
            )
        report["diff_energy"]["calibration"] = baseline_calibration
    return report


def video_frames(
    results_url: str, annotations: dict[str, bm.VideoAnnotation], storage_options: dict | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray, str | None]]:
    """annotation name -> (the classifier's score held on every native frame, 0/1 labels, camera_id)
    of every matched video of `results_url` that has frame scores."""
    matched, videos = _videos(results_url, annotations, storage_options, ("score",))
    return {
        v.name: (v.held("score"), bm.to_frame_labels(matched[vid], v.frames), v.camera)
        for vid, v in videos.items()
        if v.t is not None
    }


def paired_frame_auc(
    results_url: str,
    baseline_url: str,
    annotations: dict[str, bm.VideoAnnotation],
    storage_options: dict | None = None,
    baseline_storage_options: dict | None = None,
) -> dict:
    """Two results folders of the same archive (e.g. two classifiers) -> their frame AUCs over the
    videos both scored, the difference (results - baseline) and its paired 95 % bootstrap
    interval: each draw takes the same videos (or cameras, as detection_report) for both, so
    what the two share (hard scenes, easy events) cancels and a difference far smaller than
    either interval can still be told from zero."""
    a = video_frames(results_url, annotations, storage_options)
    b = video_frames(baseline_url, annotations, baseline_storage_options)
    names = sorted(set(a) & set(b))
    if not names:
        raise EvaluationError(f"{results_url} and {baseline_url} have no scored video in common")
    for n in names:
        if not np.array_equal(a[n][1], b[n][1]):
            raise EvaluationError(
                f"{n}: its frames differ between {results_url} and {baseline_url} "
                f"({len(a[n][1])} against {len(b[n][1])}): not the same archive"
            )
    ra = [runs(a[n][0], a[n][1]) for n in names]
    rb = [runs(b[n][0], b[n][1]) for n in names]
    groups = camera_groups([a[n][2] for n in names])

    auc_a, auc_b = RunsAuc(ra), RunsAuc(rb)

    def diff(idx):
        x = auc_a(idx)
        return None if x is None else x - auc_b(idx)

    every = np.arange(len(names))
    auc, baseline_auc = auc_a(every), auc_b(every)
    if auc is None:
        raise EvaluationError(
            f"the {len(names)} videos in common need event and normal frames for a frame AUC"
        )
    return {
        "n_videos": len(names),
        "only_in_results": len(set(a) - set(b)),
        "only_in_baseline": len(set(b) - set(a)),
        "frame_auc": auc,
        "baseline_frame_auc": baseline_auc,
        "difference": auc - baseline_auc,
        "difference_ci95": _ci(video_bootstrap_ci(diff, len(names), groups=groups)),
        "ci_unit": "camera" if groups else "video",
    }

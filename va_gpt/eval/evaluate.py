"""Evaluation: the field's numbers from a results folder, and VA-GPT's answers from a checkpoint.

(a) Frame level (`frame_metrics`): a nightly results folder (Parquet
    `frame_scores` + `videos`, read with va_gpt.lake.query) against benchmark
    annotations (UCF-Crime ``Temporal_Anomaly_Annotation.txt``, XD-Violence
    ``annotations.txt`` / ``annotations_multiclasses.txt``, HIVAU JSON; parsed by
    va_gpt.data.benchmarks). Videos are matched by file name (`match_videos`):
    the annotation name (a stem like ``Arson011_x264``, or a relative key like
    ``cam01/2026-11-21/220000.mp4``) must be the trailing part of the video URI
    without its extension. Scores are held on every native frame
    (`expand_scores_to_frames`, at the video's native fps from the `videos`
    table) and the annotation gives per-native-frame labels, half-open
    ``[start, end)`` (VadCLIP's reading). Over all frames of all matched videos
    concatenated: ROC AUC, and AP in both readings: ``ap_sklearn``
    (average_precision_score, VadCLIP) and ``ap_trapezoid`` (auc(recall,
    precision), RTFM / LAVAD / VERA). XD-Violence does not list its normal test
    videos: a video named ``..._label_A`` is taken as normal.
(b) Intervals (`interval_metrics`): the `intervals` table against the annotated
    events, greedy one-to-one matching, precision / recall / F1 at tIoU 0.3 / 0.5 / 0.7.
(c) QA (`qa_metrics`): multiple-choice records (``options`` + ``answer_index``;
    mc_temporal in VA-Instruction) answered by a checkpoint; total accuracy and
    temporal accuracy (over the temporal questions), as in the paper's table.
(d) Summaries (`summary_metrics`): BLEU-4 and ROUGE-L of generated descriptions
    against the reference answers.
(e) `run_ablation`: SETS top-K ratio and TETG on / off / embedding at small
    scale, from a trained (demo) checkpoint: each setting is fine-tuned briefly
    under its own token budget, then scored on the QA records, with the
    LLM-side compute ratio (`visual_token_flops`); a Markdown table and a PNG.

Cross-domain evaluation is the same calls with another source's records
(``--records`` of XD-Violence for a model trained on UCF-Crime, or
``--source`` to filter a mixed record set).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import posixpath
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from va_gpt.data import benchmarks as bm
from va_gpt.ops import metrics

log = logging.getLogger(__name__)

FORMATS = ("auto", "ucf", "xd", "xd_multiclass", "hivau")
IOU_THRESHOLDS = (0.3, 0.5, 0.7)
TEMPORAL_TASKS = ("mc_temporal", "temporal")
SUMMARY_TASKS = ("description",)
HELDOUT_TASKS = ("judgement", "temporal", "description", "analysis")  # the ablation's held-out NLL


class EvaluationError(ValueError):
    """Inputs that cannot be evaluated together; the message says which and why."""


# -- annotations and matching -------------------------------------------------------------------


def _strip_ext(name: str) -> str:
    base = posixpath.basename(name)
    stem, ext = posixpath.splitext(base)
    return name[: -len(ext)] if ext.lower() in (".mp4", ".avi", ".mkv", ".mov", ".ts", ".webm") else name


def detect_format(path: str | os.PathLike) -> str:
    """ucf | xd | xd_multiclass | hivau, from the file's content."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return "hivau"
    try:
        with open(p, encoding="utf-8") as f:
            first = next((line.split() for line in f if line.strip()), None)
    except OSError as e:
        raise EvaluationError(f"{path}: cannot read the annotation file ({e})") from None
    if not first:
        raise EvaluationError(f"{path}: empty annotation file")
    if "_label_" in first[0]:
        return "xd_multiclass" if len(first) > 1 and not first[1].lstrip("-").isdigit() else "xd"
    return "ucf"


def load_annotations(path: str | os.PathLike, fmt: str = "auto") -> dict[str, bm.VideoAnnotation]:
    """Parse a benchmark annotation file -> {name without extension: VideoAnnotation}."""
    if fmt not in FORMATS:
        raise EvaluationError(f"annotation format must be one of {FORMATS}, got {fmt!r}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "ucf":
        items = bm.parse_ucf_temporal(path)
    elif fmt == "xd":
        items = bm.parse_xd_annotations(path)
    elif fmt == "xd_multiclass":
        items = bm.parse_xd_multiclass(path)
    else:
        items = list(bm.parse_hivau(path).values())
    out = {}
    for a in items:
        v = bm.to_video_annotation(a)
        out[_strip_ext(v.name)] = v
    if not out:
        raise EvaluationError(f"{path}: no annotated video")
    return out


@dataclass
class Matching:
    matched: dict[str, bm.VideoAnnotation]  # video_id -> annotation
    names: dict[str, str]  # video_id -> annotation name
    unmatched: list[str]  # URIs of result videos with no annotation
    implicit_normal: list[str]  # XD ..._label_A videos taken as normal without a line


def _uri_path(uri: str) -> str:
    path = uri.split("://", 1)[1] if "://" in uri else uri
    return _strip_ext(path.split("?", 1)[0])


def match_videos(videos: list[tuple[str, str]], annotations: dict[str, bm.VideoAnnotation]) -> Matching:
    """Pair result videos (video_id, uri) with annotations by file name.

    An annotation name matches when it is the URI's trailing path without the
    extension (``.../Arson011_x264.mp4`` ~ ``Arson011_x264``; ``.../cam01/d/220000.mp4``
    ~ ``cam01/d/220000.mp4``); the longest matching name wins; two videos
    claiming one annotation is an error (ambiguous names).
    """
    by_stem: dict[str, list[str]] = {}
    for name in annotations:
        by_stem.setdefault(posixpath.basename(name), []).append(name)
    matched, names, unmatched, implicit = {}, {}, [], []
    claimed: dict[str, str] = {}
    for vid, uri in videos:
        path = _uri_path(uri)
        stem = posixpath.basename(path)
        cands = [n for n in by_stem.get(stem, []) if path == n or path.endswith("/" + n)]
        if cands:
            name = max(cands, key=len)
            if name in claimed and claimed[name] != uri:
                raise EvaluationError(
                    f"annotation {name!r} matches two videos: {claimed[name]} and {uri}; "
                    "use annotation names with their folders (e.g. camera/date/file.mp4)"
                )
            claimed[name] = uri
            matched[vid], names[vid] = annotations[name], name
            continue
        if "_label_" in stem:
            try:
                codes = bm.decode_xd_labels(stem)
            except ValueError:
                codes = ()
            if codes == ("A",):
                matched[vid] = bm.VideoAnnotation(
                    name=stem, source="xd_violence", labels=(), fps=bm.XD_FPS, events_s=()
                )
                names[vid] = stem
                implicit.append(uri)
                continue
        unmatched.append(uri)
    return Matching(matched, names, unmatched, implicit)


# -- (a) frame level ------------------------------------------------------------------------------


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


def _videos(results_url: str, storage_options: dict | None) -> list[dict]:
    from va_gpt.lake.query import query

    return query(
        results_url, "SELECT video_id, uri, duration_s, fps, status FROM videos ORDER BY uri", storage_options
    ).to_pylist()


def frame_arrays(
    results_url: str, annotations: dict[str, bm.VideoAnnotation], storage_options: dict | None = None
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(scores [N], labels [N], info) over the native frames of every matched, scored video."""
    from va_gpt.lake.query import query

    videos = _videos(results_url, storage_options)
    if not videos:
        raise EvaluationError(f"{results_url}: the results folder has no videos")
    m = match_videos([(v["video_id"], v["uri"]) for v in videos], annotations)
    if not m.matched:
        raise EvaluationError(
            f"none of the {len(videos)} result videos matches an annotation name "
            f"(first video {videos[0]['uri']}, first annotation {next(iter(annotations))!r})"
        )
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
        all_s.append(metrics.expand_scores_to_frames(t, s, n, fps))
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
        auc = metrics.frame_auc(s, y)
        ap_s = metrics.frame_ap(s, y, "sklearn")
        ap_t = metrics.frame_ap(s, y, "trapezoid")
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


# -- (b) intervals --------------------------------------------------------------------------------


def interval_metrics(
    results_url: str,
    annotations: dict[str, bm.VideoAnnotation],
    storage_options: dict | None = None,
    thresholds=IOU_THRESHOLDS,
) -> dict:
    """Precision / recall / F1 of the `intervals` table against annotated events, per tIoU threshold."""
    from va_gpt.lake.query import query

    videos = _videos(results_url, storage_options)
    m = match_videos([(v["video_id"], v["uri"]) for v in videos], annotations)
    if not m.matched:
        raise EvaluationError(f"{results_url}: no result video matches an annotation name")
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
    res = metrics.interval_precision_recall(pred, gt, thresholds)
    return {
        "n_videos": len(m.matched),
        "n_pred": sum(len(v) for v in pred.values()),
        "n_gt": sum(len(v) for v in gt.values()),
        "by_iou": {f"{k:.1f}": dataclasses.asdict(v) for k, v in res.items()},
    }


# -- (c) QA and (d) summaries ---------------------------------------------------------------------


def qa_kind(rec: dict) -> str:
    return "temporal" if rec.get("task") in TEMPORAL_TASKS else str(rec.get("task") or "other")


def qa_records(records: list[dict]) -> list[dict]:
    """The multiple-choice records (options + answer_index)."""
    return [r for r in records if r.get("options") and r.get("answer_index") is not None]


def qa_metrics(records: list[dict], predictions: list[str]) -> metrics.QAResult:
    """Accuracy of generated answers to multiple-choice records (total, and temporal over mc_temporal)."""
    from va_gpt.train.data import gold_letter, option_texts

    if len(records) != len(predictions):
        raise EvaluationError(f"{len(records)} records but {len(predictions)} predictions")
    return metrics.qa_accuracy(
        predictions,
        [gold_letter(r) for r in records],
        [qa_kind(r) for r in records],
        [option_texts(r) for r in records],
    )


def summary_metrics(predictions: list[str], references: list[str]) -> dict:
    return {
        "bleu4": metrics.bleu(predictions, references, n=4),
        "rouge_l": metrics.rouge_l(predictions, references),
        "n": len(predictions),
    }


def generate_answers(model, builder, records: list[dict], batch_size: int = 4, max_new_tokens: int = 64):
    """(records that could be read, their generated answers); unreadable videos are skipped (logged)."""
    data = builder.build(records, with_answer=False, what="evaluation records")
    out = []
    for i in range(0, len(data.samples), batch_size):
        out += model.generate_batch(data.samples[i : i + batch_size], max_new_tokens)
    return data.records, out


def evaluate_model(
    model,
    builder,
    records: list[dict],
    *,
    max_questions: int | None = None,
    max_summaries: int | None = None,
    batch_size: int = 4,
) -> dict:
    """QA accuracy on the multiple-choice records and BLEU-4 / ROUGE-L on the description records."""
    from va_gpt.train.data import record_answer

    report: dict = {}
    mc = qa_records(records)[:max_questions]
    if mc:
        recs, preds = generate_answers(model, builder, mc, batch_size, max_new_tokens=16)
        qa = qa_metrics(recs, preds)
        report["qa"] = {
            "total": qa.total,
            "temporal": qa.temporal,
            "n": qa.n,
            "n_temporal": qa.n_temporal,
            "per_kind": qa.per_kind,
            "examples": [{"id": r["id"], "generated": p} for r, p in list(zip(recs, preds))[:3]],
        }
    desc = [r for r in records if r.get("task") in SUMMARY_TASKS][:max_summaries]
    if desc:
        recs, preds = generate_answers(model, builder, desc, batch_size, max_new_tokens=96)
        report["summaries"] = summary_metrics(preds, [record_answer(r) for r in recs])
        report["summaries"]["examples"] = [
            {"id": r["id"], "reference": record_answer(r), "generated": p}
            for r, p in list(zip(recs, preds))[:3]
        ]
    if not report:
        raise EvaluationError("no multiple-choice or description records to evaluate")
    return report


# -- (e) ablation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AblationSetting:
    name: str
    top_k: float  # SETS ratio of patches kept
    encoding: str  # TETG encoding: text | embedding | none
    video: bool = True  # False: no visual tokens at all (the text-only prior, a floor to compare with)


def default_settings() -> list[AblationSetting]:
    """The paper's ablations: SETS 100/50/25/10% with TETG (text); TETG off and embedding at 25%; and the
    floor: neither video nor TETG, what the question text alone lets the model guess."""
    return [
        AblationSetting("SETS 100%", 1.0, "text"),
        AblationSetting("SETS 50%", 0.5, "text"),
        AblationSetting("SETS 25%", 0.25, "text"),
        AblationSetting("SETS 10%", 0.1, "text"),
        AblationSetting("SETS 25%, no TETG", 0.25, "none"),
        AblationSetting("SETS 25%, TETG embedding", 0.25, "embedding"),
        AblationSetting("no video, no TETG (prior)", 0.25, "none", video=False),
    ]


def option_candidates(rec: dict) -> list[str]:
    """The record's answer rewritten for each option in letter order (its letter and its text in place
    of the right one's), so scoring an option is scoring the answer the model was trained to give."""
    from va_gpt.train.data import gold_letter, option_texts, record_answer

    gold, texts = record_answer(rec), option_texts(rec) or []
    g = int(rec["answer_index"])
    out = []
    for i, text in enumerate(texts):
        cand = gold.replace(f"({gold_letter(rec)})", f"({'ABCDEFGHIJ'[i]})")
        out.append(cand.replace(texts[g], text) if texts[g] in cand else cand)
    return out


def scored_choices(model, records: list[dict], samples: list) -> list[str]:
    """Multiple choice by likelihood: for each question the option whose answer text has the lowest mean
    NLL per token (lm-eval-harness style). It reads what the model prefers even when greedy
    decoding always writes one letter. Returns "(X)" per question, for `qa_metrics`."""
    from va_gpt.train.vagpt import answer_nll

    out = []
    for rec, s in zip(records, samples):
        cands = option_candidates(rec)
        nll = answer_nll(model, [dataclasses.replace(s, answer=c) for c in cands])
        out.append(f"({'ABCDEFGHIJ'[int(nll.argmin())]})")
    return out


def heldout_nll(model, records: list[dict], samples: list) -> dict[str, float]:
    """Mean answer NLL per token of held-out records, by task (and "all"): lower is better."""
    from va_gpt.train.vagpt import answer_nll

    by: dict[str, list[float]] = {}
    for i in range(0, len(samples), 4):
        vals = answer_nll(model, samples[i : i + 4]).tolist()
        for rec, v in zip(records[i : i + 4], vals):
            by.setdefault(str(rec.get("task")), []).append(v)
    out = {k: float(np.mean(v)) for k, v in sorted(by.items())}
    out["all"] = float(np.mean([x for v in by.values() for x in v])) if by else float("nan")
    return out


def _subsample(samples, max_frames: int) -> list:
    """Samples with at most `max_frames` frames, spread uniformly (the TETG curve is kept whole)."""
    from va_gpt.models.vagpt import uniform_indices

    out = []
    for s in samples:
        if len(s.t) <= max_frames:
            out.append(s)
            continue
        idx = uniform_indices(len(s.t), max_frames)
        out.append(
            dataclasses.replace(s, frames=np.asarray(s.frames)[idx], t=np.asarray(s.t)[idx], selection=None)
        )
    return out


def _text_tokens(model, samples) -> float:
    from va_gpt.models.vagpt import KIND_VISUAL

    counts = [int((model.sequence(s)[2] != KIND_VISUAL).sum()) for s in samples]
    return float(np.mean(counts)) if counts else 0.0


def run_ablation(
    load_model,
    train_data,
    test_records: list[dict],
    builder,
    out_dir: str | os.PathLike,
    *,
    settings: list[AblationSetting] | None = None,
    steps: int = 10,
    lr: float = 5e-4,
    batch_size: int = 2,
    seed: int = 0,
    interval_recall: dict | None = None,
    max_frames: int | None = None,
    max_heldout: int = 24,
) -> dict:
    """Each setting: a fresh model from `load_model()`, its SETS ratio and TETG encoding set, `steps` of
    stage-2 fine-tuning on `train_data` (0: none), then QA on the test multiple-choice records.

    Every setting sees the same `max_frames` frames per question (default: the most that fit
    llm.max_position at the largest SETS ratio, capped at the preset's projector.max_frames;
    the demo preset fits 16 frames at 25% but only 6 at 100%).

    Per setting: accuracy of greedy answers (the paper's reading), accuracy by option likelihood
    (`scored_choices`), and the held-out answer NLL of up to `max_heldout` non-multiple-choice
    test records (`heldout_nll`), a finer measure than accuracy for a small model.

    Writes ``ablation.md`` (table) and ``ablation.png`` (accuracy bars + compute ratio) to `out_dir`
    and returns {"rows": [...], "markdown": ..., "png": ...}. `interval_recall`: the
    `interval_metrics` of a run, reported beside the table (the intervals come from the
    classifier pipeline, not the LLM, so they do not change with these settings).
    """
    from va_gpt.models.vagpt import VAGPT, llm_prefill_flops, visual_token_flops
    from va_gpt.ops.sets import num_selected
    from va_gpt.train.data import option_texts
    from va_gpt.train.vagpt import TrainConfig, encoder_cache, text_only, train, with_settings

    settings = settings or default_settings()
    mc = qa_records(test_records)
    if not mc:
        raise EvaluationError("the ablation needs multiple-choice test records (options + answer_index)")
    test = builder.build(mc, with_answer=False, what="ablation test records")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    first = load_model()
    cfg0 = first.config
    if max_frames is None:
        with encoder_cache(first):
            text_max = max(_text_tokens(first, [text_only(s)]) for s in test.samples)
        grid = (cfg0.encoder.image_size // cfg0.encoder.patch_size) ** 2
        per_frame = num_selected(grid, max(st.top_k for st in settings))
        max_frames = min(cfg0.projector.max_frames, int((cfg0.llm.max_position - text_max - 16) // per_frame))
    if max_frames < 1:
        raise EvaluationError(
            f"no frame fits llm.max_position {cfg0.llm.max_position} at the largest SETS ratio"
        )
    held = [r for r in test_records if r.get("task") in HELDOUT_TASKS][:max_heldout]
    held_data = builder.build(held, what="ablation held-out records") if held else None
    held_samples = _subsample(held_data.samples, max_frames) if held_data else []
    test_samples = _subsample(test.samples, max_frames)
    train_samples = _subsample(
        train_data.samples if hasattr(train_data, "samples") else train_data or [], max_frames
    )
    rows = []
    for k, st in enumerate(settings):
        t0 = time.monotonic()
        base = first if k == 0 else load_model()
        if k:  # the same frozen encoder for every setting, so its cached outputs are reused
            base = VAGPT(
                first.vision, base.projector, base.llm, base.tokenizer, base.config, first.sets_encoder
            )
        cfg = base.config
        model = with_settings(
            base,
            sets=dataclasses.replace(cfg.sets, top_k=st.top_k),
            tetg=dataclasses.replace(cfg.tetg, encoding=st.encoding),
            max_frames=max_frames,
        )
        losses = []
        tr, te, he = train_samples, test_samples, held_samples
        if not st.video:
            tr, te, he = ([text_only(x) for x in xs] for xs in (tr, te, he))
        if steps > 0:
            res = train(
                model, tr,
                TrainConfig(stage=2, steps=steps, lr=lr, batch_size=batch_size, seed=seed, log_every=0),
            )  # fmt: skip
            model, losses = res.model, res.losses
        preds = []
        with encoder_cache(model):
            for i in range(0, len(te), 4):
                preds += model.generate_batch(te[i : i + 4], 16)
            text = _text_tokens(model, test_samples[:4])
            model.eval()
            scored = qa_metrics(test.records, scored_choices(model, test.records, te))
            nll = heldout_nll(model, held_data.records, he) if he else {}
        qa = qa_metrics(test.records, preds)
        letters = Counter(
            metrics.parse_choice(p, option_texts(r)) or "?" for p, r in zip(preds, test.records)
        )
        flops = visual_token_flops(model.config, st.top_k, round(text))
        full = visual_token_flops(model.config, 1.0, round(text))
        if not st.video:
            flops = {"visual_tokens": 0, "flops": llm_prefill_flops(round(text), model.config.llm)}
        rows.append(
            {
                "setting": st.name,
                "top_k": st.top_k,
                "tetg": st.encoding,
                "video": st.video,
                "total_acc": qa.total,
                "temporal_acc": qa.temporal,
                "n": qa.n,
                "scored_total_acc": scored.total,
                "scored_temporal_acc": scored.temporal,
                "heldout_nll": nll,
                "frames": max_frames,
                "answers": dict(letters.most_common()),
                "examples": preds[:3],
                "visual_tokens": flops["visual_tokens"],
                "text_tokens": round(text, 1),
                "compute_ratio": flops["flops"] / full["flops"],
                "train_loss_first": losses[0] if losses else None,
                "train_loss_last": losses[-1] if losses else None,
                "seconds": round(time.monotonic() - t0, 1),
            }
        )
        log.info("ablation %s: total %.3f temporal %s scored %.3f held-out NLL %s compute %.2fx", st.name,
                 qa.total, qa.temporal, scored.total, nll.get("all"), rows[-1]["compute_ratio"])  # fmt: skip
    md = ablation_markdown(rows, steps, interval_recall)
    (out / "ablation.md").write_text(md)
    png = ablation_plot(rows, out / "ablation.png")
    (out / "ablation.json").write_text(
        json.dumps({"rows": rows, "interval_recall": interval_recall}, indent=1)
    )
    return {"rows": rows, "markdown": str(out / "ablation.md"), "png": str(png), "table": md}


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def ablation_markdown(rows: list[dict], steps: int, interval_recall: dict | None = None) -> str:
    lines = [
        "| setting | SETS top-K | TETG | total acc (%) | temporal acc (%) | answers given "
        "| scored total (%) | scored temporal (%) | held-out NLL | visual tokens | compute (x of 100%) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        given = " ".join(f"{k}:{v}" for k, v in r.get("answers", {}).items())
        nll = r.get("heldout_nll", {}).get("all")
        top = f"{100 * r['top_k']:.0f}%" if r.get("video", True) else "no video"
        lines.append(
            f"| {r['setting']} | {top} | {r['tetg']} | {_pct(r['total_acc'])} | "
            f"{_pct(r['temporal_acc'])} | {given} | {_pct(r.get('scored_total_acc'))} | "
            f"{_pct(r.get('scored_temporal_acc'))} | {'n/a' if nll is None else f'{nll:.3f}'} | "
            f"{r['visual_tokens']} | {r['compute_ratio']:.2f} |"
        )
    notes = [
        "",
        f"Each setting: the same starting checkpoint, {steps} stage-2 steps under its own token budget, "
        f"{rows[0]['frames'] if rows else '?'} frames per question, then {rows[0]['n'] if rows else '?'} "
        "multiple-choice test questions answered greedily (acc) and by option likelihood (scored), "
        "and the mean answer NLL per token of held-out judgement / temporal / description records. "
        "Compute: LLM prefill FLOPs of one question (visual_token_flops) relative to 100% of the patches.",
    ]
    if interval_recall:
        r = interval_recall["by_iou"]
        notes.append(
            "Interval recall of the run (classifier intervals; independent of SETS/TETG in the LLM): "
            + ", ".join(f"R@{k} {_pct(v['recall'])}%" for k, v in r.items())
        )
    else:
        notes.append("Interval recall: skipped (no results folder with annotations was given).")
    return "\n".join(lines + notes) + "\n"


def ablation_plot(rows: list[dict], path: str | os.PathLike) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["setting"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 4))
    ax.bar(x - 0.27, [100 * r["total_acc"] for r in rows], 0.27, label="total acc (greedy)")
    ax.bar(x, [100 * (r["temporal_acc"] or 0) for r in rows], 0.27, label="temporal acc (greedy)")
    ax.bar(x + 0.27, [100 * (r.get("scored_temporal_acc") or 0) for r in rows], 0.27,
           label="temporal acc (scored)")  # fmt: skip
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, [r["compute_ratio"] for r in rows], "ko-", label="compute ratio")
    ax2.set_ylabel("LLM compute (x of 100% tokens)")
    ax2.set_ylim(0, 1.1)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
    ax.set_title("VA-GPT ablation (synthetic, small scale)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

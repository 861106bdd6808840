"""The demo's anomaly classifier, trained and measured on synthetic footage.

`train_synthetic_classifier` renders three disjoint seed ranges of synthetic camera videos
(train, validation, test: half normal, half cycling through every anomaly kind), a third of
each with a hard look (camera shake, night, flicker: `hard_look`), samples them at the
preset's decode fps, extracts per-frame features with the preset's encoder exactly as the
visual stage does (its int8 Linear layers too, with `runtime.encoder_int8`: `served_encoder`),
trains with frame-level labels and kinds from the synthetic truth,
calibrates the interval stage on the validation videos (va_gpt.train.calibrate), saves the
checkpoint with its calibration, and reports `detector_report` on the test videos.

Event timing: the renderer starts every event 25-45 % into its video, and a classifier trained
on that learns the clock. Its causal temporal convolutions can tell how far a frame is from the
video's first frame (whose difference to the reference is exactly zero), and with only 40 frames
per video the position paid: trained that way, the normal test videos scored a mean 0.66 at
8-9 s and 0.00 over the first 5 s, and at the same positions its event frames beat the normal
videos' frames with an AUC of only 0.65-0.78. So the training and validation videos draw their
event start uniformly in `event_start` (5-70 % of the video by default), where the clock says
nothing; the test and out-of-range videos keep the renderer's timing, as `vagpt synth`'s
archives do. Measured (docs/MEASUREMENTS.md, "The classifier had learned the clock"): this removes the cue
(normal videos' maxima spread over the video; fewer false intervals) but does not raise the
frame AUC where events start anywhere, and lowers it on archives with the renderer's timing,
which is the clock's share of the old figure.

`detector_report`: frame AUC (overall, per kind against the normal videos, and split: event
frames against the normal videos' frames / against the other frames of the anomalous videos), event
recall / precision at tIoU 0.3 / 0.5 / 0.7, false intervals per normal video and kind
accuracy (the interval's label = the kind with the highest mean probability over it, against
the event it matches best), for the classifier and, as the baseline row, for the raw motion
energy (`diff_energy`) calibrated the same way on the same validation videos.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch

from va_gpt.checkpoints.build import build_encoder
from va_gpt.checkpoints.classifier import load_classifier, save_classifier, write_calibration
from va_gpt.config import IntervalConfig, load_preset
from va_gpt.eval.detection import frame_auc_ci
from va_gpt.io.credentials import storage_options_for
from va_gpt.models.classifier import KINDS, frame_inputs
from va_gpt.ops.intervals import (
    interval_kind_probs,
    label_of,
    resolve_intervals,
    scores_to_intervals,
    with_low_by_kind,
)
from va_gpt.ops.metrics import frame_auc, temporal_iou
from va_gpt.ops.prepare import Preparation
from va_gpt.pipeline.visual import feature_spec, served_encoder
from va_gpt.synthetic.anomalies import ALL_KINDS
from va_gpt.synthetic.domain import check_event_hard_negative_p
from va_gpt.synthetic.scene import check_event_start, draw_event_start_s
from va_gpt.synthetic.training import synthetic_video
from va_gpt.train import classifier as tc
from va_gpt.train.calibrate import (
    calibrate_intervals,
    calibrate_judgement,
    calibrate_low_by_kind,
    interval_scores,
    judgement_items,
    label_intervals,
)
from va_gpt.train.dataset_cache import ChunkCache, dataset_key
from va_gpt.train.member_cache import in_data_cache
from va_gpt.train.workers import exit_with_parent

VAL_SEED_OFFSET = 50_000
TEST_SEED_OFFSET = 100_000  # held-out videos use seeds (and so cameras) the training never saw
OOR_SEED_OFFSET = 150_000
EVENT_START = (0.05, 0.7)  # training and validation events start anywhere in this share of a video
LOOKS = ("plain", "shake", "night", "flicker")
COLUMNS = ("features", "patches", "event_patches", "energy", "t", "frame_labels", "kind", "look")


def hard_look(frames: np.ndarray, look: str, rng: np.random.Generator) -> np.ndarray:
    """uint8 frames [T, S, S, 3] -> the same video as a harder camera shows it.

    shake: every frame shifted by up to 6% of its size (edge-replicated), a handheld or
    wind-blown camera; night: 0.15-0.35x the light plus sensor noise (sigma 2-5); flicker:
    each frame's gain drawn in 0.6-1.4 (auto exposure, lights switching).
    """
    if look == "plain":
        return frames
    x = frames.astype(np.float32)
    T, S = x.shape[0], x.shape[1]
    if look == "shake":
        m = max(1, int(0.06 * S))
        pad = np.pad(x, ((0, 0), (m, m), (m, m), (0, 0)), mode="edge")
        off = rng.integers(0, 2 * m + 1, (T, 2))
        x = np.stack([pad[i, a : a + S, b : b + S] for i, (a, b) in enumerate(off)])
    elif look == "night":
        x = x * rng.uniform(0.15, 0.35) + rng.normal(0, rng.uniform(2, 5), x.shape)
    elif look == "flicker":
        x = x * rng.uniform(0.6, 1.4, (T, 1, 1, 1))
    else:
        raise ValueError(f"look must be one of {LOOKS}, got {look!r}")
    return np.clip(x, 0, 255).astype(np.uint8)


def _video_kind(j: int) -> str | None:
    """Video j of a split: every other one normal, the others cycling through every kind."""
    return ALL_KINDS[(j // 2) % len(ALL_KINDS)] if j % 2 else None


def _dataset_rows(
    preset, encoder, js, seed0, duration_s, width, height, domain_split, event_start, event_hard_negative_p
) -> list[dict]:
    """One row per video index j in `js` (see classifier_dataset)."""
    rows = []
    per_patch = bool(preset.classifier.patch_hidden)
    for j in js:
        kind = _video_kind(j)
        v = synthetic_video(
            seed0 + j, kind, preset.encoder.image_size, fps=preset.decode.fps,
            duration_s=duration_s, width=width, height=height, domain_split=domain_split,
            event_start_s=draw_event_start_s(seed0 + j, kind, duration_s, event_start),
            patch_grid=encoder.grid if per_patch else None, event_hard_negative_p=event_hard_negative_p,
        )  # fmt: skip
        if domain_split is None:
            look = LOOKS[(j // 3) % len(LOOKS)]
            frames = hard_look(v.frames, look, np.random.default_rng(seed0 + j))
        else:
            look, frames = v.look, v.frames
        feats, px, energy = tc.video_inputs(
            encoder, frames, preset.classifier.use_cls, per_patch, prepare=Preparation.of(preset.sets),
            pixel_maps=preset.classifier.pixel_maps, background_samples=preset.sets.background_samples,
        )  # fmt: skip
        rows.append({"features": feats, "patches": px, "event_patches": v.event_patches, "energy": energy,
                     "t": v.t, "frame_labels": v.frame_labels, "kind": kind, "look": look})  # fmt: skip
    return rows


_WORKER_ENCODER = None  # a worker process's own encoder, loaded once by _init_worker


def _init_worker(preset) -> None:
    global _WORKER_ENCODER
    exit_with_parent()  # a killed build must not leave its renderers running
    torch.set_num_threads(1)  # one torch thread, as the parent's build
    # encoded as the visual stage serves it (served_encoder: int8 with runtime.encoder_int8): the
    # classifier trains and calibrates on the features it is served, and the rows render 1.27x as
    # fast (32 videos: 57 s against 72 s here); the committed classifier scores 576 validation
    # videos the same either way (frame AUC 0.899 against 0.900, recall@0.5 0.677 against 0.674;
    # docs/MEASUREMENTS.md, "The training videos encoded as served")
    _WORKER_ENCODER = served_encoder(
        preset, build_encoder(preset.encoder, preset.runtime.device, preset.runtime.dtype)
    )


def _worker_rows(preset, args: tuple, js) -> list[dict]:
    """One chunk of videos in a worker process, with the worker's encoder."""
    return _dataset_rows(preset, _WORKER_ENCODER, js, *args)


CHUNK_VIDEOS = 16  # videos per task of a rendering worker and per cache file (classifier_dataset)
# the functions beside the training code whose source makes the rows (dataset_cache.dataset_key)
_ROW_CODE = (_dataset_rows, hard_look, _video_kind, tc.video_inputs, frame_inputs, served_encoder)


def classifier_dataset(
    preset, encoder, n: int, seed0: int, duration_s: float, width: int | None = 160, height: int | None = 120,
    domain_split: str | None = None, workers: int = 1, event_start: tuple[float, float] | None = None,
    cache: str | Path | None = None, event_hard_negative_p: float = 0.0,
):  # fmt: skip
    """n synthetic videos, every other one normal, the others cycling through every kind ->
    dict of lists: features [T, F], patches (per-patch evidence [T, N, Fp] float16 for a
    preset whose classifier reads patches, else None), event_patches ([T, N] uint8 event-actor
    patches, same condition), energy [T], t [T], frame_labels [T], kind (None: normal), look.
    domain_split None: the plain renderer, every video with a look cycling through LOOKS;
    else va_gpt.synthetic.domain's randomized footage of that split (look = its time of day).

    workers > 1: the videos are rendered and encoded in that many spawned processes (each loads
    the preset's encoder once and uses one torch thread), in chunks of CHUNK_VIDEOS joined in order. Every
    video depends only on its own seed, so the rows equal the one-process build's whenever
    `encoder` is the preset's encoder on one thread (tests/train/test_classifier.py);
    rendering is most of the time, so two workers nearly halve it on two cores.

    event_start: (lo, hi) fractions of the video an anomalous video's event starts within, drawn
    per video; None: the renderer's own 25-45 %. See train_synthetic_classifier for why the
    training videos spread them. event_hard_negative_p: hard negatives in the videos with an
    event too (va_gpt.synthetic.domain.sample_domain; needs a domain_split).

    cache: a folder (va_gpt.train.dataset_cache) where every chunk of CHUNK_VIDEOS videos is
    written as soon as it is done and taken from next time, when everything the rows depend on
    is the same: a retrain skips the rendering, and a cut-off build keeps what it rendered."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    check_event_start(event_start)
    check_event_hard_negative_p(event_hard_negative_p, domain_split)
    args = (seed0, duration_s, width, height, domain_split, event_start, event_hard_negative_p)
    workers = max(1, min(workers, n))
    # Small chunks, not one share per worker: a worker pickles its whole result back, so a share
    # of 1000 videos' patch evidence took 12 GB in the worker and the build of 2000 training
    # videos was killed for memory. The cache keeps the same chunks.
    shares = [range(a, min(a + CHUNK_VIDEOS, n)) for a in range(0, n, CHUNK_VIDEOS)]
    store = None
    if cache is not None:
        threads = 1 if workers > 1 else torch.get_num_threads()
        names = (
            "seed0",
            "duration_s",
            "width",
            "height",
            "domain_split",
            "event_start",
            "event_hard_negative_p",
        )
        key = dataset_key(preset, encoder, dict(zip(names, args)), threads, _ROW_CODE)
        store = ChunkCache(cache, key)
    parts: dict[int, list[dict]] = {}
    if store is not None:
        for i, js in enumerate(shares):
            if (rows := store.load(js, COLUMNS)) is not None:
                parts[i] = rows
    todo = [i for i in range(len(shares)) if i not in parts]

    def done(i: int, rows: list[dict]) -> None:
        parts[i] = rows
        if store is not None:
            store.save(shares[i], rows)

    if workers == 1:
        served = served_encoder(preset, encoder) if todo else encoder  # as the workers' (_init_worker)
        for i in todo:
            done(i, _dataset_rows(preset, served, shares[i], *args))
    elif todo:  # in workers even for one chunk: their one torch thread is the rows' (and the key's)
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that already ran torch
        with ProcessPoolExecutor(
            min(workers, len(todo)), mp_context=ctx, initializer=_init_worker, initargs=(preset,)
        ) as pool:
            for i, rows in zip(
                todo, pool.map(partial(_worker_rows, preset, args), [shares[i] for i in todo])
            ):
                done(i, rows)
    if store is not None:
        print(
            f"classifier data: {n} videos from seed {seed0}, {store.hits} of {len(shares)} chunks "
            f"from the cache in {store.root}",
            file=sys.stderr,  # stdout is the CLI's JSON report
            flush=True,
        )
    rows = [r for i in range(len(shares)) for r in parts[i]]
    return {k: [r[k] for r in rows] for k in COLUMNS}


# where each split of a recipe starts in seed space (train_synthetic_classifier's seed * 1e6 + this)
# and whether it takes the recipe's footage settings, its event start and its hard negatives in
# videos with an event (the test splits keep the renderer's own timing, and hard negatives in
# normal videos only, as the held-out archives have them)
RECIPE_SPLITS = {
    "train": (0, True),
    "val": (VAL_SEED_OFFSET, True),
    "test": (TEST_SEED_OFFSET, False),
    "out_of_range": (OOR_SEED_OFFSET, False),
}


def recipe_split(
    preset, encoder, split: str, n: int, *, seed: int, duration_s: float, width: int | None,
    height: int | None, domain: bool, workers: int, event_start: tuple[float, float] | None,
    cache: str | Path | None, event_hard_negative_p: float = 0.0,
):  # fmt: skip
    """classifier_dataset rows of a recipe's `split` ("train", "val", "test", "out_of_range"): the
    same videos whether a build or a recalibration asks for them."""
    offset, draws_start = RECIPE_SPLITS[split]
    return classifier_dataset(
        preset, encoder, n, seed * 1_000_000 + offset, duration_s, width, height, split if domain else None,
        workers, event_start if draws_start else None, cache, event_hard_negative_p if draws_start else 0.0,
    )  # fmt: skip


def _predict(model, data: dict) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """classifier_dataset rows -> (per-video scores [T], per-video kind probabilities [T, K])."""
    pairs = list(zip(data["features"], data["patches"]))
    return [tc.predict(model, f, p) for f, p in pairs], [tc.predict_kinds(model, f, p) for f, p in pairs]


def _cut(t, scores, cfg: IntervalConfig, held: int, kind_prob):
    return scores_to_intervals(t, scores, cfg, held=held, kind_prob=kind_prob, kinds=KINDS)


def detector_report(
    scores: list[np.ndarray],
    kind_probs: list[np.ndarray] | None,
    data: dict,
    cfg: IntervalConfig,
    held: int = 0,
) -> dict:
    """One detector's figures on `data` (classifier_dataset) with interval settings `cfg`; held:
    frames at each video's end that repeat an earlier score (ops.intervals.scores_to_intervals)."""
    y = np.concatenate(data["frame_labels"])
    s = np.concatenate(scores)
    truth = [label_intervals(t, lab) for t, lab in zip(data["t"], data["frame_labels"])]
    kps = kind_probs if kind_probs is not None else [None] * len(scores)
    m = interval_scores(list(zip(data["t"], scores)), truth, cfg, held, kind_probs, KINDS)
    report = {"frame_auc": frame_auc(s, y), "frame_auc_by_kind": {}, **m}
    # the range another set of as many videos could give (va_gpt.eval.detection)
    report["frame_auc_ci95"] = frame_auc_ci(list(scores), list(data["frame_labels"]))
    normal = np.concatenate([np.full(len(f), k is None) for f, k in zip(data["frame_labels"], data["kind"])])
    if y.any() and normal.any():
        # what the overall figure mixes: telling an event from normal footage, and finding it in its video
        report["frame_auc_vs_normal_videos"] = frame_auc(s[(y == 1) | normal], y[(y == 1) | normal])
        if (~normal & (y == 0)).any():
            report["frame_auc_within_anomalous_videos"] = frame_auc(s[~normal], y[~normal])
    for kind in ALL_KINDS:
        idx = [i for i, k in enumerate(data["kind"]) if k in (kind, None)]
        ys = np.concatenate([data["frame_labels"][i] for i in idx])
        if 0 < ys.sum() < len(ys):
            report["frame_auc_by_kind"][kind] = frame_auc(np.concatenate([scores[i] for i in idx]), ys)
    normal_looks = {}
    for look in sorted(set(data["look"])):
        idx = [i for i, k in enumerate(data["kind"]) if k is None and data["look"][i] == look]
        n = sum(len(_cut(data["t"][i], scores[i], cfg, held, kps[i])) for i in idx)
        normal_looks[look] = n / max(1, len(idx))
    report["false_per_normal_by_look"] = normal_looks
    if kind_probs is not None:
        right = total = 0
        for i, kind in enumerate(data["kind"]):
            if kind is None:
                continue
            for iv in _cut(data["t"][i], scores[i], cfg, held, kps[i]):
                best = max((temporal_iou((iv.start_s, iv.end_s), g) for g in truth[i]), default=0.0)
                if best > 0:
                    total += 1
                    probs = interval_kind_probs(
                        data["t"][i], kind_probs[i], KINDS, iv.start_s, iv.end_s, scores[i]
                    )
                    right += label_of(probs, KINDS)[0] == kind
        report["kind_accuracy"] = right / total if total else None
        report["kind_intervals"] = total
    return report


def calibrate_on_validation(val: dict, scores: list, kinds: list, held: int) -> dict:
    """Validation rows (classifier_dataset) and a classifier's predictions on them (_predict:
    scores [T] and kind probabilities [T, K] per video) -> every interval setting the classifier
    stores, calibrated as va_gpt.train.calibrate describes (thresholds, smoothing, length and gap;
    then a `low` per kind; then the judgement's normal_bias), and the raw motion energy's own
    settings (vagpt eval's baseline row). Returns {"calibration", "cut": the IntervalConfig
    intervals are cut with, "energy_calibration", "validation", "validation_low_by_kind",
    "validation_judgement"}. held: as va_gpt.ops.intervals.scores_to_intervals."""
    truth = [label_intervals(t, y) for t, y in zip(val["t"], val["frame_labels"])]
    videos = list(zip(val["t"], scores))
    calibration, metrics = calibrate_intervals(videos, truth, held)
    cfg = IntervalConfig(**calibration)
    calibration["low_by_kind"], by_kind = calibrate_low_by_kind(videos, kinds, truth, cfg, KINDS, held)
    cfg = with_low_by_kind(cfg, calibration["low_by_kind"])
    items = judgement_items(videos, kinds, truth, val["kind"], cfg, KINDS, held)
    calibration["normal_bias"], judgement = calibrate_judgement(items)
    energy, _ = calibrate_intervals(list(zip(val["t"], val["energy"])), truth)
    return {
        "calibration": calibration,
        "cut": cfg,
        "energy_calibration": energy,
        "validation": metrics,
        "validation_low_by_kind": by_kind,
        "validation_judgement": judgement,
    }


def train_synthetic_classifier(
    preset_name: str,
    out: str,
    *,
    train_videos: int = 120,
    val_videos: int | None = None,
    test_videos: int = 48,
    duration_s: float = 20.0,
    steps: int = 300,
    width: int | None = 160,
    height: int | None = 120,
    seed: int = 0,
    endpoint: str | None = None,
    frame_level: bool = True,
    domain: bool = True,
    out_of_range_videos: int = 0,
    workers: int = 1,
    event_start: tuple[float, float] | None = EVENT_START,
    pairs_per_step: int = 8,
    ema: float = 0.0,
    kind_balance: bool = False,
    time_balance: int = 0,
    lookahead: int = 0,
    patch_dropout: float = 0.0,
    cosine_lr: bool = False,
    data_cache: str | Path | None = None,
    event_hard_negative_p: float = 0.0,
    focal_gamma: float = 0.0,
) -> dict:
    """Train the TETG classifier on synthetic footage (frame labels, or MIL with frame_level=False),
    calibrate its intervals on validation videos, save it to `out` (any fsspec URL) and return
    the report (see the module docstring) with timings. `workers`: processes rendering the
    videos (classifier_dataset) and training an ensemble's members (TrainConfig.processes); the
    result does not depend on it. `event_start`: the fractions
    of the video the training and validation events start within (None: the renderer's 25-45 %,
    see the module docstring). `pairs_per_step`: anomalous and normal videos per optimizer step.
    `ema`: > 0 keeps the moving average of the weights (TrainConfig.ema); `kind_balance`: every
    anomaly kind gets an equal share of the kind head's loss (TrainConfig.kind_balance); `time_balance`:
    > 0 balances event and normal frames within bins of that many frames from a video's start
    (TrainConfig.time_balance); `lookahead`: > 0 lets every frame's score see that many frames
    after it (TrainConfig.lookahead; stored with the classifier); `patch_dropout`: > 0 drops
    per-patch evidence values while training (TrainConfig.patch_dropout); `cosine_lr`: lowers the
    learning rate along half a cosine over the steps (TrainConfig.cosine_lr). The preset's
    classifier.members > 1 trains that many classifiers from seeds seed, seed + 1, ... (the
    rendered videos are the same) and saves them as one ensemble. `data_cache`: a folder keeping
    the rendered and encoded videos (classifier_dataset's `cache`): a retrain with the same videos,
    preset and encoder takes them from there, and a cut-off build keeps the ones it rendered; its
    `members/` keeps each trained ensemble member the same way (va_gpt.train.member_cache).
    `event_hard_negative_p`: the training and validation videos with an event get hard negatives
    too, each with this probability (va_gpt.synthetic.domain.sample_domain; 0: normal videos only).
    `focal_gamma`: > 0 scales each frame's anomaly loss by (1 - p_t) ** focal_gamma
    (TrainConfig.focal_gamma; frame labels only)."""
    if not 0.0 <= ema < 1.0:
        raise ValueError(f"ema must be in [0, 1) (0: off), got {ema}")
    if time_balance < 0 or (time_balance and not frame_level):
        raise ValueError(
            f"time_balance must be >= 0 frames (0: off) and needs frame labels, got {time_balance}"
        )
    if lookahead < 0 or (lookahead and not frame_level):
        raise ValueError(f"lookahead must be >= 0 frames (0: off) and needs frame labels, got {lookahead}")
    if focal_gamma and not frame_level:
        raise ValueError(
            f"focal_gamma needs frame labels (MIL has no per-frame loss to scale), got {focal_gamma}"
        )
    train_cfg = tc.TrainConfig(  # checks its own values before any video is rendered
        steps=steps, seed=seed, pairs_per_step=pairs_per_step, ema=ema, kind_balance=kind_balance,
        time_balance=time_balance, lookahead=lookahead, processes=workers, patch_dropout=patch_dropout,
        cosine_lr=cosine_lr, focal_gamma=focal_gamma,
    )  # fmt: skip
    preset = load_preset(preset_name)
    encoder = build_encoder(preset.encoder, preset.runtime.device, preset.runtime.dtype)
    val_videos = val_videos if val_videos is not None else max(12, train_videos // 3)
    t0 = time.time()
    data = partial(
        recipe_split, preset, encoder, seed=seed, duration_s=duration_s, width=width, height=height,
        domain=domain, workers=workers, event_start=event_start, cache=data_cache,
        event_hard_negative_p=event_hard_negative_p,
    )  # fmt: skip
    train = data("train", train_videos)
    val = data("val", val_videos)
    test = data("test", test_videos)
    oor = data("out_of_range", out_of_range_videos) if out_of_range_videos else None
    t_feat = time.time() - t0
    t0 = time.time()
    per_patch = bool(preset.classifier.patch_hidden)
    model = tc.train_classifier(
        train["features"], [int(k is not None) for k in train["kind"]], preset.classifier,
        train_cfg,
        frame_labels=train["frame_labels"] if frame_level else None, kinds=train["kind"],
        patches=train["patches"] if per_patch else None,
        patch_labels=train["event_patches"] if per_patch and frame_level else None,
        grid=encoder.grid,
        # beside the rendered videos: a cut-off build keeps the members it finished too
        member_cache=in_data_cache(data_cache),
    )  # fmt: skip
    t_train = time.time() - t0

    t0 = time.time()
    # predict holds the last output over a video's last frames that the model does not score with a tail
    held = model.lookahead - model.tail_frames
    cal = calibrate_on_validation(val, *_predict(model, val), held)
    calibration, cfg, energy_cal = cal["calibration"], cal["cut"], cal["energy_calibration"]
    t_cal = time.time() - t0
    test_scores, test_kinds = _predict(model, test)
    report = {
        "preset": preset.name,
        "supervision": "frame labels" if frame_level else "MIL (video labels)",
        "kind_balance": kind_balance,
        "time_balance": time_balance,
        "patch_dropout": patch_dropout,
        "cosine_lr": cosine_lr,
        "focal_gamma": focal_gamma,
        "train_videos": train_videos,
        "val_videos": val_videos,
        "test_videos": test_videos,
        "calibration": calibration,
        "classifier": detector_report(test_scores, test_kinds, test, cfg, held),
        "diff_energy": detector_report(test["energy"], None, test, IntervalConfig(**energy_cal)),
        "validation": cal["validation"],
        "validation_low_by_kind": cal["validation_low_by_kind"],
        "validation_judgement": cal["validation_judgement"],
        "domain": "randomized (va_gpt.synthetic.domain)" if domain else "plain + shake/night/flicker looks",
        "event_start": {
            "train_and_val": list(event_start) if event_start else "renderer (0.25, 0.45)",
            "test": "renderer (0.25, 0.45)",
        },  # fmt: skip
        "event_hard_negative_p": {"train_and_val": event_hard_negative_p, "test": 0.0},
        "feature_seconds": round(t_feat, 1),
        "train_seconds": round(t_train, 1),
        # members taken from the data cache's members/ (trained by an earlier run): train_seconds
        # then does not include their training; members_seconds does (each member's own, None
        # where the run that kept it did not record it)
        "members_from_cache": getattr(model, "members_from_cache", 0),
        "members_seconds": [getattr(m, "train_seconds", None) for m in getattr(model, "members", [])],
        "calibrate_seconds": round(t_cal, 1),
    }
    if oor is not None:
        sc, kp = _predict(model, oor)
        report["out_of_range"] = {
            "videos": out_of_range_videos,
            "classifier": detector_report(sc, kp, oor, cfg, held),
            "diff_energy": detector_report(oor["energy"], None, oor, IntervalConfig(**energy_cal)),
        }
    report["frame_auc"] = report["classifier"]["frame_auc"]
    features = {
        **feature_spec(preset, encoder),
        "trained_on": "synthetic",
        "frame_auc": report["frame_auc"],
        # the raw motion-energy baseline calibrated on the same validation videos (vagpt eval's baseline row)
        "diff_energy_calibration": energy_cal,
    }
    save_classifier(model, out, features, storage_options_for(out, endpoint), calibration=calibration)
    report["saved_to"] = out
    return report


def recalibrate_synthetic_classifier(
    url: str,
    preset_name: str = "demo",
    *,
    val_videos: int = 48,
    test_videos: int = 24,
    duration_s: float = 20.0,
    width: int | None = None,
    height: int | None = None,
    seed: int = 0,
    event_start: tuple[float, float] | None = EVENT_START,
    domain: bool = True,
    workers: int = 1,
    endpoint: str | None = None,
    data_cache: str | Path | None = None,
    event_hard_negative_p: float = 0.0,
) -> dict:
    """Calibrate a trained classifier's interval settings again, every one of them, on
    `val_videos` validation videos of its recipe (the seeds, split and timing
    train_synthetic_classifier renders: the first ones are the build's own), as the build does
    (calibrate_on_validation), and measure it on the recipe's test videos as the build does. The
    weights are untouched; config.json's calibration and the raw motion energy's are replaced.
    Why: the calibration is the noisiest part of a build (its threshold moved from 0.75 to 0.97
    between disjoint sets of 48 validation videos; docs/MEASUREMENTS.md, "A calibration on four
    times the validation videos"), a build takes hours here, and the interval stage gains settings
    after a classifier was built. data_cache, event_hard_negative_p: as train_synthetic_classifier's. Returns
    {"calibration", "diff_energy_calibration", "validation": the validation metrics of the stored
    settings and of the new ones on these videos (once: "after" is the build's
    "validation_low_by_kind"), "validation_judgement", "classifier" and "diff_energy": the test
    videos' reports}."""
    preset = load_preset(preset_name)
    options = storage_options_for(url, endpoint)
    model, config = load_classifier(url, options)
    if not config.get("calibration"):
        raise ValueError(f"classifier {url}: no calibration to replace (an untrained classifier?)")
    stored = resolve_intervals(preset.intervals, config["calibration"], f"classifier {url}")
    encoder = build_encoder(preset.encoder, preset.runtime.device, preset.runtime.dtype)
    data = partial(
        recipe_split, preset, encoder, seed=seed, duration_s=duration_s, width=width, height=height,
        domain=domain, workers=workers, event_start=event_start, cache=data_cache,
        event_hard_negative_p=event_hard_negative_p,
    )  # fmt: skip
    val, test = data("val", val_videos), data("test", test_videos)
    held = model.lookahead - model.tail_frames
    scores, kinds = _predict(model, val)
    truth = [label_intervals(t, y) for t, y in zip(val["t"], val["frame_labels"])]
    before = interval_scores(list(zip(val["t"], scores)), truth, stored, held, kinds, KINDS)
    cal = calibrate_on_validation(val, scores, kinds, held)
    test_scores, test_kinds = _predict(model, test)
    write_calibration(url, cal["calibration"], options, energy_calibration=cal["energy_calibration"])
    return {
        "calibration": cal["calibration"],
        "diff_energy_calibration": cal["energy_calibration"],
        # "after": the metrics of the settings as stored (calibrate_low_by_kind's last measurement)
        "validation": {"videos": val_videos, "before": before, "after": cal["validation_low_by_kind"]},
        "validation_judgement": cal["validation_judgement"],
        "classifier": detector_report(test_scores, test_kinds, test, cal["cut"], held),
        "diff_energy": detector_report(
            test["energy"], None, test, IntervalConfig(**cal["energy_calibration"])
        ),
    }

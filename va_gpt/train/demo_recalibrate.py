"""Recalibrating the committed demo classifier in place (`make models RECALIBRATE=1`).

The classifier's interval settings are calibrated on validation videos after training (va_gpt.
train.calibrate), and they are the noisiest part of a build: 48 validation videos put its
threshold anywhere from 0.75 to 0.97 (docs/MEASUREMENTS.md, "A calibration on four times the
validation videos"); the interval stage also gains settings after a classifier was built
(IntervalConfig.low_by_kind). Retraining takes hours here, and the calibration needs only
validation videos, which the card's recipe names exactly (seeds, split, timing).
`recalibrate_demo_models` renders the code's recipe's number of them (the first ones are the
build's own) and the recipe's test videos, calibrates every setting again as a build does
(va_gpt.train.synthetic_classifier.recalibrate_synthetic_classifier), rewrites the bundled
classifier's config.json, gives the checkpoint the model_version of its new content, and records
it in the card: the recipe's validation count, the test videos' figures and calibration in
`eval`, and a `recalibrated` entry with the figures before. The weights are not touched, so the
card then says what a `make models` with the code's recipe gives (its members come out the
same; the validation videos only calibrate).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import torch

from va_gpt.checkpoints.card import read_card, verify_card, write_card
from va_gpt.checkpoints.vagpt import META, _content_hash
from va_gpt.train.demo_models import CHECKPOINT, CLASSIFIER_RECIPE, DATA_WORKERS, THREADS, _git
from va_gpt.train.synthetic_classifier import recalibrate_synthetic_classifier

COMMAND = (
    "make models RECALIBRATE=1  (= python -u -m va_gpt.cli demo --build-models models/demo --recalibrate)"
)


def recalibrate_demo_models(
    folder: str | Path, workers: int = DATA_WORKERS, val_videos: int | None = None, data_cache=None
) -> dict:
    """Recalibrate the classifier bundled in the committed checkpoint folder `folder` (models/demo)
    on `val_videos` validation videos of its recipe (default: the code's recipe's count); returns
    the card. data_cache: a folder of rendered videos (va_gpt.train.dataset_cache), e.g. the
    build's work folder's. A folder whose card does not verify is refused before anything is
    written (its files are not the ones the card describes)."""
    folder = Path(folder)
    card = read_card(folder)
    if card is None:
        raise ValueError(f"{folder}: no model card (card.json): not a committed demo checkpoint")
    problems = verify_card(folder)
    if problems:
        raise ValueError(f"{folder}: the card does not verify, nothing recalibrated: {problems[0]}")
    args = card["checkpoints"]["classifier"]["recipe"]["args"]
    val_videos = CLASSIFIER_RECIPE["val_videos"] if val_videos is None else val_videos
    if val_videos < 1:
        raise ValueError(f"val_videos must be at least 1, got {val_videos}")
    t0 = time.monotonic()
    # as the build: the scores (and the rendered videos' cache keys) depend on the thread count
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        result = recalibrate_synthetic_classifier(
            str(folder / CHECKPOINT / "classifier"),
            args["preset_name"],
            val_videos=val_videos,
            test_videos=args["test_videos"],
            duration_s=args["duration_s"],
            width=args["width"],
            height=args["height"],
            seed=args["seed"],
            event_start=tuple(args["event_start"]) if args["event_start"] else None,
            domain=args.get("domain", True),
            # newer than the first builds, whose videos with an event had none
            event_hard_negative_p=args.get("event_hard_negative_p", 0.0),
            workers=workers,
            data_cache=data_cache,
        )
    finally:
        torch.set_num_threads(threads)
    ckpt = folder / CHECKPOINT
    meta = json.loads((ckpt / META).read_text())
    version = f"{meta['model_version'].rsplit('-', 1)[0]}-{_content_hash(ckpt, meta['files'])}"
    meta["model_version"] = version
    (ckpt / META).write_text(json.dumps(meta, indent=1))
    head, dirty = _git(folder)
    part = card["checkpoints"]["classifier"]
    ev = part["eval"]
    earlier = {
        "val_videos": args["val_videos"],
        "calibration": ev.get("calibration"),
        "classifier_by_iou": ev.get("classifier", {}).get("by_iou"),
        "false_per_normal": ev.get("classifier", {}).get("false_per_normal"),
        "kind_accuracy": ev.get("classifier", {}).get("kind_accuracy"),
    }
    args["val_videos"] = val_videos
    part.get("data", {}).get("videos", {})["val"] = val_videos
    ev["calibration"] = result["calibration"]
    ev["classifier"] = result["classifier"]
    ev["diff_energy_baseline"] = result["diff_energy"]
    ev["validation_judgement"] = result["validation_judgement"]
    part["recalibrated"] = {
        "command": COMMAND,
        "function": "va_gpt.train.synthetic_classifier.recalibrate_synthetic_classifier",
        "what": f"every interval setting calibrated again on {val_videos} validation videos of the recipe, "
        "the test videos measured again; weights untouched",
        "git_commit": head,
        "git_dirty": dirty,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - t0, 1),
        "validation": result["validation"],
        "before": earlier,
        "model_version_before": card["model_version"],
    }
    card["model_version"] = version
    return write_card(
        folder, {k: v for k, v in card.items() if k not in ("files", "files_bytes", "card_format")}
    )

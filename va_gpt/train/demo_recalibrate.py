"""Recalibrating the committed demo classifier in place (`make models RECALIBRATE=1`).

The interval stage can gain a calibrated setting after the committed classifier was built
(IntervalConfig.low_by_kind). Retraining the classifier to calibrate it takes about an hour
here; the calibration needs only the classifier's validation videos, which its card's recipe
names exactly (seeds, split, timing). `recalibrate_demo_models` renders them again, calibrates
the new setting with the stored thresholds kept (va_gpt.train.synthetic_classifier.
recalibrate_synthetic_classifier), rewrites the bundled classifier's config.json, gives the
checkpoint the model_version of its new content, and records the recalibration in the card,
whose file hashes are written again. The weights are not touched.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from va_gpt.checkpoints.card import read_card, verify_card, write_card
from va_gpt.checkpoints.vagpt import META, _content_hash
from va_gpt.train.demo_models import CHECKPOINT, DATA_WORKERS, _git
from va_gpt.train.synthetic_classifier import recalibrate_synthetic_classifier

COMMAND = (
    "make models RECALIBRATE=1  (= python -u -m va_gpt.cli demo --build-models models/demo --recalibrate)"
)


def recalibrate_demo_models(folder: str | Path, workers: int = DATA_WORKERS) -> dict:
    """Recalibrate the classifier bundled in the committed checkpoint folder `folder` (models/demo)
    on its recipe's validation videos; returns the card. A folder whose card does not verify is
    refused before anything is written (its files are not the ones the card describes)."""
    folder = Path(folder)
    card = read_card(folder)
    if card is None:
        raise ValueError(f"{folder}: no model card (card.json): not a committed demo checkpoint")
    problems = verify_card(folder)
    if problems:
        raise ValueError(f"{folder}: the card does not verify, nothing recalibrated: {problems[0]}")
    args = card["checkpoints"]["classifier"]["recipe"]["args"]
    t0 = time.monotonic()
    result = recalibrate_synthetic_classifier(
        str(folder / CHECKPOINT / "classifier"),
        args["preset_name"],
        val_videos=args["val_videos"],
        duration_s=args["duration_s"],
        width=args["width"],
        height=args["height"],
        seed=args["seed"],
        event_start=tuple(args["event_start"]) if args["event_start"] else None,
        workers=workers,
    )
    ckpt = folder / CHECKPOINT
    meta = json.loads((ckpt / META).read_text())
    version = f"{meta['model_version'].rsplit('-', 1)[0]}-{_content_hash(ckpt, meta['files'])}"
    meta["model_version"] = version
    (ckpt / META).write_text(json.dumps(meta, indent=1))
    head, dirty = _git(folder)
    part = card["checkpoints"]["classifier"]
    part["eval"]["calibration"] = result["calibration"]
    part["recalibrated"] = {
        "command": COMMAND,
        "function": "va_gpt.train.synthetic_classifier.recalibrate_synthetic_classifier",
        "what": "low_by_kind calibrated on the recipe's validation videos, the other settings kept",
        "git_commit": head,
        "git_dirty": dirty,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - t0, 1),
        "validation": result["validation"],
        "judgement_not_stored": result["judgement"],
        "model_version_before": card["model_version"],
    }
    card["model_version"] = version
    return write_card(
        folder, {k: v for k, v in card.items() if k not in ("files", "files_bytes", "card_format")}
    )

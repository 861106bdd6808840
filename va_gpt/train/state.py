"""A training run's state beside its checkpoint: trainer_state.pt.

It holds the step, optimizer and schedule state, losses, the TrainConfig, and
for LoRA runs the trainable tensors (adapters, projector, score rows) with the
URL of the base checkpoint they apply to; `load_trainer_state` checks that it
belongs to the checkpoint beside it.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import logging
import pickle

import torch

from va_gpt.checkpoints.vagpt import META, save_checkpoint
from va_gpt.io.filesystem import filesystem
from va_gpt.models.vagpt import VAGPT
from va_gpt.train.config import TrainConfig, TrainError
from va_gpt.train.trainable import export_model, trainable_state

log = logging.getLogger(__name__)

TRAINER_STATE = "trainer_state.pt"


def save_training(
    model: VAGPT,
    out: str,
    *,
    step: int,
    cfg: TrainConfig,
    optimizer_state: dict | None,
    losses: list[float],
    backend: str,
    init: str | None = None,
    storage_options: dict | None = None,
    classifier_state: dict | None = None,
    classifier_config: dict | None = None,
) -> str:
    """Checkpoint (checkpoints/vagpt.py format, overwriting `out`) + trainer_state.pt beside it; returns the version."""
    version = save_checkpoint(
        export_model(model),
        out,
        storage_options,
        classifier=classifier_state,
        classifier_config=classifier_config,
        overwrite=True,
    )
    state = {
        "format": 1,
        "step": step,
        "stage": cfg.stage,
        "lora": cfg.lora,
        "config": dataclasses.asdict(cfg),
        "optimizer": optimizer_state,
        "losses": list(losses),
        "backend": backend,
        "init": init,
        "model_version": version,
        "trainable": trainable_state(model) if cfg.lora else None,
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    fs, root = filesystem(out, storage_options)
    fs.pipe_file(f"{root.rstrip('/')}/{TRAINER_STATE}", buf.getvalue())
    return version


# Modules whose classes a DeepSpeed ZeRO optimizer state pickles (its loss-scaler and config
# objects); only these are allow-listed, and only classes, never arbitrary callables.
_STATE_MODULES = ("deepspeed.",)


def _load_state(raw: bytes, where: str) -> dict:
    """A trainer state read with torch's weights-only unpickler, never full unpickling: the file
    may come from any URL. A DeepSpeed state's own classes are allow-listed by module; any other
    global is a TrainError naming it."""
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass
    names = torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(raw))
    bad = [n for n in names if not n.startswith(_STATE_MODULES)]
    if bad:
        raise TrainError(f"{where}: refusing to unpickle {bad} (only tensors and DeepSpeed state are read)")
    allowed = []
    for name in names:
        module, _, attr = name.rpartition(".")
        obj = getattr(importlib.import_module(module), attr, None)
        if not isinstance(obj, type):
            raise TrainError(f"{where}: refusing to unpickle {name} (not a class)")
        allowed.append(obj)
    log.info(
        "%s: a DeepSpeed optimizer state, read weights-only with %d DeepSpeed classes allowed",
        where,
        len(allowed),
    )
    with torch.serialization.safe_globals(allowed):
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)


def load_trainer_state(out: str, storage_options: dict | None = None) -> dict:
    """The trainer_state.pt of the checkpoint at `out`, checked against the checkpoint beside it."""
    fs, root = filesystem(out, storage_options)
    root = root.rstrip("/")
    if not fs.exists(f"{root}/{TRAINER_STATE}"):
        raise TrainError(f"nothing to resume at {out}: no {TRAINER_STATE} (was the run saved there?)")
    if not fs.exists(f"{root}/{META}"):
        raise TrainError(f"cannot resume from {out}: the checkpoint's save did not finish (no {META})")
    raw = fs.cat_file(f"{root}/{TRAINER_STATE}")
    state = _load_state(raw, f"{out}/{TRAINER_STATE}")
    meta = json.loads(fs.cat_file(f"{root}/{META}"))
    if meta.get("model_version") != state.get("model_version"):
        raise TrainError(
            f"cannot resume from {out}: {TRAINER_STATE} belongs to model {state.get('model_version')}, "
            f"the checkpoint is {meta.get('model_version')} (a save was interrupted)"
        )
    return state

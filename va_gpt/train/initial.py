"""The model a training run starts from, and a model under another preset's run-time settings."""

from __future__ import annotations

import dataclasses

from va_gpt.checkpoints.build import from_preset
from va_gpt.checkpoints.vagpt import load_checkpoint
from va_gpt.config import Preset
from va_gpt.models.vagpt import VAGPT
from va_gpt.train.config import TrainError


def with_settings(model: VAGPT, *, sets=None, tetg=None, max_frames: int | None = None, decode=None) -> VAGPT:
    """The same parts under a config with other SETS / TETG / frame settings (ablations, presets)."""
    cfg = model.config
    new = dataclasses.replace(
        cfg,
        sets=sets or cfg.sets,
        tetg=tetg or cfg.tetg,
        decode=decode or cfg.decode,
        projector=dataclasses.replace(cfg.projector, max_frames=max_frames or cfg.projector.max_frames),
    )
    return VAGPT(
        model.vision,
        model.projector,
        model.llm,
        model.tokenizer,
        new,
        model.sets_encoder,
        answers=model.answers,
    )


def adopt_preset(model: VAGPT, preset: Preset) -> VAGPT:
    """`model` under `preset`'s run-time settings (SETS, TETG, decode, max_frames), after checking that
    the preset describes the same architecture as the model's own config."""
    mine = model.config
    for section in ("encoder", "vision_tower", "llm"):
        a, b = dataclasses.asdict(getattr(mine, section)), dataclasses.asdict(getattr(preset, section))
        a.pop("source", None), b.pop("source", None)
        if section == "llm":
            a.pop("vocab_size", None), b.pop("vocab_size", None)
        if a != b:
            raise TrainError(
                f"preset {preset.name!r} has a different {section} than the model ({mine.name!r}): {b} vs {a}"
            )
    if mine.projector.kind != preset.projector.kind:
        raise TrainError(f"projector kind {preset.projector.kind!r} != the model's {mine.projector.kind!r}")
    return with_settings(
        model,
        sets=preset.sets,
        tetg=preset.tetg,
        max_frames=preset.projector.max_frames,
        decode=preset.decode,
    )


def initial_model(
    preset: Preset,
    *,
    init: str | None,
    tokenizer_texts: list[str] | None = None,
    seed: int = 0,
    storage_options: dict | None = None,
) -> VAGPT:
    """The model a run starts from: `init` (a checkpoint URL) under the preset's settings, or a fresh
    `from_preset` (random small models / the preset's pretrained parts) with a tokenizer fitted to the texts."""
    if init:
        rt = preset.runtime
        model = load_checkpoint(init, storage_options, device=rt.device, dtype=rt.dtype).model
        return adopt_preset(model, preset)
    return from_preset(preset, tokenizer_texts=tokenizer_texts, seed=seed, storage_options=storage_options)

"""VA-GPT and its parts built for a preset: random tiny models, or pretrained ones loaded from their sources.

A part's `source` is a local folder, an fsspec URL of one (fetched into the
cache, va_gpt.checkpoints.fetch) or a Hugging Face hub id. Random parts are
seeded, so every process builds the same weights.
"""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, CLIPVisionModel, Dinov2Model

from va_gpt.checkpoints.fetch import from_pretrained_clear, local_model_dir
from va_gpt.config import EncoderConfig, Preset
from va_gpt.models.dinov2 import DTYPES, DinoEncoder
from va_gpt.models.llm import random_llm
from va_gpt.models.projector import build_projector
from va_gpt.models.tokenizer import ensure_special_tokens
from va_gpt.models.vagpt import VAGPT, ClipVisionTower


def build_encoder(
    cfg: EncoderConfig, device: str = "cpu", dtype: str = "float32", storage_options: dict | None = None
) -> DinoEncoder:
    """The DINOv2 encoder of the config: seeded random init (source null), else loaded from `cfg.source`."""
    if cfg.source is None:
        return DinoEncoder.random(cfg, device, dtype)
    model = Dinov2Model.from_pretrained(local_model_dir(cfg.source, storage_options))
    return DinoEncoder.wrap(model, cfg, device, dtype)


def load_clip_tower(
    source: str, device: str = "cpu", dtype: str = "float32", storage_options: dict | None = None
) -> ClipVisionTower:
    """A CLIP vision tower from a local folder, an fsspec URL of one, or a hub id."""
    folder = local_model_dir(source, storage_options)
    model = from_pretrained_clear(CLIPVisionModel, folder, "CLIP vision tower")
    return ClipVisionTower(model.eval()).to(device=device, dtype=DTYPES[dtype])


def build_llm(preset: Preset, tokenizer_texts: list[str] | None = None, storage_options: dict | None = None):
    """(tokenizer, llm): random init from preset.llm with a freshly trained BPE, or loaded from source."""
    cfg = preset.llm
    if cfg.source is None:
        return random_llm(preset, tokenizer_texts)
    folder = local_model_dir(cfg.source, storage_options)
    tok = from_pretrained_clear(AutoTokenizer, folder, "LLM tokenizer")
    ensure_special_tokens(tok, preset.tetg.num_buckets)
    llm = from_pretrained_clear(AutoModelForCausalLM, folder, "LLM", dtype=DTYPES[preset.runtime.dtype])
    if llm.config.hidden_size != cfg.hidden_size:
        raise ValueError(
            f"LLM {cfg.source}: hidden_size {llm.config.hidden_size} != preset llm.hidden_size {cfg.hidden_size}"
        )
    if len(tok) > llm.get_input_embeddings().num_embeddings:
        llm.resize_token_embeddings(len(tok))
    return tok, llm


def from_preset(
    preset: Preset,
    tokenizer_texts: list[str] | None = None,
    seed: int = 0,
    storage_options: dict | None = None,
) -> VAGPT:
    """Build VA-GPT for a preset: random tiny models when sources are null, real ones loaded otherwise.

    Random init is seeded (`seed`) without touching the global RNG state. `storage_options`
    are the fsspec options for sources given as object-store URLs.
    """
    device, dtype = preset.runtime.device, preset.runtime.dtype
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sets_encoder = build_encoder(preset.encoder, device, dtype, storage_options)
        if preset.vision_tower.kind == "shared":
            vision = sets_encoder
        else:
            vision = load_clip_tower(preset.vision_tower.source, device, dtype, storage_options)
        tok, llm = build_llm(preset, tokenizer_texts, storage_options)
        llm = llm.to(device=device, dtype=DTYPES[dtype])
        projector = build_projector(preset.projector.kind, vision.hidden_size, llm.config.hidden_size)
        projector = projector.to(device=device, dtype=DTYPES[dtype])
    return VAGPT(vision, projector, llm, tok, preset, sets_encoder=sets_encoder)

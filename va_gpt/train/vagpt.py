"""Two-stage VA-GPT training (the paper's recipe, LLaVA style), plain torch or DeepSpeed.

Stage 0, language warm-up (only for presets whose LLM is random-initialised,
i.e. everything but the paper's Vicuna): the LLM alone learns the text of the
samples (frame time markers, TETG segment, question -> answer) without the
visual tokens. It stands in for the pretrained LLM the paper starts from, at a
fraction of the cost of a visual step (sequences ~4x shorter on the demo preset). Stage 1, alignment: the vision tower and the LLM are frozen; only the
projector learns (plus the TETG score-bucket embedding rows ``<score_b>`` when
tetg.encoding is ``embedding``: new tokens need an embedding, and only their
rows get gradient). Stage 2, instruction tuning: projector + LLM, either the
full LLM or LoRA adapters (peft) on its attention and MLP projections; the
score-bucket rows are trained in both cases.

    model = from_preset(preset, tokenizer_texts=...)    # or load_checkpoint(stage-1 URL).model
    result = train(model, training_set, TrainConfig(stage=1, steps=200), out="s3://models/vagpt/s1")

Backends: plain torch AdamW (the default), or DeepSpeed when
``TrainConfig.deepspeed`` names a config (infra/deepspeed/zero2.json): the
"auto" values are filled from the TrainConfig, a single process sets its own
RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT, and on a CPU-only machine
DeepSpeed's CPU accelerator runs with the gloo backend. When DeepSpeed cannot
start here the run falls back to plain torch and the log says so;
``TrainResult.backend`` records which one ran.

Checkpoints: the checkpoints/load.py folder format at any fsspec URL (LoRA adapters
are merged into a copy of the weights for saving; the live model keeps them),
plus ``trainer_state.pt`` beside the files: step, optimizer and schedule state,
losses, the TrainConfig, and for LoRA runs the trainable tensors (adapters,
projector, score rows) with the URL of the base checkpoint they apply to.
``resume_training`` continues a run from it; the data order is a function of
(seed, step), so a resumed run sees the batches the uninterrupted one would.

The frozen encoder's outputs are memoised per run (`CachedEncoder`), so
epochs after the first do not run DINOv2 again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import pickle
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from va_gpt.config import Preset
from va_gpt.models.dinov2 import DinoEncoder, EncoderOutput
from va_gpt.models.vagpt import VAGPT, Sample
from va_gpt.train.data import DatasetError, TrainingSet

log = logging.getLogger(__name__)

TRAINER_STATE = "trainer_state.pt"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PLAIN = "plain torch (AdamW)"


class TrainError(ValueError):
    """A training run that cannot start or continue; the message says why."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run's hyper-parameters (not part of a preset: they describe a run)."""

    stage: int = 1  # 0: language warm-up (text only), 1: projector alignment, 2: instruction tuning
    steps: int | None = 100  # optimizer steps; None -> from `epochs`
    epochs: float | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "constant"  # constant | cosine (to 10% of lr), after warmup
    batch_size: int = 2  # samples per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    lora: bool = False  # stage 2: LoRA adapters instead of the full LLM
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    log_every: int = 10
    save_every: int = 0  # 0: save only at the end
    deepspeed: str | None = None  # DeepSpeed JSON config path; None -> plain torch

    def validate(self) -> None:
        if self.stage not in (0, 1, 2):
            raise TrainError(f"stage must be 0, 1 or 2, got {self.stage}")
        if (self.steps is None) == (self.epochs is None):
            raise TrainError("give exactly one of steps and epochs")
        if self.steps is not None and self.steps < 1:
            raise TrainError(f"steps must be >= 1, got {self.steps}")
        if self.epochs is not None and self.epochs <= 0:
            raise TrainError(f"epochs must be > 0, got {self.epochs}")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise TrainError("batch_size and grad_accum must be >= 1")
        if self.lr <= 0:
            raise TrainError(f"lr must be > 0, got {self.lr}")
        if self.schedule not in ("constant", "cosine"):
            raise TrainError(f"schedule must be constant | cosine, got {self.schedule!r}")
        if self.lora and self.stage != 2:
            raise TrainError("LoRA is for stage 2 (stage 1 trains only the projector)")

    def total_steps(self, n_samples: int) -> int:
        if self.steps is not None:
            return self.steps
        return max(1, math.ceil(self.epochs * n_samples / (self.batch_size * self.grad_accum)))

    def lr_factor(self, step: int, total: int) -> float:
        """Multiplier of lr at optimizer step `step` (0-based)."""
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        if self.schedule == "constant":
            return 1.0
        span = max(1, total - self.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - self.warmup_steps) / span)))


@dataclass
class TrainResult:
    model: VAGPT  # the trained model (LoRA adapters still attached; `export_model` merges a copy)
    losses: list[float]  # mean loss of each optimizer step of this run
    steps: list[int]  # the step number (1-based) of each loss
    start_step: int  # 0, or the step a resumed run continued from
    step: int  # the last completed step
    backend: str  # "plain torch (AdamW)" | "DeepSpeed ..." (with the fallback reason, if any)
    seconds: float
    checkpoint: str | None = None  # where the last save went
    model_version: str | None = None
    trainable_params: int = 0
    total_params: int = 0
    log_lines: list[str] = field(default_factory=list)


# -- encoder cache ---------------------------------------------------------------------------------


class CachedEncoder(DinoEncoder):
    """The same DINOv2 (shared weights), with forward memoised by the pixels' content.

    The vision tower is frozen, so its output for a given input never changes
    during a run; each clip is encoded once and the next epochs reuse it. LRU,
    bounded by `max_bytes` of cached tensors.
    """

    def __init__(self, encoder: DinoEncoder, max_bytes: int = 2 << 30):
        super().__init__(encoder.model, encoder.image_size, encoder.patch_size)
        self.to(device=encoder.mean.device, dtype=encoder.mean.dtype)
        self.max_bytes = max_bytes
        self._cache: OrderedDict[bytes, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def forward(self, pixel_values: torch.Tensor) -> EncoderOutput:
        x = pixel_values.detach()
        h = hashlib.blake2b(digest_size=20)
        h.update(str((tuple(x.shape), str(x.dtype))).encode())
        h.update(x.contiguous().cpu().numpy().tobytes())
        key = h.digest()
        if key in self._cache:
            self._cache.move_to_end(key)
            self.hits += 1
            cls, patches = self._cache[key]
            return EncoderOutput(cls=cls, patches=patches, grid=self.grid)
        self.misses += 1
        out = super().forward(pixel_values)
        cls, patches = out.cls.detach(), out.patches.detach()
        self._cache[key] = (cls, patches)
        self._bytes += cls.nbytes + patches.nbytes
        while self._bytes > self.max_bytes and len(self._cache) > 1:
            _, (c, p) = self._cache.popitem(last=False)
            self._bytes -= c.nbytes + p.nbytes
        return EncoderOutput(cls=cls, patches=patches, grid=self.grid)


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_encoder(encoder: DinoEncoder) -> CachedEncoder:
    """The CachedEncoder of `encoder`, one per encoder per process: the stages of one run share it."""
    if isinstance(encoder, CachedEncoder):
        return encoder
    if encoder not in _CACHES:
        _CACHES[encoder] = CachedEncoder(encoder)
    return _CACHES[encoder]


def _attach_cache(model: VAGPT) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """Put CachedEncoders in place of the model's DINOv2 encoders; returns the originals."""
    vision, sets_encoder = model.vision, model.sets_encoder
    if isinstance(vision, DinoEncoder):
        model.vision = cached_encoder(vision)
        if sets_encoder is vision:
            model.sets_encoder = model.vision
    if model.sets_encoder is not None and model.sets_encoder is not model.vision:
        model.sets_encoder = cached_encoder(model.sets_encoder)
    return vision, sets_encoder


def _detach_cache(model: VAGPT, originals: tuple) -> None:
    model.vision, model.sets_encoder = originals


@contextlib.contextmanager
def encoder_cache(model: VAGPT):
    """Within the block the model's DINOv2 passes are memoised (`cached_encoder`), e.g. for evaluation."""
    originals = _attach_cache(model)
    try:
        yield model
    finally:
        _detach_cache(model, originals)


# -- what trains -----------------------------------------------------------------------------------


def is_lora(model: VAGPT) -> bool:
    from peft import PeftModel

    return isinstance(model.llm, PeftModel)


def apply_lora(model: VAGPT, cfg: TrainConfig) -> None:
    """Wrap model.llm with LoRA adapters (seeded init) on the attention and MLP projections."""
    from peft import LoraConfig, get_peft_model

    if is_lora(model):
        return
    names = {n.rsplit(".", 1)[-1] for n, _ in model.llm.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names]
    if not targets:
        raise TrainError(f"LoRA: the LLM has none of the projections {LORA_TARGETS}")
    lcfg = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model.llm = get_peft_model(model.llm, lcfg)


def _row_mask_hook(rows: list[int], num_rows: int, device) -> tuple:
    mask = torch.zeros(num_rows, 1, device=device)
    mask[rows] = 1.0
    return lambda g: g * mask.to(g.dtype)


def configure_trainable(model: VAGPT, cfg: TrainConfig) -> tuple[list[dict], list]:
    """Freeze / unfreeze for the stage; returns (optimizer param groups, hook handles to remove later).

    Stage 1: projector (+ score-bucket rows of the input embedding when the
    TETG encoding is `embedding`). Stage 2: projector + the whole LLM, or
    projector + LoRA adapters (+ score-bucket rows for `embedding`).
    """
    for p in model.parameters():
        p.requires_grad_(False)
    groups: list[dict] = []
    handles = []
    if cfg.stage == 0:
        if is_lora(model):
            raise TrainError("stage 0 trains the whole LLM; this model carries LoRA adapters")
        llm_params = [p for p in model.llm.parameters()]
        for p in llm_params:
            p.requires_grad_(True)
        return [{"params": llm_params, "weight_decay": cfg.weight_decay, "name": "llm"}], handles
    proj = [p for p in model.projector.parameters()]
    for p in proj:
        p.requires_grad_(True)
    groups.append({"params": proj, "weight_decay": cfg.weight_decay, "name": "projector"})
    embedding_rows = model.config.tetg.encoding == "embedding"
    if cfg.stage == 2:
        if cfg.lora:
            apply_lora(model, cfg)
            for (
                p
            ) in model.projector.parameters():  # get_peft_model froze nothing outside llm, but be explicit
                p.requires_grad_(True)
            adapters = [p for n, p in model.llm.named_parameters() if "lora_" in n]
            for p in adapters:
                p.requires_grad_(True)
            groups.append({"params": adapters, "weight_decay": cfg.weight_decay, "name": "lora"})
        else:
            if is_lora(model):
                raise TrainError("the model carries LoRA adapters; full stage-2 tuning needs a merged model")
            llm_params = [p for p in model.llm.parameters()]
            for p in llm_params:
                p.requires_grad_(True)
            groups.append({"params": llm_params, "weight_decay": cfg.weight_decay, "name": "llm"})
            embedding_rows = False  # the whole embedding trains already
    if embedding_rows:
        emb = model.llm.get_input_embeddings().weight
        emb.requires_grad_(True)
        handles.append(emb.register_hook(_row_mask_hook(model.score_token_ids, emb.shape[0], emb.device)))
        # no weight decay here: it would shrink the frozen rows too
        groups.append({"params": [emb], "weight_decay": 0.0, "name": "score_rows"})
    return groups, handles


def trainable_state(model: VAGPT) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: VAGPT, state: dict[str, torch.Tensor], where: str) -> None:
    params = dict(model.named_parameters())
    missing = sorted(set(state) - set(params))
    if missing:
        raise TrainError(f"{where}: trainer state has tensors the model lacks: {missing[:3]}")
    with torch.no_grad():
        for n, v in state.items():
            if params[n].shape != v.shape:
                raise TrainError(
                    f"{where}: {n} has shape {tuple(v.shape)}, the model {tuple(params[n].shape)}"
                )
            params[n].copy_(v.to(params[n].device, params[n].dtype))


def export_model(model: VAGPT) -> VAGPT:
    """The model as a plain VAGPT for saving: LoRA deltas merged into a copy of the LLM weights.

    The live model is not changed (its adapters keep training). Without LoRA the model itself.
    """
    if not is_lora(model):
        return model
    from transformers import AutoModelForCausalLM

    base = model.llm.get_base_model()  # the HF model with LoRA layers injected
    modules = dict(base.named_modules())
    state = {}
    with torch.no_grad():
        for k, v in base.state_dict().items():
            if "lora_" in k:
                continue
            if ".base_layer." in k:
                owner = k.split(".base_layer.")[0]
                name = k.replace(".base_layer.", ".")
                m = modules[owner]
                if k.endswith("weight") and not m.merged:
                    delta = sum(m.get_delta_weight(a) for a in m.active_adapters if a in m.lora_A)
                    v = v + delta.to(v.dtype)
                state[name] = v
            else:
                state[k] = v
    with torch.device("meta"):
        fresh = AutoModelForCausalLM.from_config(base.config)
    fresh.load_state_dict(state, assign=True, strict=True)
    # Non-persistent buffers (rotary inv_freq) are not in the state dict: share the live model's.
    for name, mod in fresh.named_modules():
        src = modules.get(name)
        for key, val in list(vars(mod).items()) + list(mod._buffers.items()):
            if isinstance(val, torch.Tensor) and val.is_meta:
                if src is None or not isinstance(getattr(src, key, None), torch.Tensor):
                    raise TrainError(f"export: cannot fill {name}.{key} (not in the LoRA model)")
                if key in mod._buffers:
                    mod._buffers[key] = getattr(src, key)
                else:
                    setattr(mod, key, getattr(src, key))
    if getattr(fresh.config, "tie_word_embeddings", False):
        fresh.tie_weights()
    fresh.eval()
    return VAGPT(model.vision, model.projector, fresh, model.tokenizer, model.config, model.sets_encoder)


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
    return VAGPT(model.vision, model.projector, model.llm, model.tokenizer, new, model.sets_encoder)


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


# -- DeepSpeed -------------------------------------------------------------------------------------


def _single_process_env() -> None:
    """The environment torch.distributed reads, for one local process (unless a launcher set it)."""
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("LOCAL_WORLD_SIZE", "1")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(s.getsockname()[1])
    if "TORCH_EXTENSIONS_DIR" not in os.environ:  # DeepSpeed's op builds stay inside the work tree
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        os.environ["TORCH_EXTENSIONS_DIR"] = os.path.join(root, ".torch_extensions")


def deepspeed_config(path: str, cfg: TrainConfig, dtype: str) -> dict:
    """Read a DeepSpeed JSON config and fill its "auto" values from the TrainConfig and the model dtype."""
    try:
        with open(path) as f:
            ds = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise TrainError(f"DeepSpeed config {path}: {e}") from None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    fill = {
        "train_micro_batch_size_per_gpu": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "train_batch_size": cfg.batch_size * cfg.grad_accum * world,
        "gradient_clipping": cfg.max_grad_norm,
    }
    for k, v in fill.items():
        if ds.get(k) == "auto":
            ds[k] = v
    for key, want in (("bf16", dtype == "bfloat16"), ("fp16", dtype == "float16")):
        if isinstance(ds.get(key), dict) and ds[key].get("enabled") == "auto":
            ds[key]["enabled"] = want
    opt = ds.get("optimizer")
    if isinstance(opt, dict):
        params = opt.setdefault("params", {})
        for k, v in (("lr", cfg.lr), ("weight_decay", cfg.weight_decay)):
            if params.get(k) == "auto":
                params[k] = v
    bad = [k for k, v in _walk(ds) if v == "auto"]
    if bad:
        raise TrainError(f"DeepSpeed config {path}: cannot fill 'auto' for {bad}")
    return ds


def _walk(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _walk(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _deepspeed_engine(model, groups, cfg: TrainConfig, total: int):
    """(engine, description); raises whatever DeepSpeed raises when it cannot start here."""
    _single_process_env()
    import deepspeed
    from deepspeed.accelerator import get_accelerator

    accel = get_accelerator().device_name()
    backend = "gloo" if accel == "cpu" else None
    if not deepspeed.comm.is_initialized():
        deepspeed.init_distributed(dist_backend=backend) if backend else deepspeed.init_distributed()
    ds_cfg = deepspeed_config(cfg.deepspeed, cfg, model.config.runtime.dtype)
    optimizer = None
    if "optimizer" not in ds_cfg:
        optimizer = _adamw(_clean_groups(groups), cfg)
    engine, _, _, _ = deepspeed.initialize(
        model=LossModule(model),
        optimizer=optimizer,
        model_parameters=None if optimizer is not None else [p for g in groups for p in g["params"]],
        config=ds_cfg,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cfg.lr_factor(s, total)),
    )
    zero = ds_cfg.get("zero_optimization", {}).get("stage", 0)
    desc = f"DeepSpeed {deepspeed.__version__} (ZeRO-{zero}, {accel} accelerator"
    desc += f", {backend} backend)" if backend else ")"
    return engine, desc


def _adamw(groups: list[dict], cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW, fused where every parameter is a floating tensor (6x faster than foreach on CPU)."""
    params = [p for g in groups for p in g["params"]]
    fused = all(p.dtype.is_floating_point for p in params) and all(
        p.device.type in ("cpu", "cuda") for p in params
    )
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused or None)


def _clean_groups(groups: list[dict]) -> list[dict]:
    return [{k: v for k, v in g.items() if k != "name"} for g in groups]


# -- loss ------------------------------------------------------------------------------------------


def text_only(sample: Sample) -> Sample:
    """The sample without visual tokens (stage 0): frame time markers, TETG segment, question and
    answer stay, every frame keeps zero SETS patches (an empty selection)."""
    frames = torch.as_tensor(sample.frames)
    return Sample(
        frames=sample.frames,
        t=sample.t,
        question=sample.question,
        scores=sample.scores,
        score_t=sample.score_t,
        answer=sample.answer,
        selection=torch.zeros((len(frames), 0), dtype=torch.long),
    )


def _answer_logits(model: VAGPT, samples: list[Sample]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LM-head logits only at the positions that predict an answer token (not at every visual token).

    Returns (logits [K, V], targets [K], counts [B]): K answer tokens in (batch, position) order,
    counts[b] of them from sample b."""
    batch = model.prepare(samples, padding_side="right")
    target_mask = batch.label_mask[:, 1:]  # [B, L-1]: position p predicts token p + 1
    keep = torch.zeros_like(batch.label_mask)
    keep[:, :-1] = target_mask
    logits = model.llm(
        inputs_embeds=batch.inputs_embeds,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
        logits_to_keep=keep,
    ).logits  # [K, V]
    return logits.reshape(-1, logits.shape[-1]).float(), batch.labels[:, 1:][target_mask], target_mask.sum(-1)


def answer_loss(model: VAGPT, samples: list[Sample]) -> torch.Tensor:
    """Mean next-token cross-entropy over the answer tokens: the same number as `model(samples).loss`,
    computed from the answer positions' logits alone."""
    logits, targets, counts = _answer_logits(model, samples)
    if int(counts.sum()) == 0:
        raise DatasetError("a training batch has no answer tokens")
    return torch.nn.functional.cross_entropy(logits, targets)


@torch.no_grad()
def answer_nll(model: VAGPT, samples: list[Sample]) -> torch.Tensor:
    """[B] mean negative log-likelihood per answer token of each sample (teacher-forced, no grad).

    What a held-out comparison and option scoring need: `answer_loss` per sample instead of
    pooled over the batch."""
    logits, targets, counts = _answer_logits(model, samples)
    if (counts == 0).any():
        raise DatasetError("answer_nll: a sample has no answer tokens")
    nll = torch.nn.functional.cross_entropy(logits, targets, reduction="none")  # [K]
    owner = torch.arange(len(samples), device=nll.device).repeat_interleave(counts)  # [K]
    return torch.zeros(len(samples), device=nll.device).index_add_(0, owner, nll) / counts.float()


class LossModule(torch.nn.Module):
    """`forward(samples) -> loss` around a VAGPT: what DeepSpeed's engine wraps."""

    def __init__(self, model: VAGPT):
        super().__init__()
        self.model = model

    def forward(self, samples: list[Sample]) -> torch.Tensor:
        return answer_loss(self.model, samples)


# -- checkpoints + trainer state -------------------------------------------------------------------


def _fs(url: str, storage_options: dict | None):
    from fsspec.core import url_to_fs

    return url_to_fs(url, **(storage_options or {}))


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
    """Checkpoint (checkpoints/load.py format, overwriting `out`) + trainer_state.pt beside it; returns the version."""
    from va_gpt.checkpoints.load import save_checkpoint

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
    fs, root = _fs(out, storage_options)
    fs.pipe_file(f"{root.rstrip('/')}/{TRAINER_STATE}", buf.getvalue())
    return version


def load_trainer_state(out: str, storage_options: dict | None = None) -> dict:
    """The trainer_state.pt of the checkpoint at `out`, checked against the checkpoint beside it."""
    fs, root = _fs(out, storage_options)
    root = root.rstrip("/")
    if not fs.exists(f"{root}/{TRAINER_STATE}"):
        raise TrainError(f"nothing to resume at {out}: no {TRAINER_STATE} (was the run saved there?)")
    if not fs.exists(f"{root}/checkpoint.json"):
        raise TrainError(
            f"cannot resume from {out}: the checkpoint's save did not finish (no checkpoint.json)"
        )
    raw = fs.cat_file(f"{root}/{TRAINER_STATE}")
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # a DeepSpeed ZeRO optimizer state holds its own classes
        log.info(
            "%s/%s: a DeepSpeed optimizer state, read with full unpickling (our own file)", out, TRAINER_STATE
        )
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
    meta = json.loads(fs.cat_file(f"{root}/checkpoint.json"))
    if meta.get("model_version") != state.get("model_version"):
        raise TrainError(
            f"cannot resume from {out}: {TRAINER_STATE} belongs to model {state.get('model_version')}, "
            f"the checkpoint is {meta.get('model_version')} (a save was interrupted)"
        )
    return state


# -- the loop --------------------------------------------------------------------------------------


class _Order:
    """Sample order: a fresh seeded permutation per epoch; micro-batch m holds positions m*B .. m*B+B-1."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.bs, self.seed = n, batch_size, seed
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n)}
        return self._perms[epoch]

    def batch(self, micro: int) -> list[int]:
        out = []
        for j in range(self.bs):
            epoch, pos = divmod(micro * self.bs + j, self.n)
            out.append(int(self._perm(epoch)[pos]))
        return out


@torch.no_grad()
def evaluate_loss(model: VAGPT, samples: list[Sample], batch_size: int = 4) -> float:
    """Mean answer-token loss over `samples` (weighted by batch), no gradients, eval mode."""
    was = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(samples), batch_size):
        chunk = samples[i : i + batch_size]
        out = model(chunk)
        total += float(out.loss) * len(chunk)
        count += len(chunk)
    model.train(was)
    return total / max(count, 1)


def train(
    model: VAGPT,
    data: TrainingSet | list[Sample],
    cfg: TrainConfig,
    *,
    out: str | None = None,
    storage_options: dict | None = None,
    init: str | None = None,
    resume_state: dict | None = None,
    classifier_state: dict | None = None,
    classifier_config: dict | None = None,
) -> TrainResult:
    """Train `model` in place for stage `cfg.stage`; save to `out` every save_every steps and at the end.

    `init`: the checkpoint URL the model was loaded from (recorded, and the
    base a LoRA run resumes on). `resume_state`: a `load_trainer_state` dict
    (see `resume_training`).
    """
    cfg.validate()
    samples = data.samples if isinstance(data, TrainingSet) else list(data)
    if not samples:
        raise DatasetError("no training samples: nothing to train on")
    if cfg.stage == 0:
        samples = [text_only(s) for s in samples]
    if not any(s.answer for s in samples):
        raise DatasetError("no training sample has an answer: nothing to learn")
    total = cfg.total_steps(len(samples))
    start = int(resume_state["step"]) if resume_state else 0
    lines: list[str] = []

    def say(msg: str, *args) -> None:
        text = msg % args if args else msg
        lines.append(text)
        log.info(text)

    originals = _attach_cache(model)
    try:
        groups, handles = configure_trainable(model, cfg)
        if resume_state and resume_state.get("trainable"):
            load_trainable_state(model, resume_state["trainable"], f"{out}/{TRAINER_STATE}")
    except BaseException:
        _detach_cache(model, originals)
        raise
    n_train = sum(p.numel() for g in groups for p in g["params"] if p.requires_grad)
    if any(g["name"] == "score_rows" for g in groups):
        emb = model.llm.get_input_embeddings().weight
        n_train -= emb.numel() - len(model.score_token_ids) * emb.shape[1]
    n_total = sum(p.numel() for p in model.parameters())

    backend, engine = PLAIN, None
    if cfg.deepspeed:
        try:
            engine, backend = _deepspeed_engine(model, groups, cfg, total)
        except TrainError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure to start DeepSpeed: fall back, and say so
            reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            log.warning("DeepSpeed could not initialise here (%s); training with plain torch instead", reason)
            backend = f"{PLAIN}; DeepSpeed failed to start: {reason}"
    if engine is None:
        optimizer = _adamw(_clean_groups(groups), cfg)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cfg.lr_factor(s, total))
        if resume_state and resume_state.get("optimizer"):
            optimizer.load_state_dict(resume_state["optimizer"]["optimizer"])
            scheduler.load_state_dict(resume_state["optimizer"]["scheduler"])
    else:
        optimizer, scheduler = engine.optimizer, engine.lr_scheduler
        if resume_state and resume_state.get("optimizer"):
            try:
                engine.optimizer.load_state_dict([resume_state["optimizer"]["optimizer"]])
            except Exception as e:  # noqa: BLE001
                raise TrainError(f"cannot restore the DeepSpeed optimizer state from {out}: {e}") from None
            scheduler.load_state_dict(resume_state["optimizer"]["scheduler"])

    say(
        "stage %d: %d samples, steps %d -> %d (batch %d x accum %d), %s trainable of %s params; backend: %s",
        cfg.stage, len(samples), start, total, cfg.batch_size, cfg.grad_accum,
        f"{n_train:,}", f"{n_total:,}", backend,
    )  # fmt: skip

    order = _Order(len(samples), cfg.batch_size, cfg.seed)
    trainable = [p for g in groups for p in g["params"]]
    losses, steps = list(resume_state.get("losses", [])) if resume_state else [], []
    run_losses: list[float] = []
    t0 = time.monotonic()
    last_log = t0
    checkpoint = version = None
    model.train()
    model.vision.eval()
    if model.sets_encoder is not None:
        model.sets_encoder.eval()
    try:
        for step in range(start, total):
            step_loss = 0.0
            for a in range(cfg.grad_accum):
                batch = [samples[i] for i in order.batch(step * cfg.grad_accum + a)]
                if engine is not None:
                    loss = engine(batch)
                    engine.backward(loss)
                    engine.step()
                else:
                    loss = answer_loss(model, batch)
                    (loss / cfg.grad_accum).backward()
                step_loss += float(loss.detach()) / cfg.grad_accum
            if engine is None:
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            if not math.isfinite(step_loss):
                raise TrainError(f"stage {cfg.stage} step {step + 1}: loss is {step_loss}; lower the lr")
            losses.append(step_loss)
            run_losses.append(step_loss)
            steps.append(step + 1)
            done = step + 1
            if cfg.log_every and (done % cfg.log_every == 0 or done == total or done == start + 1):
                now = time.monotonic()
                n_since = cfg.log_every if done % cfg.log_every == 0 else 1
                say(
                    "stage %d step %d/%d loss %.4f lr %.2e (%.2f s/step)",
                    cfg.stage, done, total, step_loss, optimizer.param_groups[0]["lr"],
                    (now - last_log) / max(1, min(n_since, done - start)),
                )  # fmt: skip
                last_log = now
            if out and (done == total or (cfg.save_every and done % cfg.save_every == 0)):
                opt_state = {
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                }
                version = save_training(
                    model, out, step=done, cfg=cfg, optimizer_state=opt_state, losses=losses, backend=backend,
                    init=init, storage_options=storage_options, classifier_state=classifier_state,
                    classifier_config=classifier_config,
                )  # fmt: skip
                checkpoint = out
                say("stage %d step %d: saved %s (model %s)", cfg.stage, done, out, version)
    finally:
        if engine is not None and hasattr(engine, "destroy"):
            engine.destroy()  # drops ZeRO's gradient hooks from the model's parameters
        for h in handles:
            h.remove()
        _detach_cache(model, originals)
        model.eval()
    seconds = time.monotonic() - t0
    say(
        "stage %d done: %d steps in %.1f s, loss %s -> %s; backend: %s",
        cfg.stage, len(run_losses), seconds,
        f"{run_losses[0]:.4f}" if run_losses else "-", f"{run_losses[-1]:.4f}" if run_losses else "-", backend,
    )  # fmt: skip
    return TrainResult(
        model=model,
        losses=run_losses,
        steps=steps,
        start_step=start,
        step=start + len(run_losses),
        backend=backend,
        seconds=seconds,
        checkpoint=checkpoint,
        model_version=version,
        trainable_params=n_train,
        total_params=n_total,
        log_lines=lines,
    )


# -- building the model for a run ------------------------------------------------------------------


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
    from va_gpt.checkpoints.load import load_checkpoint
    from va_gpt.models.vagpt import from_preset

    if init:
        rt = preset.runtime
        model = load_checkpoint(init, storage_options, device=rt.device, dtype=rt.dtype).model
        return adopt_preset(model, preset)
    return from_preset(preset, tokenizer_texts=tokenizer_texts, seed=seed, storage_options=storage_options)


def resume_training(
    preset: Preset,
    data: TrainingSet,
    cfg: TrainConfig,
    out: str,
    *,
    storage_options: dict | None = None,
    tokenizer_texts: list[str] | None = None,
    classifier_state: dict | None = None,
    classifier_config: dict | None = None,
) -> TrainResult:
    """Continue the run saved at `out` up to cfg's total steps (same stage / LoRA setting required).

    Full-weight runs reload the checkpoint at `out`; LoRA runs reload their base
    (the run's `init`) and put the saved adapters, projector and rows back.
    """
    from va_gpt.checkpoints.load import load_checkpoint

    state = load_trainer_state(out, storage_options)
    if state["stage"] != cfg.stage or bool(state["lora"]) != cfg.lora:
        raise TrainError(
            f"cannot resume {out}: it was stage {state['stage']} lora={state['lora']}, "
            f"this run is stage {cfg.stage} lora={cfg.lora}"
        )
    if state["lora"]:
        model = initial_model(
            preset, init=state["init"], tokenizer_texts=tokenizer_texts, seed=cfg.seed,
            storage_options=storage_options,
        )  # fmt: skip
    else:
        rt = preset.runtime
        model = adopt_preset(
            load_checkpoint(out, storage_options, device=rt.device, dtype=rt.dtype).model, preset
        )
    log.info("resuming %s from step %d (model %s)", out, state["step"], state["model_version"])
    return train(
        model, data, cfg, out=out, storage_options=storage_options, init=state["init"], resume_state=state,
        classifier_state=classifier_state, classifier_config=classifier_config,
    )  # fmt: skip


def classifier_parts(classifier_dir: str | None, storage_options: dict | None = None) -> tuple:
    """(state dict, config) of a classifier folder, to bundle into a VA-GPT checkpoint; (None, None) without."""
    if not classifier_dir:
        return None, None
    from va_gpt.models.classifier import checkpoint_state, load_classifier

    model, config = load_classifier(classifier_dir, storage_options)
    return checkpoint_state(model), config

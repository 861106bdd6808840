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

    model = initial_model(preset, init=None, tokenizer_texts=...)    # or init=<stage-1 URL>
    result = train(model, training_set, TrainConfig(stage=1, steps=200), out="s3://models/vagpt/s1")

Backends: plain torch AdamW (the default), or DeepSpeed when
``TrainConfig.deepspeed`` names a config (infra/deepspeed/zero2.json; see
train/deepspeed.py). When DeepSpeed cannot start here the run falls back to
plain torch and the log says so; ``TrainResult.backend`` records which one ran.

What trains per stage: train/trainable.py. Checkpoints: the checkpoints/vagpt.py
folder format at any fsspec URL (LoRA adapters are merged into a copy of the
weights for saving; the live model keeps them), plus ``trainer_state.pt`` beside
the files (train/state.py). ``resume_training`` continues a run from it; the data
order is a function of (seed, step), so a resumed run sees the batches the
uninterrupted one would. The frozen encoder's outputs are memoised per run
(train/encoder_cache.py), so epochs after the first do not run DINOv2 again.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from va_gpt.checkpoints.vagpt import load_checkpoint
from va_gpt.config import Preset
from va_gpt.data.records import DatasetError
from va_gpt.models.vagpt import VAGPT, Sample
from va_gpt.train.config import TrainConfig, TrainError
from va_gpt.train.deepspeed import deepspeed_engine
from va_gpt.train.encoder_cache import attach_cache, detach_cache
from va_gpt.train.initial import adopt_preset, initial_model
from va_gpt.train.losses import answer_loss, text_only
from va_gpt.train.samples import TrainingSet
from va_gpt.train.state import TRAINER_STATE, load_trainer_state, save_training
from va_gpt.train.trainable import adamw, clean_groups, configure_trainable, load_trainable_state

log = logging.getLogger(__name__)

PLAIN = "plain torch (AdamW)"


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

    originals = attach_cache(model)
    try:
        groups, handles = configure_trainable(model, cfg)
        if resume_state and resume_state.get("trainable"):
            load_trainable_state(model, resume_state["trainable"], f"{out}/{TRAINER_STATE}")
    except BaseException:
        detach_cache(model, originals)
        raise
    n_train = sum(p.numel() for g in groups for p in g["params"] if p.requires_grad)
    if any(g["name"] == "score_rows" for g in groups):
        emb = model.llm.get_input_embeddings().weight
        n_train -= emb.numel() - len(model.score_token_ids) * emb.shape[1]
    n_total = sum(p.numel() for p in model.parameters())

    backend, engine = PLAIN, None
    if cfg.deepspeed:
        try:
            engine, backend = deepspeed_engine(model, groups, cfg, total)
        except TrainError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure to start DeepSpeed: fall back, and say so
            reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            if not cfg.allow_plain_fallback:
                raise TrainError(
                    f"DeepSpeed ({cfg.deepspeed}) could not start here ({reason}); "
                    "pass --allow-plain-fallback to train with plain torch instead"
                ) from None
            log.warning("DeepSpeed could not initialise here (%s); training with plain torch instead", reason)
            backend = f"{PLAIN}; DeepSpeed failed to start: {reason}"
    if engine is None:
        optimizer = adamw(clean_groups(groups), cfg)
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
        detach_cache(model, originals)
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

"""One VA-GPT training run's hyper-parameters (`TrainConfig`) and its error type."""

from __future__ import annotations

import math
from dataclasses import dataclass

from va_gpt.train.schedule import cosine_factor


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
    # When DeepSpeed was asked for but cannot start here: False (default) is an error,
    # True trains with plain torch instead (and says so in the result's backend).
    allow_plain_fallback: bool = False

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
        return cosine_factor((step - self.warmup_steps) / span, floor=0.1)

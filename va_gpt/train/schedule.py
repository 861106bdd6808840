"""Over a training run: the cosine learning-rate curve (the VA-GPT's TrainConfig.schedule and the
classifier's TrainConfig.cosine_lr both follow it) and, for the classifier, the moving average of
the weights (`ema`)."""

from __future__ import annotations

import math

import torch

LR_FLOOR = 0.05  # the cosine schedule's last learning rate, as a fraction of TrainConfig.lr


def cosine_factor(done: float, floor: float) -> float:
    """The multiplier of the learning rate `done` (0..1, clipped) of the way along half a cosine
    from 1 down to `floor`."""
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))


def lr_at(train, step: int) -> float:
    """The learning rate of optimizer step `step` (0-based) of classifier run `train` (a
    va_gpt.train.classifier.TrainConfig): its lr throughout, or with `cosine_lr` from lr down to
    LR_FLOOR x lr at the last step."""
    if not train.cosine_lr or train.steps <= 1:
        return train.lr
    return train.lr * cosine_factor(step / (train.steps - 1), LR_FLOOR)


def set_lr(opt: torch.optim.Optimizer, train, step: int) -> None:
    """Give every parameter group of `opt` step `step`'s learning rate."""
    for group in opt.param_groups:
        group["lr"] = lr_at(train, step)


class Ema:
    """An exponential moving average of a model's parameters (buffers are fixed after
    fit_normalisation, so only parameters are averaged)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.shadow = [p.detach().clone() for p in model.parameters()]

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for s, p in zip(self.shadow, model.parameters()):
            s.lerp_(p.detach(), 1.0 - self.decay)

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        for s, p in zip(self.shadow, model.parameters()):
            p.copy_(s)

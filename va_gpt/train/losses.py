"""The training loss: next-token cross-entropy on the answer tokens only, from their logits alone."""

from __future__ import annotations

import dataclasses

import torch

from va_gpt.data.records import DatasetError
from va_gpt.models.vagpt import VAGPT, Sample


def text_only(sample: Sample) -> Sample:
    """The sample without visual tokens (stage 0): frame time markers, TETG segment, question and
    answer stay, every frame keeps zero SETS patches (an empty selection)."""
    frames = torch.as_tensor(sample.frames)
    return dataclasses.replace(sample, selection=torch.zeros((len(frames), 0), dtype=torch.long))


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

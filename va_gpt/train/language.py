"""The answer language, before stage 0: the LLM trained on the answers' text alone.

The paper starts from a pretrained LLM that already writes sentences and knows that "explosion"
goes with fire and "fighting" with people hitting each other. The demo's LLM starts from random
weights. Stage 0 (va_gpt.train.vagpt, text without visual tokens) did not teach it that link:
each training answer is also predictable from its own prompt (the question's interval times, the
TETG scores), so the model memorised prompt -> answer and ignored its own judgement. Measured on
the ablation's 144 plain records, 150 stage-0 steps: the description that follows a forced
"Judgement: <kind>." was the same for every kind (the lowest-loss description matched its
judgement for 1 of 6 kinds; 500 steps, or answers shuffled across prompts, did not change it).

Here the LLM first reads the answers with no prompt at all (BOS + " " + answer + EOS, the answer
tokenised as in VAGPT.sequence), so the only context for a description is the judgement before
it: after 300 such steps and 150 stage-0 steps at a lower learning rate, 4 of 6 kinds' lowest-loss
descriptions matched. It is the stand-in for language pretraining, on the training answers only.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from va_gpt.data.records import DatasetError
from va_gpt.models.vagpt import IGNORE, VAGPT


def answer_ids(model: VAGPT, answer: str) -> list[int]:
    """BOS + " " + answer + EOS as token ids: the answer tokenised as it is in VAGPT.sequence."""
    tok = model.tokenizer
    return [tok.bos_token_id] + tok(" " + answer, add_special_tokens=False).input_ids + [tok.eos_token_id]


def train_answer_language(
    model: VAGPT, answers: list[str], steps: int, lr: float = 3e-3, batch_size: int = 16, seed: int = 0
) -> dict:
    """Train `model.llm` in place, next-token loss on every token of the `answers` after BOS
    (AdamW, constant `lr`, batches drawn with replacement). Returns {steps, seconds, first_loss,
    last_loss}. steps == 0 does nothing."""
    if steps < 0 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need steps >= 0, batch_size >= 1 and lr > 0, got {steps}, {batch_size}, {lr}")
    answers = [a for a in answers if a and a.strip()]
    if steps and not answers:
        raise DatasetError("no answer text to learn the answer language from")
    t0 = time.monotonic()
    losses: list[float] = []
    if steps:
        ids = [answer_ids(model, a) for a in answers]
        rng = np.random.default_rng([seed, 17])
        opt = torch.optim.AdamW([p for p in model.llm.parameters() if p.requires_grad], lr=lr)
        was = model.llm.training
        model.llm.train()
        pad = model.tokenizer.pad_token_id
        try:
            for _ in range(steps):
                batch = [ids[i] for i in rng.integers(0, len(ids), batch_size)]
                L = max(len(s) for s in batch)
                x = torch.full((batch_size, L), pad, dtype=torch.long)
                labels = torch.full((batch_size, L), IGNORE, dtype=torch.long)
                mask = torch.zeros((batch_size, L), dtype=torch.long)
                for b, s in enumerate(batch):
                    x[b, : len(s)] = torch.tensor(s)
                    labels[b, 1 : len(s)] = torch.tensor(s[1:])  # BOS is given, never predicted
                    mask[b, : len(s)] = 1
                dev = model.device
                loss = model.llm(input_ids=x.to(dev), attention_mask=mask.to(dev), labels=labels.to(dev)).loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
        finally:
            model.llm.train(was)
    return {
        "steps": steps,
        "seconds": round(time.monotonic() - t0, 1),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
    }

"""The answer-language stage: the LLM learns from the answers alone that a description follows
its judgement (what stage 0 did not teach the demo's random-init LLM)."""

from __future__ import annotations

import pytest
import torch

from va_gpt.checkpoints.build import from_preset
from va_gpt.config import load_preset
from va_gpt.data.records import DatasetError
from va_gpt.train.language import answer_ids, train_answer_language

ANSWERS = {
    "fighting": "Judgement: fighting. Description: two people fight each other. Analysis: violence is dangerous.",
    "falling": "Judgement: falling. Description: a person falls down and stays down. Analysis: they may be hurt.",
    "explosion": "Judgement: explosion. Description: a fire flares up. Analysis: fire puts people in danger.",
    "normal": "Judgement: normal. Description: people walk along the street. Analysis: nothing abnormal.",
}


def description_after(model, kind: str, n: int) -> str:
    """Greedy text after " Judgement: <kind>. Description:" from the LLM alone."""
    ids = answer_ids(model, f"Judgement: {kind}. Description:")[:-1]  # without EOS
    with torch.no_grad():
        out = model.llm.generate(
            torch.tensor([ids]), max_new_tokens=n, do_sample=False, pad_token_id=model.tokenizer.pad_token_id
        )
    return model.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)


@pytest.mark.timeout(300)
def test_the_description_follows_the_judgement():
    preset = load_preset("tiny")
    model = from_preset(preset, tokenizer_texts=list(ANSWERS.values()), seed=0)
    rep = train_answer_language(model, list(ANSWERS.values()), steps=300, lr=1e-2, batch_size=8)
    assert rep["steps"] == 300 and rep["last_loss"] < rep["first_loss"] / 4
    for kind, answer in ANSWERS.items():
        want = answer.split("Description:")[1].split(".")[0].strip()
        got = description_after(model, kind, 24)
        assert got.strip().startswith(want), (kind, got)


def test_bad_settings_and_no_answers():
    model = from_preset(load_preset("tiny"))
    with pytest.raises(ValueError, match="steps"):
        train_answer_language(model, ["x"], steps=-1)
    with pytest.raises(DatasetError, match="no answer"):
        train_answer_language(model, ["", "  "], steps=5)
    assert train_answer_language(model, [], steps=0)["last_loss"] is None

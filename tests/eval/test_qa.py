"""QA accuracy and summary metrics of generated answers."""

from __future__ import annotations

import pytest

from tests.eval.records_fixtures import tiny_records
from va_gpt.checkpoints.build import from_preset
from va_gpt.data.records import record_texts
from va_gpt.eval.errors import EvaluationError
from va_gpt.eval.qa import evaluate_model, qa_metrics, qa_records, summary_metrics


@pytest.mark.timeout(60)
def test_qa_scoring_on_crafted_answers():
    def rec(i, task, idx):
        opts = ["(A) 0.0s-2.0s", "(B) 3.0s-5.0s", "(C) 6.0s-8.0s", "(D) 9.0s-11.0s"]
        return {"id": str(i), "task": task, "options": opts, "answer_index": idx}

    records = [
        rec(0, "mc_temporal", 1),
        rec(1, "mc_temporal", 2),
        rec(2, "mc_temporal", 0),
        rec(3, "judgement", 3),
    ]
    preds = ["(B) 3.0s-5.0s", "The answer is A", "0.0s-2.0s", "D."]
    qa = qa_metrics(records, preds)
    assert qa.correct.tolist() == [True, False, True, True]
    assert qa.total == pytest.approx(0.75) and qa.temporal == pytest.approx(2 / 3) and qa.n_temporal == 3
    assert (
        qa_records(records + [{"id": "x", "task": "description", "options": None, "answer_index": None}])
        == records
    )
    sm = summary_metrics(["Judgement: fighting. Description: two people fight."] * 2,
                            ["Judgement: fighting. Description: two people fight."] * 2)  # fmt: skip
    assert sm["bleu4"] == pytest.approx(1.0) and sm["rouge_l"] == pytest.approx(1.0)


@pytest.mark.timeout(180)
def test_evaluate_model_reports_free_and_options_held_answers_and_summaries(tmp_path):
    """`vagpt eval --checkpoint --records`: a tiny model's answers to real synthetic records."""
    preset, recs, builder = tiny_records(tmp_path, ("mc_temporal", "description"))
    model = from_preset(preset, tokenizer_texts=record_texts(recs)).eval()
    rep = evaluate_model(model, builder, recs, batch_size=2)
    qa, held = rep["qa"], rep["qa"]["held_to_options"]
    n_mc = len(qa_records(recs))
    assert qa["n"] == n_mc > 0 and 0.0 <= qa["total"] <= 1.0
    # held to the options, every answer is one of the options
    assert sum(held["answers"].values()) == n_mc and set(held["answers"]) <= set("ABCD")
    assert 0.0 <= held["total"] <= 1.0 and held["temporal"] == held["total"]  # all mc_temporal
    assert rep["summaries"]["n"] == sum(r["task"] == "description" for r in recs)
    with pytest.raises(EvaluationError, match="no multiple-choice or description records"):
        evaluate_model(model, builder, [r for r in recs if r["task"] not in ("mc_temporal", "description")])

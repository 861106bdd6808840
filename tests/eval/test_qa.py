"""QA accuracy and summary metrics of generated answers."""

from __future__ import annotations

import pytest

from va_gpt.eval.qa import qa_metrics, qa_records, summary_metrics


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

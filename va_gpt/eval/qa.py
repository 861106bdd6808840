"""VA-GPT's answers from a checkpoint: multiple-choice QA accuracy and summary BLEU-4 / ROUGE-L.

QA (`qa_metrics`): multiple-choice records (``options`` + ``answer_index``;
mc_temporal in VA-Instruction) answered by a checkpoint; total accuracy and
temporal accuracy (over the temporal questions), as in the paper's table, of free
greedy answers and of greedy decoding held to the options (`greedy_option_choices`).
Summaries (`summary_metrics`): BLEU-4 and ROUGE-L of generated descriptions
against the reference answers. Cross-domain evaluation is the same calls with
another source's records.
"""

from __future__ import annotations

from collections import Counter

from va_gpt.data.records import gold_letter, option_texts, record_answer
from va_gpt.eval.errors import EvaluationError
from va_gpt.models.structured import greedy_choice
from va_gpt.ops.text_metrics import QAResult, bleu, qa_accuracy, rouge_l

TEMPORAL_TASKS = ("mc_temporal", "temporal")
# Greedy multiple-choice answer length: room for an answer that states its interval too
# ("10.6s-13.0s (A)" is 13 demo tokens), not only "(A)".
MC_ANSWER_TOKENS = 32
SUMMARY_TASKS = ("description",)


def qa_kind(rec: dict) -> str:
    return "temporal" if rec.get("task") in TEMPORAL_TASKS else str(rec.get("task") or "other")


def qa_records(records: list[dict]) -> list[dict]:
    """The multiple-choice records (options + answer_index)."""
    return [r for r in records if r.get("options") and r.get("answer_index") is not None]


def qa_metrics(records: list[dict], predictions: list[str]) -> QAResult:
    """Accuracy of generated answers to multiple-choice records (total, and temporal over mc_temporal)."""
    if len(records) != len(predictions):
        raise EvaluationError(f"{len(records)} records but {len(predictions)} predictions")
    return qa_accuracy(
        predictions,
        [gold_letter(r) for r in records],
        [qa_kind(r) for r in records],
        [option_texts(r) for r in records],
    )


def option_candidates(rec: dict) -> list[str]:
    """The record's answer rewritten for each option in letter order (its letter and its text in place
    of the right one's), so scoring an option is scoring the answer the model was trained to give."""
    gold, texts = record_answer(rec), option_texts(rec) or []
    g = int(rec["answer_index"])
    out = []
    for i, text in enumerate(texts):
        cand = gold.replace(f"({gold_letter(rec)})", f"({'ABCDEFGHIJ'[i]})")
        out.append(cand.replace(texts[g], text) if texts[g] in cand else cand)
    return out


def greedy_option_choices(model, records: list[dict], samples: list) -> list[str]:
    """Multiple choice by greedy decoding held to the options (`models.structured.greedy_choice`
    over `option_candidates`): what greedy decoding writes when it may write only an option's
    answer. With answers that state the interval before the letter ("6.6s-9.1s (D)") the tokens
    of the interval decide, and the letter comes with the option. "(X)" per question."""
    out = []
    for rec, s in zip(records, samples):
        out.append(f"({'ABCDEFGHIJ'[greedy_choice(model, s, option_candidates(rec))]})")
    return out


def summary_metrics(predictions: list[str], references: list[str]) -> dict:
    return {
        "bleu4": bleu(predictions, references, n=4),
        "rouge_l": rouge_l(predictions, references),
        "n": len(predictions),
    }


def generate_answers(model, builder, records: list[dict], batch_size: int = 4, max_new_tokens: int = 64):
    """(records that could be read, their samples, their greedy answers); unreadable videos are
    skipped (logged)."""
    data = builder.build(records, with_answer=False, what="evaluation records")
    out = []
    for i in range(0, len(data.samples), batch_size):
        out += model.generate_batch(data.samples[i : i + batch_size], max_new_tokens)
    return data.records, data.samples, out


def evaluate_model(
    model,
    builder,
    records: list[dict],
    *,
    max_questions: int | None = None,
    max_summaries: int | None = None,
    batch_size: int = 4,
) -> dict:
    """QA accuracy on the multiple-choice records (free greedy, and greedy held to the options:
    `greedy_option_choices`) and BLEU-4 / ROUGE-L on the description records."""
    report: dict = {}
    mc = qa_records(records)[:max_questions]
    if mc:
        recs, samples, preds = generate_answers(
            model, builder, mc, batch_size, max_new_tokens=MC_ANSWER_TOKENS
        )
        qa = qa_metrics(recs, preds)
        held = greedy_option_choices(model, recs, samples)
        held_qa = qa_metrics(recs, held)
        report["qa"] = {
            "total": qa.total,
            "temporal": qa.temporal,
            "n": qa.n,
            "n_temporal": qa.n_temporal,
            "per_kind": qa.per_kind,
            # the same questions with greedy decoding held to the options' answers
            "held_to_options": {
                "total": held_qa.total,
                "temporal": held_qa.temporal,
                "answers": dict(Counter(c.strip("()") for c in held).most_common()),
            },
            "examples": [{"id": r["id"], "generated": p} for r, p in list(zip(recs, preds))[:3]],
        }
    desc = [r for r in records if r.get("task") in SUMMARY_TASKS][:max_summaries]
    if desc:
        recs, _, preds = generate_answers(model, builder, desc, batch_size, max_new_tokens=96)
        report["summaries"] = summary_metrics(preds, [record_answer(r) for r in recs])
        report["summaries"]["examples"] = [
            {"id": r["id"], "reference": record_answer(r), "generated": p}
            for r, p in list(zip(recs, preds))[:3]
        ]
    if not report:
        raise EvaluationError("no multiple-choice or description records to evaluate")
    return report

"""The SETS / TETG ablation smoke run, option candidates and likelihood choices."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.eval.records_fixtures import tiny_records
from va_gpt.checkpoints.build import from_preset
from va_gpt.config import load_preset
from va_gpt.data.instruct.templates import TEMPORAL_QUESTION, temporal_answer
from va_gpt.data.records import mc_answer, record_texts
from va_gpt.eval.ablation import (
    AblationSetting,
    greedy_option_choices,
    interval_choices,
    option_candidates,
    option_intervals,
    run_ablation,
    scored_choices,
    select_settings,
    stated_choices,
)
from va_gpt.eval.errors import EvaluationError
from va_gpt.eval.qa import qa_metrics
from va_gpt.models.vagpt import Sample
from va_gpt.train.config import TrainConfig
from va_gpt.train.vagpt import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.timeout(180)
def test_ablation_smoke_writes_table_and_plot(tmp_path):
    preset, recs, builder = tiny_records(tmp_path, ("mc_temporal", "temporal"))
    train_data = builder.build(recs)
    texts = record_texts(recs)
    settings = [
        AblationSetting("SETS 100%", 1.0, "text"),
        AblationSetting("SETS 25%, no TETG", 0.25, "none"),
        AblationSetting("prior", 0.25, "none", video=False),
    ]
    res = run_ablation(
        lambda: from_preset(preset, tokenizer_texts=texts), train_data, recs, builder, tmp_path / "abl",
        settings=settings, steps=1,
    )  # fmt: skip
    md = (tmp_path / "abl" / "ablation.md").read_text()
    assert "| SETS 100% | 100% | text |" in md and "| SETS 25%, no TETG | 25% | none |" in md
    assert sum(res["rows"][0]["answers"].values()) == res["rows"][0]["n"]
    assert (tmp_path / "abl" / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = res["rows"]
    assert rows[0]["compute_ratio"] == pytest.approx(1.0) and rows[1]["compute_ratio"] < 1.0
    assert rows[1]["visual_tokens"] * 4 == rows[0]["visual_tokens"]
    assert rows[2]["visual_tokens"] == 0 and rows[2]["compute_ratio"] < rows[1]["compute_ratio"]
    assert "| prior | no video | none |" in md
    assert all(0 <= r["total_acc"] <= 1 and 0 <= r["scored_total_acc"] <= 1 for r in rows)
    assert all(r["heldout_nll"]["temporal"] > 0 and r["heldout_nll"]["all"] > 0 for r in rows)
    assert "| scored total (%) |" in md and "| by interval (%) |" in md and "| stated interval (%) |" in md
    assert all(sum(r["stated_answers"].values()) == r["n"] for r in rows)
    assert "| held to the options (%) |" in md
    assert all(sum(r["options_greedy_answers"].values()) == r["n"] for r in rows)
    assert all(set(r["options_greedy_answers"]) <= set("ABCD") for r in rows)  # always an option
    assert all(0.0 <= r["interval_temporal_acc"] <= 1.0 for r in rows)


def test_option_candidates_rewrite_the_answer_for_each_option():
    rec = {
        "options": ["(A) 1.0s-3.0s", "(B) 4.0s-6.0s", "(C) 7.0s-9.0s", "(D) 0.5s-2.0s"],
        "answer_index": 1,
        "conversations": [
            {"from": "human", "value": "<video>\nWhen?"},
            {"from": "gpt", "value": "(B) 4.0s-6.0s"},
        ],
    }
    assert option_candidates(rec) == ["(A) 1.0s-3.0s", "(B) 4.0s-6.0s", "(C) 7.0s-9.0s", "(D) 0.5s-2.0s"]
    rec["conversations"][1]["value"] = "The answer is (B), from 4.0s-6.0s."
    assert option_candidates(rec)[2] == "The answer is (C), from 7.0s-9.0s."
    rec["conversations"][1]["value"] = mc_answer("B", "4.0s-6.0s")  # what the builder writes
    assert option_candidates(rec) == ["1.0s-3.0s (A)", "4.0s-6.0s (B)", "7.0s-9.0s (C)", "0.5s-2.0s (D)"]


@pytest.mark.timeout(120)
def test_scored_choices_pick_the_option_the_model_learned(tmp_path):
    """A tiny model trained to answer (C) prefers (C) by likelihood, whatever order it is asked in."""
    preset = load_preset("tiny")
    opts = ["(A) 1.0s-3.0s", "(B) 4.0s-6.0s", "(C) 7.0s-9.0s", "(D) 10.0s-12.0s"]
    rec = {"options": opts, "answer_index": 2, "task": "mc_temporal",
           "conversations": [{"from": "human", "value": "<video>\nq"}, {"from": "gpt", "value": opts[2]}]}  # fmt: skip
    rng = np.random.default_rng(0)
    size = preset.encoder.image_size
    sample = Sample(
        frames=rng.integers(0, 255, (2, size, size, 3), dtype=np.uint8), t=np.array([0.0, 0.5]),
        question="When?", answer=opts[2],
    )  # fmt: skip
    torch.manual_seed(0)
    model = from_preset(preset, tokenizer_texts=opts)
    model = train(model, [sample], TrainConfig(stage=2, steps=25, lr=3e-3, batch_size=1, log_every=0)).model
    assert scored_choices(model, [rec], [sample]) == ["(C)"]
    assert qa_metrics([rec], ["(C)"]).total == 1.0


@pytest.mark.timeout(120)
def test_greedy_held_to_the_options_writes_the_option_the_model_learned():
    """A tiny model trained to answer "7.0s-9.0s (C)" writes that option when held to the options."""
    preset = load_preset("tiny")
    opts = ["(A) 1.0s-3.0s", "(B) 4.0s-6.0s", "(C) 7.0s-9.0s", "(D) 7.0s-9.5s"]
    answer = mc_answer("C", "7.0s-9.0s")
    rec = {"options": opts, "answer_index": 2, "task": "mc_temporal",
           "conversations": [{"from": "human", "value": "<video>\nq"}, {"from": "gpt", "value": answer}]}  # fmt: skip
    rng = np.random.default_rng(0)
    size = preset.encoder.image_size
    sample = Sample(
        frames=rng.integers(0, 255, (2, size, size, 3), dtype=np.uint8), t=np.array([0.0, 0.5]),
        question="When?", answer=answer,
    )  # fmt: skip
    torch.manual_seed(0)
    model = from_preset(preset, tokenizer_texts=opts + [answer])
    ask = dataclasses.replace(sample, answer=None)
    model = train(model, [sample], TrainConfig(stage=2, steps=25, lr=3e-3, batch_size=1, log_every=0)).model
    assert greedy_option_choices(model.eval(), [rec], [ask]) == ["(C)"]


def test_stated_choices_read_the_interval_an_answer_states_not_its_letter():
    rec = {
        "options": ["(A) 10.6s-13.0s", "(B) 8.2s-11.0s", "(C) 4.6s-6.6s", "(D) 6.6s-9.1s"],
        "answer_index": 3,
        "task": "mc_temporal",
    }
    answers = [
        "7.4s-8.4s (B)",  # the model's own estimate, inside D, with a wrong letter: D
        "6.6s-9.1s (D)",  # the option itself
        "The anomaly happens from 11.0 s - 12.5 s.",  # A, in other words
        "The anomaly happens from 7.0s to 8.5s.",  # D, as the temporal answers say it
        "(D)",  # no interval stated
        "0.5s-2.0s (C)",  # overlaps no option
    ]
    assert stated_choices([rec] * 6, answers) == ["(D)", "(D)", "(A)", "(D)", "?", "?"]
    assert qa_metrics([rec] * 6, stated_choices([rec] * 6, answers)).temporal == pytest.approx(0.5)
    assert stated_choices([{"options": ["(A) yes", "(B) no"]}], ["1.0s-2.0s"]) == ["?"]


def test_select_settings_takes_names_that_hold_commas():
    names = [
        s.name for s in select_settings("SETS 100%,SETS 25%, no TETG, no video, no TETG (prior),SETS 25%")
    ]
    assert names == ["SETS 100%", "SETS 25%, no TETG", "no video, no TETG (prior)", "SETS 25%"]
    assert [s.name for s in select_settings(" SETS 10% ")] == ["SETS 10%"]
    with pytest.raises(EvaluationError, match=r"no ablation setting named 'SETS 30%'.*'SETS 100%'"):
        select_settings("SETS 100%,SETS 30%")


def test_option_intervals_parse_the_options_or_give_none():
    rec = {"options": ["(A) 1.0s-3.0s", "(B) 4s - 6.5s", "(C) 7.0s\u20139.0s"]}
    assert option_intervals(rec) == [(1.0, 3.0), (4.0, 6.5), (7.0, 9.0)]
    assert option_intervals({"options": ["(A) 1.0s-3.0s", "(B) running"]}) is None
    assert option_intervals({}) is None


@pytest.mark.timeout(120)
def test_interval_choices_follow_the_temporal_belief_not_the_letter(tmp_path):
    """A tiny model taught where the anomaly is (the temporal task, no letters) picks the option
    holding that interval, whichever letter it has; a question without intervals gets "?"."""
    preset = load_preset("tiny")
    size = preset.encoder.image_size
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (2, size, size, 3), dtype=np.uint8)
    truth = temporal_answer([(7.0, 9.0)])
    sample = Sample(frames=frames, t=np.array([0.0, 0.5]), question=TEMPORAL_QUESTION, answer=truth)
    torch.manual_seed(0)
    model = from_preset(preset, tokenizer_texts=[truth, TEMPORAL_QUESTION, "1.0s 4.0s 10.0s 3.0s 6.0s 12.0s"])
    model = train(model, [sample], TrainConfig(stage=2, steps=25, lr=3e-3, batch_size=1, log_every=0)).model
    ask = dataclasses.replace(sample, question="Which interval?", answer=None)
    for right, opts in ((1, ["1.0s-3.0s", "7.0s-9.0s", "4.0s-6.0s", "10.0s-12.0s"]),
                        (3, ["10.0s-12.0s", "1.0s-3.0s", "4.0s-6.0s", "7.0s-9.0s"])):  # fmt: skip
        rec = {"options": [f"({'ABCD'[i]}) {o}" for i, o in enumerate(opts)], "answer_index": right}
        assert interval_choices(model, [rec], [ask]) == [f"({'ABCD'[right]})"]
    assert interval_choices(model, [{"options": ["(A) yes", "(B) no"]}], [ask]) == ["?"]

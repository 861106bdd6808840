"""Structured answers: option likelihoods equal a plain teacher-forced pass, generation after a
forced prefix, and the n-gram repetition guard."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from va_gpt.checkpoints.build import from_preset
from va_gpt.config import load_preset
from va_gpt.models.structured import (
    HELD_FIELDS,
    answer_bank,
    consistent_after,
    contradictions,
    cut_repeated_fields,
    cut_repeats,
    cut_stray_marks,
    drop_contradicting,
    drop_stub_fields,
    field_spans,
    generate_after,
    greedy_choice,
    held_summary,
    max_ngram_repeats,
    option_logprobs,
    summary_quality,
    when,
    with_when,
)
from va_gpt.models.vagpt import KIND_ANSWER, Sample
from va_gpt.taxonomy import kind_mentions

PRESET = load_preset("tiny")
S = PRESET.encoder.image_size


@pytest.fixture(scope="module")
def model():
    return from_preset(PRESET).eval()


def sample(T=3, seed=0):
    frames = np.random.default_rng(seed).integers(0, 256, (T, S, S, 3), dtype=np.uint8)
    t = 10.0 + 0.5 * np.arange(T)
    return Sample(frames, t, "What happens?", scores=np.linspace(0.1, 0.9, T))


def reference_logprob(model, s: Sample, option: str) -> float:
    """log P(" Judgement: option." | prompt) from one teacher-forced forward (the training path)."""
    with torch.no_grad():
        out = model([dataclasses.replace(s, answer=f"Judgement: {option}.")])
    b = out.batch
    lp = F.log_softmax(out.logits[0, :-1].float(), -1)
    ids = b.token_ids[0, 1:]
    ans = (b.kinds[0, 1:] == KIND_ANSWER) & (ids != model.tokenizer.eos_token_id)
    return float(lp[ans].gather(-1, ids[ans][:, None]).sum())


@pytest.mark.timeout(120)
def test_option_logprobs_match_teacher_forcing(model):
    s = sample()
    options = ["fighting", "abandoned object", "normal", "road accident"]
    got = option_logprobs(model, s, options)
    want = [reference_logprob(model, s, o) for o in options]
    assert got.shape == (4,) and np.all(got < 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


@pytest.mark.timeout(120)
def test_generate_after_prefix_batches_like_singles(model):
    a, b = sample(3, 0), sample(2, 1)
    prefixes = ["Judgement: fighting. Description:", "Judgement: normal. Description:"]
    both = generate_after(model, [a, b], prefixes, max_new_tokens=6)
    assert all(isinstance(x, str) for x in both)
    assert both[1] == generate_after(model, [b], prefixes[1:], max_new_tokens=6)[0]
    assert not any("Judgement:" in x for x in both)  # banned by default after the forced judgement
    with pytest.raises(ValueError, match="prefixes"):
        generate_after(model, [a], prefixes, max_new_tokens=2)


def test_cut_repeats_and_max_ngram_repeats():
    loop = "Description: a person may be a bag may be a bag may be a bag"
    assert max_ngram_repeats(loop) == 3
    cut = cut_repeats(loop)
    assert cut == "Description: a person may be a bag"
    assert max_ngram_repeats(cut) <= 1
    clean = "Judgement: fighting. Description: two people fight. Analysis: violence is dangerous."
    assert cut_repeats(clean) == clean and max_ngram_repeats(clean) == 1
    assert max_ngram_repeats("too short") == 0


def test_cut_repeated_fields():
    text = "Judgement: explosion. Description: people fight. Analysis: Judgement is bad. Analysis: again."
    assert (
        cut_repeated_fields(text)
        == "Judgement: explosion. Description: people fight. Analysis: Judgement is bad."
    )
    assert cut_repeated_fields("Judgement: x. Judgment: y.") == "Judgement: x."
    clean = "Judgement: fighting. Description: two people fight. Analysis: violence."
    assert cut_repeated_fields(clean) == clean


def test_stray_answer_letters_after_a_sentence_are_removed():
    text = "Judgement: explosion. Description: a group of people suddenly runs away.D) Analysis: help.)"
    assert cut_stray_marks(text) == (
        "Judgement: explosion. Description: a group of people suddenly runs away. Analysis: help."
    )
    assert cut_stray_marks("Judgement: fighting. (C) Description: two people (A and B) fight.") == (
        "Judgement: fighting. Description: two people (A and B) fight."
    )
    clean = "Judgement: normal. Description: people walk (slowly) along the street."
    assert cut_stray_marks(clean) == clean


def test_contradictions_name_other_kinds_only():
    text = " a person falls to the street. Analysis: Nothing abnormal happens; people run."
    assert contradictions(text, "explosion") == ["falls", "Nothing abnormal", "run"]
    assert contradictions(text, "falling") == ["Nothing abnormal", "run"]
    assert contradictions(" people walk by. Analysis: nothing abnormal happens.", "normal") == []
    assert contradictions(" two people fight.", "normal") == ["fight"]


def test_drop_contradicting_keeps_the_consistent_sentences_and_the_marks():
    text = "two people fight. One falls. Analysis: Nothing abnormal happens. Violence hurts."
    assert drop_contradicting(text, "fighting") == "two people fight. Analysis: Violence hurts."
    assert drop_contradicting("Nothing abnormal runs away.", "explosion") == ""
    assert drop_contradicting("people walk by.", "normal") == "people walk by."


CONTRADICTION = "Judgement: fighting. Description: a person falls. Analysis: it is normal."


def overfit(answer: str, steps: int = 150):
    """The tiny VA-GPT (seed 0) overfit to `answer` on sample(): what it learned, it writes."""
    torch.manual_seed(0)
    m = from_preset(PRESET)
    s = dataclasses.replace(sample(), answer=answer)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    m.train()
    for _ in range(steps):
        loss = m([s]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()


@pytest.fixture(scope="module")
def contradicting_model():
    """The tiny VA-GPT overfit to one answer whose description and analysis contradict its
    judgement: its own best continuation after "Judgement: fighting. Description:" names falling."""
    return overfit(CONTRADICTION)


@pytest.mark.timeout(300)
def test_consistent_after_never_names_another_kind(contradicting_model):
    m, s = contradicting_model, sample()
    prefix = "Judgement: fighting. Description:"
    plain = generate_after(m, [s], [prefix], max_new_tokens=16)[0]
    assert contradictions(plain, "fighting"), plain  # the model as trained contradicts itself
    for beams in (1, 3):
        out = consistent_after(
            m, [s, s], [prefix, prefix], ["fighting", "fighting"], max_new_tokens=16, num_beams=beams
        )
        assert len(out) == 2
        for text in out:
            assert text.startswith(prefix), text
            assert contradictions(text[len(prefix) :], "fighting") == [], text
    with pytest.raises(ValueError, match="kinds"):
        consistent_after(m, [s], [prefix], [], max_new_tokens=2)


def test_with_when_adds_the_interval_time_to_the_description_once():
    text = "Judgement: fighting. Description: two people fight each other. Analysis: violence hurts."
    got = with_when(text, 6.46, 9.04)
    assert got == (
        "Judgement: fighting. Description: two people fight each other. It happens from 6.5s to 9.0s. "
        "Analysis: violence hurts."
    )
    assert when(6.46, 9.04) == "It happens from 6.5s to 9.0s"
    assert with_when(got, 1.0, 2.0) == got  # a time is already given
    assert with_when("Judgement: normal. Description: people walk", 0, 2) == (
        "Judgement: normal. Description: people walk. It happens from 0.0s to 2.0s."
    )
    for unchanged in ("Judgement: fighting.", "Judgement: fighting. Description: Analysis: x."):
        assert with_when(unchanged, 1.0, 2.0) == unchanged


@pytest.mark.timeout(300)
def test_free_text_never_opens_a_multiple_choice_mark():
    """The LLM also learns multiple-choice answers ("(C) ..."); a summary's free text must not
    start one (it used to read "Analysis: (D abnormal anomaly in this video"), nor write the word
    judgement again."""
    m, s = overfit("Judgement: fighting. Description: (D) two people fight. Analysis: (C)."), sample()
    prefix = "Judgement: fighting. Description:"
    learned = generate_after(m, [s], [prefix], max_new_tokens=16, banned=("Judgement:",))[0]
    assert "(" in learned, learned  # the model as trained opens a mark
    for text in generate_after(m, [s], [prefix], max_new_tokens=16) + consistent_after(
        m, [s], [prefix], ["fighting"], max_new_tokens=16, num_beams=3
    ):
        continuation = text[len(prefix) :] if text.startswith(prefix) else text
        assert not {"(", ")"} & set(continuation) and "judgement" not in continuation.lower(), text


def test_quality_prefers_a_summary_that_names_its_judgement_and_is_whole():
    """Among beams that name no other kind, the describe stage keeps the first of the best
    `summary_quality`: one that names its judgement's kind and has an analysis, no field cut to a
    word or two ("Analysis: an.")."""
    whole = " a group of people suddenly runs away. Analysis: people running in panic suggests danger."
    assert summary_quality(whole, "running") == (True, True)
    assert summary_quality(" a group of people walk by. Analysis: people may be in danger.", "running") == (
        False,
        True,
    )
    assert summary_quality(" a person leaves a bag behind. Analysis: an.", "abandoned_object") == (
        True,
        False,
    )
    assert summary_quality(" a person leaves a bag behind.", "abandoned_object") == (
        True,
        False,
    )  # no analysis
    assert summary_quality(
        " people walk along the street. Analysis: this is ordinary activity.", "normal"
    ) == (True, True)
    assert summary_quality(" people walk by. Analysis: nothing abnormal happens here.", "normal")[0]
    assert max(
        [summary_quality(" people walk. Analysis: x y z.", "running"), summary_quality(whole, "running")]
    ) == (True, True)


def test_a_field_cut_to_a_word_or_two_is_dropped_with_its_mark():
    text = "Judgement: abandoned object. Description: a person leaves a bag behind. Analysis: an."
    assert drop_stub_fields(text) == "Judgement: abandoned object. Description: a person leaves a bag behind."
    assert drop_stub_fields(
        "Judgement: collision. Description: two cars. Analysis: a crash hurts people."
    ) == ("Judgement: collision. Analysis: a crash hurts people.")
    whole = "Judgement: fighting. Description: two people fight each other. Analysis: violence is dangerous."
    assert drop_stub_fields(whole) == whole
    assert drop_stub_fields("Judgement: normal.") == "Judgement: normal."  # the judgement always stays


def test_field_spans_cut_a_text_at_its_marks():
    text = "a lead. Judgment: fighting. Description: two people fight."
    spans = field_spans(text)
    assert [s[0] for s in spans] == [None, "judgement", "description"]
    assert [text[v:e].strip() for _, _, v, e in spans] == ["a lead.", "fighting.", "two people fight."]
    assert "".join(text[s:e] for _, s, _, e in spans) == text  # the spans tile the text
    assert field_spans("no marks") == [(None, 0, 0, 8)]


def reference_greedy_choice(model, s: Sample, answers: list[str]) -> int:
    """Greedy decoding held to `answers`, the slow way: one full forward of prompt + prefix per
    token, the argmax among the tokens that continue some answer (" " + answer + EOS)."""
    tok = model.tokenizer
    seqs = [tok(" " + a, add_special_tokens=False).input_ids + [tok.eos_token_id] for a in answers]
    prompt, _, _ = model.sequence(s)
    prefix: list[int] = []
    while True:
        alive = [i for i, q in enumerate(seqs) if q[: len(prefix)] == prefix]
        if len(alive) == 1 or len(prefix) == len(seqs[alive[0]]):
            return alive[0]
        emb = model.llm.get_input_embeddings()(torch.tensor(prefix, dtype=torch.long))
        with torch.no_grad():
            logits = model.llm(inputs_embeds=torch.cat([prompt, emb])[None]).logits[0, -1]
        allowed = sorted({seqs[i][len(prefix)] for i in alive})
        prefix.append(max(allowed, key=lambda t: float(logits[t])))


@pytest.mark.timeout(120)
def test_greedy_choice_is_greedy_decoding_held_to_the_answers(model):
    options = ["6.6s-9.1s", "6.6s-9.4s", "2.5s-6.0s", "8.6s-11.9s", "16.0s-18.5s", "6.0s-9.1s"]
    got = []
    for seed in range(6):
        s = sample(seed=seed)
        picked = np.random.default_rng(seed).permutation(len(options))[:4]
        answers = [f"{options[k]} ({'ABCD'[i]})" for i, k in enumerate(picked)]
        got.append(greedy_choice(model, s, answers))
        assert got[-1] == reference_greedy_choice(model, s, answers)
        # the answers' order only breaks exact ties: the same answer is chosen from any order
        rev = answers[::-1]
        assert rev[greedy_choice(model, s, rev)] == answers[got[-1]]
    assert greedy_choice(model, sample(), ["(A)", "(A)"]) == 0  # one answer twice: the first
    with pytest.raises(ValueError, match="no answers"):
        greedy_choice(model, sample(), [])


def test_answer_bank_holds_each_fields_trained_sentences_most_frequent_first():
    answers = [
        "Judgement: fighting. Description: two people fight each other. Analysis: violence is dangerous.",
        "Judgement: normal. Description: people walk along the street. Analysis: Nothing abnormal happens.",
        "Judgement: normal. Description: people walk along the street. Analysis: Nothing abnormal happens.",
        "Judgement: fighting. Analysis: violence is dangerous.",  # an analysis question's answer
        "Yes. There is an anomaly in this video: fighting.",  # no fields: nothing to hold
        "6.6s-9.1s (D)",
    ]
    assert answer_bank(answers) == {
        "description": ["people walk along the street", "two people fight each other"],
        "analysis": ["violence is dangerous", "Nothing abnormal happens"],
    }
    assert answer_bank(["Judgement: normal."]) == {}


BANK = answer_bank(
    [
        CONTRADICTION,
        "Judgement: fighting. Description: two people fight each other. Analysis: violence between people is dangerous.",
        "Judgement: normal. Description: people walk along the street. Analysis: nothing happens here.",
        "Judgement: abandoned object. Description: a person leaves a bag behind. Analysis: an unattended bag may be a threat.",
    ]
)


def preferred(sentences: list[str], kind: str) -> list[str]:
    """Those of `sentences` that name `kind`, or all of them when none does."""
    return [x for x in sentences if kind in {k for k, _ in kind_mentions(x)}] or sentences


@pytest.mark.timeout(300)
def test_held_summary_writes_trained_sentences_naming_no_other_kind(contradicting_model):
    """Overfit to "Judgement: fighting. Description: a person falls. Analysis: it is normal.", the
    model held to the bank writes a sentence naming its judgement where a field has one, else what
    it learned where its judgement allows it, never a sentence naming another kind: exactly what
    greedy decoding held to the whole allowed answers writes."""
    m, s = contradicting_model, sample()
    for kind, judgement in (("fighting", "fighting"), ("falling", "falling"), ("normal", "normal")):
        text = held_summary(m, s, judgement, kind, BANK)
        ds, analyses = (
            preferred([x for x in BANK[f] if not contradictions(x, kind)], kind) for f in HELD_FIELDS
        )
        whole = [f"Judgement: {judgement}. Description: {d}. Analysis: {a}." for d in ds for a in analyses]
        assert text == whole[reference_greedy_choice(m, s, whole)], kind
        assert contradictions(text.split("Description:", 1)[1], kind) == [], text
    # a sentence naming the judgement's kind is held to where a field has one
    assert "Description: two people fight each other." in held_summary(m, s, "fighting", "fighting", BANK)
    # what the model learned, where the judgement allows it
    assert "Description: a person falls." in held_summary(m, s, "falling", "falling", BANK)
    assert held_summary(m, s, "normal", "normal", BANK).endswith("Analysis: it is normal.")
    # a kind the bank never names, or a field with nothing left: free decoding's turn
    assert held_summary(m, s, "robbery", "robbery", BANK) is None
    assert held_summary(m, s, "fighting", "fighting", {"description": BANK["description"]}) is None

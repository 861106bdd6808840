"""va_gpt.ops.text_metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from va_gpt.ops.text_metrics import bleu, parse_choice, qa_accuracy, rouge_l, tokenize

# --------------------------------------------------------------------------- QA


@pytest.mark.timeout(30)
def test_parse_choice_formats():
    assert parse_choice("(B)") == "B"
    assert parse_choice("B.") == "B"
    assert parse_choice("B") == "B"
    assert parse_choice(" B) fighting") == "B"
    assert parse_choice("C: the car crash") == "C"
    assert parse_choice("The answer is D.") == "D"
    assert parse_choice("Answer: (A) explosion") == "A"
    assert parse_choice("**B**") == "B"
    assert parse_choice("A man is fighting in the street") is None  # article, not option A
    assert parse_choice("b") is None
    opts = ["explosion", "fighting", "car accident", "no anomaly"]
    assert parse_choice("A man is fighting in the street", opts) == "B"  # option text
    assert parse_choice("There is a Car Accident!", opts) == "C"
    assert parse_choice("explosion or fighting", opts) is None  # ambiguous
    assert parse_choice("E", opts) is None  # not an option
    assert parse_choice("anomaly: a car accident", {"A": "car accident", "B": "accident"}) == "A"  # longest


@pytest.mark.timeout(30)
def test_qa_accuracy_total_and_temporal():
    predictions = [
        "(B)",  # correct
        "B.",  # correct
        "The answer is A",  # wrong (gold C)
        "C",  # correct
        "I think it happens at the start of the video.",  # option text of A: correct
        "D",  # wrong
        "Probably option B",  # correct
        "",  # no answer: wrong
    ]
    answers = ["B", "(B) fighting", "C", "C. end", "A", "A", "(B)", "B"]
    kinds = [
        "judgement",
        "judgement",
        "temporal",
        "Temporal",
        "temporal",
        "temporal",
        "description",
        "temporal",
    ]
    options = [None, None, None, None, ["at the start of the video", "in the middle"], None, None, None]
    res = qa_accuracy(predictions, answers, kinds, options=options)
    assert res.n == 8 and res.n_temporal == 5
    np.testing.assert_array_equal(res.correct, [True, True, False, True, True, False, True, False])
    assert res.total == pytest.approx(5 / 8)
    assert res.temporal == pytest.approx(2 / 5)
    assert res.per_kind == {"judgement": 1.0, "temporal": 0.4, "description": 1.0}

    no_temporal = qa_accuracy(["A"], ["A"], ["judgement"])
    assert no_temporal.temporal is None and no_temporal.total == 1.0
    # an answer without a letter and no options: normalised text comparison
    assert qa_accuracy(["Fighting."], ["fighting"], ["judgement"]).total == 1.0
    with pytest.raises(ValueError, match="lengths differ"):
        qa_accuracy(["A"], ["A", "B"], ["x"])


# --------------------------------------------------------------------------- BLEU / ROUGE-L


@pytest.mark.timeout(30)
def test_bleu_identical_disjoint_and_hand_computed():
    refs = ["the cat is on the mat", "a dog runs in the park today"]
    assert bleu(refs, refs) == pytest.approx(1.0)
    # no match at all: 0 (sacrebleu); smoothing only lifts orders above a matching one
    assert bleu(["one two three four five six"], ["alpha beta gamma delta epsilon zeta"]) == 0.0
    assert bleu(["one two three four five six"], ["alpha beta gamma delta epsilon zeta"], epsilon=0) == 0.0

    # "the cat sat on the mat" vs "the cat is on the mat":
    # p1 = 5/6, p2 = 3/5, p3 = 1/4, p4 = 0/3 -> 0.1/3 (smoothing), BP = 1 (c = r = 6)
    cand, ref = "the cat sat on the mat", "the cat is on the mat"
    assert bleu([cand], [ref]) == pytest.approx((5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25)
    assert bleu([cand], [ref], n=2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    # brevity penalty: c = 2, r = 6 -> exp(1 - 3)
    assert bleu(["the cat"], ["the cat sat on the mat"], n=2) == pytest.approx(math.exp(-2))
    # clipping: "the" counted at most as often as in the reference
    assert bleu(["the the the the"], ["the cat"], n=1) == pytest.approx(0.25)
    # multiple references: the closest reference length and the max count over references
    assert bleu(["the cat"], [["the cat", "a long reference sentence here"]], n=2) == pytest.approx(1.0)
    # corpus level: counts summed over sentences, not averaged
    corpus = bleu(["the cat sat", "a b"], ["the cat ran", "a b"], n=1)
    assert corpus == pytest.approx(4 / 5)
    # short sentences: orders with no n-gram in the corpus are left out
    assert bleu(["a b"], ["a b"], n=4) == pytest.approx(1.0)
    assert tokenize("The dog's bark.") == ["the", "dog", "'", "s", "bark", "."]


@pytest.mark.timeout(30)
def test_rouge_l():
    assert rouge_l(["the cat is on the mat"], ["the cat is on the mat"]) == pytest.approx(1.0)
    assert rouge_l(["one two"], ["three four"]) == 0.0
    # LCS("the cat sat on the mat", "the cat is on the mat") = 5 -> P = R = 5/6 -> F = 5/6
    assert rouge_l(["the cat sat on the mat"], ["the cat is on the mat"]) == pytest.approx(5 / 6)
    # P = 1, R = 2/3, beta = 1.2
    b2 = 1.2**2
    expect = (1 + b2) * 1 * (2 / 3) / (2 / 3 + b2 * 1)
    assert rouge_l(["the cat"], ["the cat sat"]) == pytest.approx(expect)
    # mean over the corpus, best reference per candidate
    assert rouge_l(["a b", "x y"], [["q", "a b"], "z w"]) == pytest.approx(0.5)

"""Text metrics, no I/O: multiple-choice QA accuracy, BLEU and ROUGE-L of generated descriptions.

:func:`qa_accuracy` (multiple choice with a free-form answer parser, total and
temporal accuracy); :func:`bleu` (corpus BLEU with brevity penalty and smoothing,
sacrebleu) and :func:`rouge_l` (ROUGE-L F with beta 1.2 over rouge-score's LCS
precision and recall); both on :func:`tokenize` tokens. sacrebleu and
rouge-score come with the ``eval`` extra and are imported where used.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["QAResult", "bleu", "parse_choice", "qa_accuracy", "rouge_l", "tokenize"]


# --------------------------------------------------------------------------- question answering

_LETTERS = string.ascii_uppercase


def _normalize_text(text: str) -> str:
    text = text.lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def parse_choice(text: str, options: Sequence[str] | Mapping[str, str] | None = None) -> str | None:
    """The option letter a free-form answer picks, or None.

    Recognised, in order: ``(B)`` anywhere; a lone ``B`` or ``B.``, ``B)``,
    ``B:`` at the start; ``answer is B`` / ``option B`` / ``Answer: B``. Only
    upper-case letters count, and a leading letter must be alone or followed
    by ``.):`` (so "A man ..." is not option A); with ``options`` only their
    letters count. If no letter is found and options are
    given, the option whose text appears in the answer (whole words, case and
    punctuation ignored) is taken; when several appear, the longest one that
    contains all the others wins, otherwise it is ambiguous (None).

    options: texts in letter order (``["fighting", "normal"]`` = A, B) or a
    mapping letter -> text.
    """
    if options is None:
        opts: dict[str, str] = {}
    elif isinstance(options, Mapping):
        opts = {str(k).strip().upper(): str(v) for k, v in options.items()}
    else:
        opts = {_LETTERS[i]: str(v) for i, v in enumerate(options)}
    valid = "".join(opts) if opts else _LETTERS
    letter = f"[{re.escape(valid)}]"
    stripped = text.strip().strip("*`'\"").strip()
    patterns = (
        rf"\(({letter})\)",  # (B) anywhere
        rf"^({letter})(?:[.):]|$)",  # B / B. / B) / B: at the start
        rf"\b(?i:answer|option|choice)\s*(?i:is)?\s*:?\s*\(?({letter})\b",  # answer is B, Option: B
    )
    for pat in patterns:
        m = re.search(pat, stripped)
        if m:
            return m.group(1)
    if not opts:
        return None
    answer = f" {_normalize_text(stripped)} "
    hits = [k for k, v in opts.items() if _normalize_text(v) and f" {_normalize_text(v)} " in answer]
    if len(hits) == 1:
        return hits[0]
    if hits:
        longest = max(hits, key=lambda k: len(_normalize_text(opts[k])))
        if all(f" {_normalize_text(opts[k])} " in f" {_normalize_text(opts[longest])} " for k in hits):
            return longest
    return None


@dataclass(frozen=True)
class QAResult:
    """QA accuracy: total over all questions, temporal over questions of kind ``temporal``.

    temporal is None when there is no temporal question. correct (N,) bool
    per question; per_kind maps each kind to its accuracy.
    """

    total: float
    temporal: float | None
    n: int
    n_temporal: int
    correct: np.ndarray = field(repr=False)
    per_kind: dict[str, float]


def qa_accuracy(
    predictions: Sequence[str],
    answers: Sequence[str],
    kinds: Sequence[str],
    options: Sequence[Sequence[str] | Mapping[str, str] | None] | None = None,
) -> QAResult:
    """Multiple-choice accuracy of free-form predictions.

    predictions, answers, kinds: (N,) strings. answers give the correct option
    as a letter (``"B"``, ``"(B)"``, ``"B. fighting"``) or, with options, its
    text. A prediction is correct when :func:`parse_choice` finds the same
    letter. If an answer has no letter and there are no options, the
    normalised texts are compared. kinds label each question; the temporal
    accuracy is over kinds equal to ``temporal`` (case-insensitive).
    options: optional (N,) per-question option lists / mappings.
    """
    n = len(predictions)
    if len(answers) != n or len(kinds) != n:
        raise ValueError(f"lengths differ: {n} predictions, {len(answers)} answers, {len(kinds)} kinds")
    if options is not None and len(options) != n:
        raise ValueError(f"lengths differ: {n} predictions, {len(options)} option lists")
    if n == 0:
        raise ValueError("no questions")
    correct = np.zeros(n, dtype=bool)
    for i, (pred, ans) in enumerate(zip(predictions, answers)):
        opts = options[i] if options is not None else None
        gold = parse_choice(ans, opts)
        if gold is None:
            correct[i] = _normalize_text(pred) == _normalize_text(ans) and bool(_normalize_text(ans))
        else:
            correct[i] = parse_choice(pred, opts) == gold
    kinds_l = [str(k).lower() for k in kinds]
    temporal = np.array([k == "temporal" for k in kinds_l], dtype=bool)
    per_kind = {k: float(correct[[x == k for x in kinds_l]].mean()) for k in dict.fromkeys(kinds_l)}
    return QAResult(
        total=float(correct.mean()),
        temporal=float(correct[temporal].mean()) if temporal.any() else None,
        n=n,
        n_temporal=int(temporal.sum()),
        correct=correct,
        per_kind=per_kind,
    )


# --------------------------------------------------------------------------- text generation

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens: ``"The dog's bark."`` -> the dog ' s bark ."""
    return _TOKEN_RE.findall(text.lower())


def _references(references: Sequence, n_cand: int) -> list[list[str]]:
    if len(references) != n_cand:
        raise ValueError(f"{n_cand} candidates but {len(references)} references")
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    if any(not r for r in refs):
        raise ValueError("a candidate without reference")
    return refs


def bleu(
    candidates: Sequence[str], references: Sequence[str | Sequence[str]], n: int = 4, epsilon: float = 0.1
) -> float:
    """Corpus BLEU-n (Papineni et al. 2002), uniform weights, in [0, 1]: sacrebleu's ``corpus_score``.

    candidates: (N,) strings; references: (N,) strings or lists of strings
    (several references per candidate). Text is split by :func:`tokenize`
    (sacrebleu's own tokenizer off). Per order k, clipped k-gram matches and
    candidate k-gram counts are summed over the corpus, p_k = matches / count.
    Smoothing (Chen & Cherry 2014, method 1, sacrebleu ``floor``): an order with
    no match uses epsilon / count (epsilon=0: no smoothing, BLEU is 0 when an
    order has no match); a corpus with no match at all scores 0. Orders for
    which the corpus has no candidate k-gram at all (every sentence shorter than
    k) are left out of the geometric mean (``effective_order``). Brevity penalty
    exp(1 - r / c) when c <= r, with r the summed reference length closest to
    each candidate's (shorter on ties). Returns 0 for an empty corpus output.
    """
    from sacrebleu.metrics import BLEU

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    refs = _references(references, len(candidates))
    cands = [" ".join(tokenize(c)) for c in candidates]
    if not any(cands):
        return 0.0
    streams = [
        [" ".join(tokenize(r[i])) if i < len(r) else None for r in refs] for i in range(max(map(len, refs)))
    ]
    scorer = BLEU(
        max_ngram_order=n,
        smooth_method="floor" if epsilon > 0 else "none",
        smooth_value=epsilon if epsilon > 0 else None,
        tokenize="none",
        effective_order=True,
    )
    return float(scorer.corpus_score(cands, streams).score / 100.0)


class _Tokenizer:
    """rouge-score's tokenizer interface over :func:`tokenize`."""

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return tokenize(text)


def rouge_l(candidates: Sequence[str], references: Sequence[str | Sequence[str]], beta: float = 1.2) -> float:
    """Mean sentence ROUGE-L F-measure (Lin 2004) over the corpus, in [0, 1].

    Per candidate: P = LCS / len(candidate), R = LCS / len(reference) (rouge-score's
    ``rougeL``), F = (1 + beta^2) P R / (R + beta^2 P), taking the best reference;
    beta 1.2 as in the COCO caption evaluation (rouge-score's own F has beta 1).
    Tokens from :func:`tokenize`.
    """
    from rouge_score.rouge_scorer import RougeScorer

    refs = _references(references, len(candidates))
    if not candidates:
        raise ValueError("no candidates")
    scorer = RougeScorer(["rougeL"], tokenizer=_Tokenizer())
    scores = []
    for cand, rs in zip(candidates, refs):
        best = 0.0
        for r in rs:
            s = scorer.score(r, cand)["rougeL"]
            if s.precision > 0:
                p, rec = s.precision, s.recall
                best = max(best, (1 + beta**2) * p * rec / (rec + beta**2 * p))
        scores.append(best)
    return float(np.mean(scores))

"""Structured answers from a VA-GPT: a judgement chosen among given phrases, the rest generated after it.

A small LLM trained for minutes loops ("may be a bag may be a bag") and names kinds it was never
shown; free greedy decoding of "Judgement: <kind>" is where summaries go wrong first. Here:

- :func:`option_logprobs`: the log-likelihood log P(" Judgement: <option>." | prompt) of each
  allowed option (one prompt prefill, its KV cache repeated over the options, one batched pass);
- :func:`greedy_choice`: greedy decoding held to a list of allowed answers (a multiple-choice
  question's options), token by token;
- :func:`generate_after`: generation continued after a forced answer prefix (" Judgement: x.
  Description:"), so description and analysis are conditioned on the chosen judgement, with
  n-gram blocking and a repetition penalty;
- :func:`held_summary`: description and analysis held to the sentences the model was trained to
  write (`answer_bank` of its training answers, VAGPT.answers), each chosen by `greedy_choice`:
  a 4 x 256 LLM trained for minutes writes those sentences whole or breaks them ("fire puts people
  in this."), and held to them it cannot break one;
- :func:`cut_repeats` (pure text): the text cut before the first word n-gram that repeats, the
  hard guarantee that no summary repeats a 4-gram whatever the decoder did.

The model stays a `VAGPT` (va_gpt.models.vagpt): these functions only read its `sequence`
(the same prompt layout as training) and call its LLM.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from va_gpt.models.vagpt import VAGPT, Sample
from va_gpt.taxonomy import NORMAL, kind_mentions

_WORD = re.compile(r"\S+")


def prompt_embeds(model: VAGPT, sample: Sample) -> torch.Tensor:
    """The prompt embeddings [L, H] of a generation sample (the training layout without the answer):
    its frames through the vision tower and projector. Computed once, it can be passed to every
    scoring of the same sample (`option_logprobs`, `greedy_choice`, `held_summary`)."""
    if sample.answer is not None:
        raise ValueError("generation samples must have answer=None")
    embeds, _, _ = model.sequence(sample)
    return embeds


def _ids(model: VAGPT, text: str) -> list[int]:
    return model.tokenizer(text, add_special_tokens=False).input_ids


@torch.no_grad()
def _option_token_logprobs(
    model: VAGPT, sample: Sample, seqs: list[list[int]], prompt: torch.Tensor | None = None
) -> torch.Tensor:
    """[n, Lo] float64: the log-prob of each option's tokens given the prompt and the option's
    tokens before them, 0 past an option's end, for token sequences `seqs` answering `sample`
    (`prompt`: its `prompt_embeds`, computed here when None).

    The prompt is prefilled once; its KV cache is repeated over the options, which run as one
    right-padded batch."""
    prompt = prompt_embeds(model, sample) if prompt is None else prompt  # [Lp, H]
    Lp = len(prompt)
    out = model.llm(inputs_embeds=prompt[None], use_cache=True)
    first = F.log_softmax(out.logits[0, -1].float(), -1)  # [V]: the first answer token
    cache = out.past_key_values
    n, Lo = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((n, Lo), model.tokenizer.pad_token_id, dtype=torch.long, device=model.device)
    mask = torch.zeros(n, Lo, dtype=torch.long, device=model.device)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, device=model.device)
        mask[i, : len(s)] = 1
    lp = torch.zeros(n, Lo, dtype=torch.float64, device=model.device)
    lp[:, 0] = first[ids[:, 0]].double()
    if Lo > 1:
        cache.batch_repeat_interleave(n)
        attn = torch.cat([torch.ones(n, Lp, dtype=torch.long, device=model.device), mask], 1)
        pos = (Lp + torch.arange(Lo, device=model.device))[None].expand(n, -1)
        logits = model.llm(
            inputs_embeds=model.llm.get_input_embeddings()(ids),
            attention_mask=attn,
            position_ids=pos,
            past_key_values=cache,
            use_cache=True,
        ).logits  # [n, Lo, V]: position j predicts token j + 1
        lp[:, 1:] = F.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None])[..., 0].double()
    return lp * mask


def option_logprobs(
    model: VAGPT,
    sample: Sample,
    options: list[str],
    template: str = " Judgement: {}.",
    prompt: torch.Tensor | None = None,
) -> np.ndarray:
    """[len(options)] float64: log P(template.format(option) | prompt) summed over its tokens
    (`prompt`: the sample's `prompt_embeds` when already computed).

    The answer starts right after " ASSISTANT:" with a space, as in training (VAGPT.sequence),
    so the template carries the leading space.
    """
    if not options:
        raise ValueError("no options to score")
    seqs = [_ids(model, template.format(o)) for o in options]
    lp = _option_token_logprobs(model, sample, seqs, prompt)
    return lp.sum(-1).cpu().numpy()


def greedy_choice(
    model: VAGPT, sample: Sample, answers: list[str], prompt: torch.Tensor | None = None
) -> int:
    """The index of the answer greedy decoding writes when it may write only one of `answers`.

    Token by token, as free greedy decoding does, the likeliest next token, but only among the
    tokens that keep the text a prefix of some answer (" " + answer + EOS, as in training); ties go
    to the earlier answer. Unlike ranking whole answers by likelihood, an early token decides: for
    "6.6s-9.1s (D)" against "6.6s-9.4s (A)" the shared start costs both the same, and the first
    token where they part chooses. Multiple-choice answers that state the option's interval first
    are so decided on the interval, which the video and TETG inform, and the letter after it is
    the one that stands beside it in the question (docs/MEASUREMENTS.md, "The paper's ablations at small scale").
    One answer (or one answer several times) is chosen without running the model. `prompt`: the
    sample's `prompt_embeds` when already computed.
    """
    if not answers:
        raise ValueError("no answers to choose from")
    if len(set(answers)) == 1:
        return 0
    eos = model.tokenizer.eos_token_id
    seqs = [_ids(model, " " + a) + [eos] for a in answers]
    lp = _option_token_logprobs(model, sample, seqs, prompt)
    alive = list(range(len(seqs)))
    for j in range(max(len(s) for s in seqs)):
        if len(alive) == 1 or j >= len(seqs[alive[0]]):  # decided, or the survivors are one answer twice
            break
        # options sharing tokens 0..j-1 share the prompt of token j, so lp[i, j] is that token's log-prob
        best = max(alive, key=lambda i: (float(lp[i, j]), -i))
        alive = [i for i in alive if seqs[i][j] == seqs[best][j]]
    return alive[0]


HELD_FIELDS = ("description", "analysis")
MAX_HELD = 256  # sentences kept per field (the most frequent): each is one row of a batched pass


def answer_bank(answers: Iterable[str]) -> dict[str, list[str]]:
    """The sentences of training answers ("Judgement: x. Description: y. Analysis: z.") per free
    field: each field's distinct values without the closing period, the most frequent first (the
    first seen first on a tie), at most MAX_HELD; fields no answer has are left out."""
    counts: dict[str, Counter] = {f: Counter() for f in HELD_FIELDS}
    for text in answers:
        for field, _, value_start, end in field_spans(text):
            value = text[value_start:end].strip().rstrip(".").strip()
            if field in counts and value:
                counts[field][value] += 1
    return {f: [s for s, _ in c.most_common(MAX_HELD)] for f, c in counts.items() if c}


def held_summary(
    model: VAGPT,
    sample: Sample,
    judgement: str,
    kind: str,
    bank: dict[str, list[str]],
    prompt: torch.Tensor | None = None,
) -> str | None:
    """The summary in the training answers' format, "Judgement: <judgement>. Description: <d>.
    Analysis: <a>.", with d, then a, chosen by greedy decoding held to the bank's sentences
    (`greedy_choice`, after the forced judgement; the analysis after the chosen description) among
    those that name no kind other than `kind`, and among those that name `kind` itself where a
    field has some. None when the bank cannot say it: a field without
    such a sentence, or an anomaly `kind` that none of its sentences names (a kind the model was
    never trained to describe: "people walk along the street" would be all it could say).
    `prompt`: the sample's `prompt_embeds` when already computed (else computed once here)."""
    ok = {f: [s for s in bank.get(f, []) if not contradictions(s, kind)] for f in HELD_FIELDS}
    if not all(ok.values()):
        return None
    naming = {f: [s for s in ok[f] if kind in {k for k, _ in kind_mentions(s)}] for f in HELD_FIELDS}
    if kind != NORMAL and not any(naming.values()):
        return None
    # As summary_quality prefers a beam that names its own kind: where some sentence of a field
    # names the judgement's kind, the field is held to those ("people running in panic suggests
    # danger" for running, not "fire puts people in danger", which names no kind either).
    ok = {f: naming[f] or ok[f] for f in HELD_FIELDS}
    if prompt is None and max(len(v) for v in ok.values()) > 1:
        prompt = prompt_embeds(model, sample)  # one vision pass for both choices
    head = f"Judgement: {judgement}. Description:"
    ds = ok["description"]
    d = ds[greedy_choice(model, sample, [f"{head} {s}. Analysis:" for s in ds], prompt)]
    head = f"{head} {d}. Analysis:"
    analyses = ok["analysis"]
    return f"{head} {analyses[greedy_choice(model, sample, [f'{head} {s}.' for s in analyses], prompt)]}."


def generate_after(model: VAGPT, samples: list[Sample], prefixes: list[str], **options) -> list[str]:
    """The best continuation of each sample's answer after its forced `prefix`
    (`generate_candidates`' first beam; `options` are its keyword arguments)."""
    return [c[0] for c in generate_candidates(model, samples, prefixes, **options)]


# What free text never writes: the word "judgement" (a second "Judgement:", or the word left
# behind when only "Judgement:" was banned: "Analysis: Judgement."), and "(" or ")", which in the
# LLM's training data only mark a multiple-choice option ("(C) from 2.0s to 5.0s"); without the
# ban an analysis could read "(D abnormal anomaly in this video" or "people alongB) bag".
FREE_TEXT_BANNED: tuple[str, ...] = ("judgement", "(", ")")


def _banned_ids(model: VAGPT, banned: tuple[str, ...]) -> list[list[int]] | None:
    """Token sequences of each banned text as it can appear: with and without a leading space,
    as written and capitalised."""
    forms = {f for t in banned for v in (t, t[:1].upper() + t[1:]) for f in (v, " " + v)}
    return [_ids(model, f) for f in sorted(forms)] or None


@torch.no_grad()
def generate_candidates(
    model: VAGPT,
    samples: list[Sample],
    prefixes: list[str],
    max_new_tokens: int = 64,
    no_repeat_ngram_size: int = 4,
    repetition_penalty: float = 1.2,
    num_beams: int = 1,
    banned: tuple[str, ...] = FREE_TEXT_BANNED,
) -> list[list[str]]:
    """The continuations of each sample's answer after its forced `prefix`, every finished beam
    best first ([B][num_beams]; left-padded batch, `llm.generate` on inputs_embeds; greedy, or
    beam search with num_beams > 1). The prefix is embedded as the answer's first tokens, so
    what follows is conditioned on it. `banned`: texts the continuation never writes (with and
    without a leading space, as written and capitalised: by default FREE_TEXT_BANNED)."""
    if len(samples) != len(prefixes):
        raise ValueError(f"{len(samples)} samples but {len(prefixes)} prefixes")
    emb = model.llm.get_input_embeddings()
    seqs = []
    for s, p in zip(samples, prefixes):
        ids = torch.tensor(_ids(model, " " + p.strip()), dtype=torch.long, device=model.device)
        seqs.append(torch.cat([prompt_embeds(model, s), emb(ids)]))
    L, H = max(len(e) for e in seqs), seqs[0].shape[-1]
    embeds = seqs[0].new_zeros(len(seqs), L, H)
    mask = torch.zeros(len(seqs), L, dtype=torch.long, device=model.device)
    for b, e in enumerate(seqs):
        embeds[b, L - len(e) :], mask[b, L - len(e) :] = e, 1
    if L + max_new_tokens > model.config.llm.max_position:
        max_new_tokens = max(1, model.config.llm.max_position - L)
    with warnings.catch_warnings():  # the penalties apply to the new tokens only: that is the intent here
        warnings.filterwarnings("ignore", message=r".*with `inputs_embeds` and without `input_ids`.*")
        out = model.llm.generate(
            inputs_embeds=embeds,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=num_beams,
            num_return_sequences=num_beams,
            no_repeat_ngram_size=no_repeat_ngram_size,
            repetition_penalty=repetition_penalty,
            bad_words_ids=_banned_ids(model, banned),
            pad_token_id=model.tokenizer.pad_token_id,
            eos_token_id=model.tokenizer.eos_token_id,
            bos_token_id=model.tokenizer.bos_token_id,
        )  # [B * num_beams, new]: with inputs_embeds only, generate returns just the new tokens
    texts = [t.strip() for t in model.tokenizer.batch_decode(out, skip_special_tokens=True)]
    return [texts[b * num_beams : (b + 1) * num_beams] for b in range(len(samples))]


_MARK = re.compile(r"\b(judgement|judgment|description|analysis)\s*:", re.IGNORECASE)


def field_spans(text: str) -> list[tuple[str | None, int, int, int]]:
    """`text` cut at its field marks -> [(field, start, value_start, end)] in order: first the part
    before any mark (field None, start == value_start, possibly empty), then one span per mark,
    from the mark to the next one ("judgment" spelled "judgement")."""
    marks = list(_MARK.finditer(text))
    ends = [m.start() for m in marks] + [len(text)]
    spans: list[tuple[str | None, int, int, int]] = [(None, 0, 0, ends[0])]
    for m, end in zip(marks, ends[1:]):
        spans.append((m.group(1).lower().replace("judgment", "judgement"), m.start(), m.end(), end))
    return spans


def cut_repeated_fields(text: str) -> str:
    """`text` cut before a field mark ("Judgement:", "Description:", "Analysis:") that already
    occurred: one value per field, as the describe stage's parser reads it."""
    seen: set[str] = set()
    for m in _MARK.finditer(text):
        key = m.group(1).lower().replace("judgment", "judgement")
        if key in seen:
            return text[: m.start()].rstrip(" ,;:")
        seen.add(key)
    return text


def _words(text: str) -> list[str]:
    return [w.lower().strip(".,;:!?") for w in _WORD.findall(text)]


def max_ngram_repeats(text: str, n: int = 4) -> int:
    """The most times any word n-gram occurs in `text` (case and edge punctuation ignored); 0 when
    the text has fewer than n words, 1 when no n-gram repeats."""
    w = _words(text)
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(w) - n + 1):
        g = tuple(w[i : i + n])
        counts[g] = counts.get(g, 0) + 1
    return max(counts.values(), default=0)


# A multiple-choice answer ("(C)", "D)") or a lone ")" glued after a sentence's end: the small
# LLM was also trained on letter answers and sometimes appends one to a description.
_STRAY = re.compile(r"(?<=[.!?])\s*(?:\(?[A-J]\)|\))")


def cut_stray_marks(text: str) -> str:
    """`text` without the stray answer letters or ")" that follow a sentence end:
    "runs away.D) Analysis: x." -> "runs away. Analysis: x."; the rest is unchanged."""
    return _STRAY.sub("", text).replace("  ", " ").strip()


def cut_repeats(text: str, n: int = 4) -> str:
    """`text` cut before the first word n-gram that already occurred (then stripped of a dangling
    separator): the result repeats no n-gram."""
    spans = [m.span() for m in _WORD.finditer(text)]
    w = _words(text)
    seen: set[tuple[str, ...]] = set()
    for i in range(len(w) - n + 1):
        g = tuple(w[i : i + n])
        if g in seen:
            return text[: spans[i][0]].rstrip(" ,;:")
        seen.add(g)
    return text


# -- when ---------------------------------------------------------------------------------------


def when(start_s: float, end_s: float) -> str:
    """ "It happens from 6.5s to 9.0s" (0.1 s grid): how the instruction data's descriptions say when."""
    return f"It happens from {round(float(start_s) * 10) / 10:.1f}s to {round(float(end_s) * 10) / 10:.1f}s"


_SECONDS = re.compile(r"\b\d+(?:\.\d+)?\s?s\b")


def with_when(text: str, start_s: float, end_s: float) -> str:
    """`text` whose description says when: `when(start_s, end_s)` added at the description's end
    unless it already gives a time in seconds; a text without a description is returned as is.
    The times are the interval's (the detector's), which the describe stage was asked about."""
    for field, _, value_start, end in field_spans(text):
        if field != "description":
            continue
        body = text[value_start:end].strip()
        if not body or _SECONDS.search(body):
            return text
        body = body.rstrip(" .;,") + f". {when(start_s, end_s)}."
        rest = text[end:].strip()
        return f"{text[:value_start]} {body}" + (f" {rest}" if rest else "")
    return text


# -- consistency with the judgement ------------------------------------------------------------
#
# A 4-layer LLM trained for minutes does not tie its description to the forced judgement
# ("Judgement: explosion. Description: Nothing abnormal runs away."). The shared taxonomy's
# synonyms say which words name which kind, so a continuation that names another kind than its
# judgement is caught by its words, and decoded again with those words banned.

_SENTENCE = re.compile(r"[^.!?;]+[.!?;]?")


def contradictions(text: str, kind: str) -> list[str]:
    """The words in `text` that name a kind other than `kind` (va_gpt.taxonomy.kind_mentions),
    in order: for a judgement of "normal" any anomaly kind, for an anomaly kind "normal"
    ("nothing abnormal") or any other kind."""
    return [words for k, words in kind_mentions(text) if k != kind]


def drop_contradicting(text: str, kind: str) -> str:
    """`text` without its sentences (and field values) that name another kind than `kind`: the
    last resort when every decoding contradicted its judgement. Field marks stay, so
    "Description: Nothing abnormal runs away. Analysis: x." -> "Description: Analysis: x."."""
    parts = []
    pos = 0
    for m in list(_MARK.finditer(text)) + [None]:
        end = m.start() if m is not None else len(text)
        chunk = text[pos:end]
        kept = "".join(s for s in _SENTENCE.findall(chunk) if not contradictions(s, kind))
        parts.append(kept.strip())
        if m is not None:
            parts.append(m.group(0))
            pos = m.end()
    return " ".join(p for p in parts if p)


MIN_FIELD_WORDS = 3  # a description or analysis shorter than this was cut off, not written


def drop_stub_fields(text: str) -> str:
    """`text` without the description or analysis fields whose value has fewer than
    MIN_FIELD_WORDS words (mark and value): "... behind. Analysis: an." -> "... behind.". A field
    the LLM cut off after a word or two says nothing and reads as broken; the judgement stays."""
    spans = field_spans(text)
    if len(spans) == 1:
        return text
    kept = [
        text[start:end]
        for field, start, value_start, end in spans
        if field in (None, "judgement") or len(_words(text[value_start:end])) >= MIN_FIELD_WORDS
    ]
    return " ".join(p.strip() for p in kept if p.strip())


def summary_quality(text: str, kind: str) -> tuple[bool, bool]:
    """How well a continuation that names no other kind reads as its judgement's summary:
    (it names its own kind, it has an analysis and each field has at least MIN_FIELD_WORDS
    words). A beam further down that names the kind beats the first that does not ("a group of
    people suddenly runs away" after "Judgement: running" over "a group of people walk by"), and
    one whose analysis was cut to "an." loses to a whole one. For "normal", naming no kind at
    all counts as naming it."""
    names = kind in {k for k, _ in kind_mentions(text)} or (kind == NORMAL and not kind_mentions(text))
    spans = field_spans(text)
    whole = len(spans) > 1 and all(len(_words(text[v:e])) >= MIN_FIELD_WORDS for _, _, v, e in spans)
    return names, whole


def consistent_after(
    model: VAGPT,
    samples: list[Sample],
    prefixes: list[str],
    kinds: list[str],
    clean=lambda text: text,
    retries: int = 2,
    **gen,
) -> list[str]:
    """The whole answer (prefix + continuation, through `clean`) per sample, naming no kind but
    its judgement `kinds[i]`. Of the beams that name no other kind, the first with the best
    `summary_quality` (names its own kind, has a whole analysis); while no beam so far is both,
    the sample is decoded again alone with every contradicting word seen so far banned, up to
    `retries` times, and the best over all attempts is kept (an earlier attempt's on a tie: bans
    can break a sentence). When no beam of any attempt avoids another kind: the first beam with
    its contradicting sentences dropped (`drop_contradicting`). `gen`: generate_candidates'
    options (`banned` is extended, not replaced)."""
    if not (len(samples) == len(prefixes) == len(kinds)):
        raise ValueError(f"{len(samples)} samples, {len(prefixes)} prefixes, {len(kinds)} kinds")
    base = tuple(gen.pop("banned", FREE_TEXT_BANNED))
    out: list[str | None] = [None] * len(samples)
    quality: list[tuple[bool, bool] | None] = [None] * len(samples)
    bans: list[dict[str, str]] = [{} for _ in samples]  # per sample: lower-cased word -> as written
    best: list[str] = [""] * len(samples)
    todo = list(range(len(samples)))
    used = [0] * len(samples)  # how many of its banned words sample i's last attempt had
    for attempt in range(retries + 1):
        for i in todo:
            used[i] = len(bans[i]) if attempt else 0
        groups = [todo] if attempt == 0 else [[i] for i in todo]  # own bans: one sample per call
        for group in groups:
            cands = generate_candidates(
                model,
                [samples[i] for i in group],
                [prefixes[i] for i in group],
                banned=base + (tuple(bans[group[0]].values()) if attempt else ()),
                **gen,
            )
            for i, cs in zip(group, cands):
                texts = [clean(f"{prefixes[i]} {c}".strip()) for c in cs]
                if attempt == 0:
                    best[i] = texts[0]
                for t in texts:  # beam order: the first of equal quality wins
                    tail = t[len(prefixes[i]) :]
                    bad = contradictions(tail, kinds[i])
                    for w in bad:
                        bans[i].setdefault(w.lower(), w)
                    q = None if bad else summary_quality(tail, kinds[i])
                    if q is not None and (quality[i] is None or q > quality[i]):
                        out[i], quality[i] = t, q
        # again only where a better beam is missing and a new word can be banned
        todo = [i for i in todo if quality[i] != (True, True) and len(bans[i]) > used[i]]
        if not todo:
            break
    for i, text in enumerate(out):
        if text is None:
            head, tail = best[i][: len(prefixes[i])], best[i][len(prefixes[i]) :]
            out[i] = f"{head} {drop_contradicting(tail, kinds[i])}".strip()
    return out  # type: ignore[return-value] - every entry is set by now

"""Tokenizers: a byte-level BPE trained on the fly (small presets) or a real one extended (7B).

Small presets have no pretrained tokenizer on these machines, so one is
trained with the `tokenizers` library on the instruction corpus and wrapped as
a transformers `PreTrainedTokenizerFast`; it is saved with the checkpoint
(`save_pretrained`) and loaded back with `AutoTokenizer.from_pretrained`
(va_gpt.checkpoints).

Special tokens, as single ids never split by BPE: <pad> <s> </s> <unk>, the
visual markers <image> <frame> </frame>, and the TETG score buckets
<score_0> ... <score_{n-1}> (their embedding rows are trained).
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from va_gpt.ops.tetg import score_tokens

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
MARKERS = ["<image>", "<frame>", "</frame>"]


def extra_special_tokens(num_buckets: int) -> list[str]:
    """Markers and score buckets: the special tokens beyond pad/bos/eos/unk."""
    return MARKERS + score_tokens(num_buckets)


def default_corpus() -> list[str]:
    """A small deterministic instruction-style corpus, enough to train a usable tiny BPE.

    Real training passes the VA-Instruction texts instead (`tokenizer_texts`).
    """
    words = (
        "normal abnormal anomaly event video frame camera street road car person people crowd "
        "fight fighting assault robbery shooting explosion arson fire accident road accident vandalism "
        "burglary stealing shoplifting abuse arrest riot running falling smoke the a an is are was "
        "in on at of to and with from between during before after seconds time when where what why "
        "judgement description analysis yes no there happens happened because suddenly"
    ).split()
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 6)]
    for i in range(0, 200):
        t = i * 0.5
        lines.append(
            f"<frame {t:.1f}s> anomaly scores: {t:.1f}s:{(i % 100) / 100:.2f} ; high: {t:.1f}-{t + 2:.1f}s"
        )
    for a in words[:40]:
        lines.append(
            f"Judgement: {a}. Description: a {a} event in the video. Analysis: the {a} happens at 3.5s."
        )
        lines.append(f"USER: When does the {a} happen? ASSISTANT: between {len(a)}.0s and {len(a) + 3}.5s.")
    return lines


def train_tokenizer(texts: Iterable[str], vocab_size: int, num_buckets: int):
    """Train a byte-level BPE on `texts` -> transformers PreTrainedTokenizerFast.

    The vocabulary holds at most `vocab_size` entries (fewer when the corpus is
    small); the special tokens come first, so <pad> is 0, <s> 1, </s> 2, <unk> 3.
    """
    extras = extra_special_tokens(num_buckets)
    specials = [PAD, BOS, EOS, UNK] + extras
    if vocab_size < 256 + len(specials):
        raise ValueError(
            f"vocab_size {vocab_size} is too small for 256 byte tokens + {len(specials)} specials"
        )
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        extra_special_tokens=extras,
    )


def ensure_special_tokens(tokenizer, num_buckets: int) -> int:
    """Add the markers, score buckets and a pad token to a loaded tokenizer (e.g. Vicuna's).

    Returns how many tokens were added; the caller resizes the LLM's embeddings.
    """
    have = set(tokenizer.get_vocab())
    missing = [x for x in extra_special_tokens(num_buckets) if x not in have]
    added = tokenizer.add_special_tokens(
        {"extra_special_tokens": missing}, replace_extra_special_tokens=False
    )
    if tokenizer.pad_token is None:
        added += tokenizer.add_special_tokens({"pad_token": PAD})
    return added

"""The small presets' language model: a random-initialised Llama with a BPE trained on the fly.

Presets whose `llm.source` is null have no pretrained LLM on these machines:
`random_llm` trains a byte-level BPE on the prompts, a default corpus and the
run's texts, and builds a LlamaForCausalLM of the preset's size around it.
Loading a pretrained LLM (`llm.source` set) is va_gpt.checkpoints.build.
"""

from __future__ import annotations

from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from va_gpt.config import Preset
from va_gpt.models.tokenizer import default_corpus, train_tokenizer
from va_gpt.models.vagpt import SYSTEM_PROMPT


def tokenizer_corpus(extra: list[str] | None = None) -> list[str]:
    """The texts a small preset's tokenizer is trained on: prompts + default corpus + `extra`."""
    return [SYSTEM_PROMPT, "ASSISTANT:", *default_corpus(), *(extra or [])]


def random_llm(
    preset: Preset, tokenizer_texts: list[str] | None = None
) -> tuple[PreTrainedTokenizerFast, LlamaForCausalLM]:
    """(tokenizer, llm) for a preset whose llm.source is null: a fresh BPE and a random Llama
    (float32, CPU; the caller seeds the RNG and moves it to the run-time device and dtype)."""
    cfg = preset.llm
    tok = train_tokenizer(tokenizer_corpus(tokenizer_texts), cfg.vocab_size, preset.tetg.num_buckets)
    hf = LlamaConfig(
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        vocab_size=max(cfg.vocab_size, len(tok)),
        max_position_embeddings=cfg.max_position,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    return tok, LlamaForCausalLM(hf)

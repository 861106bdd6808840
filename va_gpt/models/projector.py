"""Projector: vision features -> LLM input embeddings.

- ``mlp2x_gelu``: LLaVA-1.5's Linear -> GELU -> Linear.
- ``linear``: one Linear (LLaVA-1.0).

Both map [..., vision_hidden] -> [..., llm_hidden]; the state-dict keys are
those of the nn.Sequential ("0.weight", "0.bias", "2.weight", ...), stable
across saves.
"""

from __future__ import annotations

from torch import nn

KINDS = ("mlp2x_gelu", "linear")


def build_projector(kind: str, vision_hidden: int, llm_hidden: int) -> nn.Sequential:
    """A projector of `kind` from `vision_hidden` to `llm_hidden` features."""
    if kind == "mlp2x_gelu":
        return nn.Sequential(
            nn.Linear(vision_hidden, llm_hidden), nn.GELU(), nn.Linear(llm_hidden, llm_hidden)
        )
    if kind == "linear":
        return nn.Sequential(nn.Linear(vision_hidden, llm_hidden))
    raise ValueError(f"projector kind must be one of {KINDS}, got {kind!r}")

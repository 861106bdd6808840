"""Checkpoint tests: a private fetch cache per test, and one tiny VA-GPT per module."""

from __future__ import annotations

import pytest

from va_gpt.checkpoints.build import from_preset
from va_gpt.config import load_preset

PRESET = load_preset("tiny")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAGPT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def model():
    """The tiny preset's VA-GPT (random, seed 3)."""
    return from_preset(PRESET, seed=3).eval()

"""DeepSpeed that cannot start is an error unless a plain-torch fallback is asked for; a trainer
state is never fully unpickled (it may come from any URL)."""

from __future__ import annotations

import argparse
import io

import pytest
import torch

from tests.train.test_train import archive, dataset, fresh_model  # noqa: F401 - the fixtures
from va_gpt.train import vagpt as vagpt_train
from va_gpt.train.config import TrainConfig, TrainError
from va_gpt.train.state import _load_state
from va_gpt.train.vagpt import train

DS = "infra/deepspeed/zero2.json"


@pytest.mark.timeout(300)
def test_deepspeed_that_cannot_start_is_an_error_unless_fallback_allowed(dataset, tmp_path, monkeypatch):  # noqa: F811
    def no_deepspeed(*a, **k):
        raise RuntimeError("no accelerator for DeepSpeed here")

    monkeypatch.setattr(vagpt_train, "deepspeed_engine", no_deepspeed)
    cfg = TrainConfig(stage=1, steps=1, lr=1e-2, batch_size=2, log_every=1, deepspeed=DS)
    with pytest.raises(TrainError, match="--allow-plain-fallback") as info:
        train(fresh_model(dataset), dataset, cfg, out=str(tmp_path / "a"))
    assert "no accelerator" in str(info.value)
    ok = TrainConfig(
        stage=1, steps=1, lr=1e-2, batch_size=2, log_every=1, deepspeed=DS, allow_plain_fallback=True
    )
    res = train(fresh_model(dataset), dataset, ok, out=str(tmp_path / "b"))
    assert "DeepSpeed failed to start" in res.backend and len(res.losses) == 1


@pytest.mark.timeout(60)
def test_trainer_state_is_read_weights_only():
    buf = io.BytesIO()
    torch.save({"step": 3, "w": torch.ones(2)}, buf)
    assert _load_state(buf.getvalue(), "x")["step"] == 3
    evil = io.BytesIO()
    torch.save({"step": 3, "ns": argparse.Namespace(a=1)}, evil)  # any non-DeepSpeed global
    with pytest.raises(TrainError, match="refusing to unpickle.*argparse.Namespace"):
        _load_state(evil.getvalue(), "s3://models/x/trainer_state.pt")

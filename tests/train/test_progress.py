"""A long training loop says how far it is (va_gpt.train.progress), without changing what it learns."""

from __future__ import annotations

import logging

import pytest
import torch

from tests.train.test_classifier import CFG, crafted_videos
from va_gpt.train.classifier import TrainConfig, train_classifier
from va_gpt.train.progress import Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_logs_once_per_interval_and_after_the_last_step(caplog):
    clock = Clock()
    p = Progress("member seed 3", steps=10, every_s=60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="va_gpt.train.progress"):
        for step in range(10):
            clock.now += 25.0  # a step every 25 s: lines at 75, 150 and 225 s, and the last at 250 s
            p.tick(step, torch.tensor(0.5 - 0.01 * step))
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(",")[0] for line in lines] == [f"member seed 3: step {k} of 10" for k in (3, 6, 9, 10)]
    assert lines[0] == "member seed 3: step 3 of 10, loss 0.4800, 1.2 min so far, about 2.9 min left"
    assert lines[-1].startswith(
        "member seed 3: step 10 of 10, loss 0.4100, 4.2 min so far, about 0.0 min left"
    )


@pytest.mark.timeout(60)
def test_classifier_training_logs_its_progress_and_learns_the_same_weights(caplog):
    f, y, _ = crafted_videos(12, seed=0)
    with caplog.at_level(logging.INFO, logger="va_gpt.train.progress"):
        every = train_classifier(f, y, CFG, TrainConfig(steps=6, seed=2, progress_s=0.0))
    steps = [r.getMessage() for r in caplog.records if r.name == "va_gpt.train.progress"]
    assert [s.split(",")[0] for s in steps] == [
        f"classifier seed 2 (MIL): step {k} of 6" for k in range(1, 7)
    ]
    quiet = train_classifier(f, y, CFG, TrainConfig(steps=6, seed=2))
    for a, b in zip(every.state_dict().values(), quiet.state_dict().values()):
        assert torch.equal(a, b)

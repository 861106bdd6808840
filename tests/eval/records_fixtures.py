"""Instruction records over a tiny rendered archive, and a sample builder for them, for the QA and
ablation tests: two 6 s videos, one fight each, scored by a rising curve instead of a classifier."""

from __future__ import annotations

import numpy as np

from va_gpt.config import load_preset
from va_gpt.data.instruct.make import synthetic_records
from va_gpt.synthetic.archive import generate_archive
from va_gpt.train.samples import SampleBuilder, ScoreCache


def tiny_records(tmp_path, tasks: tuple[str, ...]):
    """(the tiny preset, the test split's records of `tasks`, a SampleBuilder that reads them)."""
    preset = load_preset("tiny")
    truth = generate_archive(
        str(tmp_path / "videos"), cameras=1, videos_per_camera=2, duration_s=6.0, width=96, height=64, fps=10.0,
        anomaly_kinds=("fighting",), normal_fraction=0.0, seed=4,
    )  # fmt: skip
    recs = synthetic_records(truth, "test", tasks=tasks)
    curves = {truth.video_url(v.key): (np.arange(0, 6, 0.5), np.linspace(0, 1, 12)) for v in truth.videos}
    return preset, recs, SampleBuilder(preset, scores=ScoreCache(curves))

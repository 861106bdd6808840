"""Classifier members trained side by side in forked processes (TrainConfig.processes).

Fork, not spawn: the workers read the training data the parent already holds (copy on write)
and need no pickling of it; each returns its member as torch.save bytes (a tiny model). A
worker's error is raised in the caller with its message. A worker that dies without a result
(the kernel killed it for memory) raises MemberProcessDied: a multiprocessing.Pool waited for
ever on such a worker, and a 2000-video build hung that way (2026-12-05).
"""

from __future__ import annotations

import io
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from va_gpt.train.workers import exit_with_parent


class MemberProcessDied(RuntimeError):
    """A forked member-training process ended without a result (the kernel killed it)."""


# The member-training call a forked worker runs: set just before the pool forks, so the workers
# inherit it (with the training data) instead of receiving gigabytes of patches through a pipe.
_MEMBER: Callable[..., torch.nn.Module] | None = None


def _train_member(train: Any) -> bytes:
    """In a forked worker: one member, returned as torch.save bytes."""
    assert _MEMBER is not None
    # before any torch op: an OpenMP pool the parent had running does not survive the fork
    torch.set_num_threads(train.threads or 1)
    buf = io.BytesIO()
    torch.save(_MEMBER(train=train), buf)
    return buf.getvalue()


def train_members(
    member: Callable[..., torch.nn.Module], runs: list, processes: int
) -> list[torch.nn.Module]:
    """member(train=run) for every run (a TrainConfig each), `processes` at a time in forked
    workers, in order; processes <= 1: in this process, one after another."""
    processes = min(processes, len(runs))
    if processes <= 1:
        return [member(train=run) for run in runs]
    global _MEMBER
    _MEMBER = member
    ctx = multiprocessing.get_context("fork")
    try:
        # exit_with_parent: a killed job must not leave its members training
        with ProcessPoolExecutor(processes, mp_context=ctx, initializer=exit_with_parent) as pool:
            blobs = list(pool.map(_train_member, runs))
    except BrokenProcessPool as e:
        raise MemberProcessDied(
            f"a process training a classifier member died ({len(runs)} members, {processes} at a time): "
            "killed for memory? Nothing was saved; train fewer at once (processes) or on fewer videos"
        ) from e
    finally:
        _MEMBER = None
    return [torch.load(io.BytesIO(b), weights_only=False) for b in blobs]

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
from concurrent.futures import ProcessPoolExecutor, as_completed
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
    member: Callable[..., torch.nn.Module],
    runs: list,
    processes: int,
    done: Callable[[int, torch.nn.Module], None] | None = None,
) -> list[torch.nn.Module]:
    """member(train=run) for every run (a TrainConfig each), `processes` at a time in forked
    workers, returned in order; processes <= 1: in this process, one after another. done(i,
    model), when given, is called in this process as soon as run i's member is trained (before a
    later member's error is raised): the caller keeps it (va_gpt.train.member_cache)."""
    processes = min(processes, len(runs))
    if processes <= 1:
        models = []
        for i, run in enumerate(runs):
            models.append(member(train=run))
            if done is not None:
                done(i, models[-1])
        return models
    global _MEMBER
    _MEMBER = member
    ctx = multiprocessing.get_context("fork")
    models: dict[int, torch.nn.Module] = {}
    try:
        # exit_with_parent: a killed job must not leave its members training
        with ProcessPoolExecutor(processes, mp_context=ctx, initializer=exit_with_parent) as pool:
            futures = {pool.submit(_train_member, run): i for i, run in enumerate(runs)}
            error = None
            for fut in as_completed(futures):
                try:
                    blob = fut.result()
                except BrokenProcessPool:
                    raise
                except Exception as e:  # a member's own error (or a cancelled one after it)
                    if error is None:
                        error = e
                        for other in futures:  # the ones not started never start; the running
                            other.cancel()  # ones finish and are kept (done) before it is raised
                    continue
                i = futures[fut]
                models[i] = torch.load(io.BytesIO(blob), weights_only=False)
                if done is not None:
                    done(i, models[i])
            if error is not None:
                raise error
    except BrokenProcessPool as e:
        raise MemberProcessDied(
            f"a process training a classifier member died ({len(runs)} members, {processes} at a time, "
            f"{len(models)} finished before it): killed for memory? Train fewer at once (processes) "
            "or on fewer videos"
        ) from e
    finally:
        _MEMBER = None
    return [models[i] for i in range(len(runs))]

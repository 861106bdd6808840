"""Finished classifier ensemble members kept on disk, keyed by everything their weights depend on.

Why: a member of the demo recipe trains for half an hour or more on a 2-core machine, three of
them two at a time; a build cut off by the end of a working session (or a killed job) lost every
member it had finished, though the rendered videos were kept (va_gpt.train.dataset_cache).
`train_classifier(..., member_cache=DIR)` writes each member to DIR as soon as it is trained and
takes it from there next time, when all of this is the same (`member_key`):

- the training rows, by content: features, labels, frame labels, kinds, per-patch evidence and
  event patches (sha256, about 1 GB/s here: seconds against the minutes a member takes);
- the member's classifier config and grid, and its TrainConfig (seed included) without the
  fields that do not change the weights (processes, progress_s);
- the training code (va_gpt/train/classifier.py, va_gpt/models/classifier.py) and the torch and
  numpy versions.

A member is its state_dict in a safetensors file like every checkpoint of the project (no pickled
code: a cache folder is data), with the seconds it took to train in the file's metadata (so a
build that takes it from here can still say what its training cost), written atomically
(va_gpt.io.filesystem.write_bytes) and loaded with its names and shapes checked
(va_gpt.checkpoints.tensors.load_state_file). A file that does not load or does not fit the model
is named in a warning, trained again and replaced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from va_gpt.checkpoints.fetch import CheckpointError
from va_gpt.checkpoints.tensors import load_state_file
from va_gpt.io.filesystem import write_bytes
from va_gpt.models.classifier import AnomalyClassifier
from va_gpt.train.dataset_cache import source_hash
from va_gpt.train.members import train_members

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
_CODE_FILES = (
    "train/classifier.py",
    "train/classifier_losses.py",
    "train/schedule.py",
    "models/classifier.py",
)
# TrainConfig fields that change how a member is trained, not what it learns
_NOT_WEIGHTS = ("processes", "progress_s")
# TrainConfig fields added after members were first kept, with the value that trains as before:
# at that value a field stays out of the name, so the members kept before it keep theirs
_ADDED_LATER = {"cosine_lr": False, "focal_gamma": 0.0}


def rows_hash(*columns: Sequence | None) -> str:
    """sha256 over lists of per-video arrays (or scalars / None), column by column, with each
    array's dtype and shape, so the same values in another layout hash apart."""
    h = hashlib.sha256()
    for col in columns:
        if col is None:
            h.update(b"|none")
            continue
        h.update(f"|{len(col)}".encode())
        for v in col:
            if v is None or isinstance(v, (str, int, float, bool)):
                h.update(repr(v).encode())
                continue
            a = np.ascontiguousarray(v.numpy() if isinstance(v, torch.Tensor) else v)
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def member_key(data: str, cfg, grid) -> dict:
    """What every member trained on `data` (rows_hash) with classifier config `cfg` depends on,
    but for its TrainConfig (MemberCache.path adds it)."""
    return {
        "format": CACHE_FORMAT,
        "data": data,
        "classifier": dataclasses.asdict(cfg),
        "grid": list(grid) if grid else None,
        "code": source_hash(_CODE_FILES),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


def in_data_cache(data_cache) -> Path | None:
    """Where the members of a run with a data cache (va_gpt.train.dataset_cache) are kept: its
    `members/` folder; None without one."""
    return None if data_cache is None else Path(data_cache) / "members"


class MemberCache:
    """The members of one member_key in folder `root`; `shape` (in_features, cfg, patch_features,
    grid) makes an untrained member to load kept weights into."""

    def __init__(self, root: str | Path, key: dict, shape: tuple):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.key = json.dumps(key, sort_keys=True, default=str)
        self.shape = shape
        self.hits = 0

    @classmethod
    def of_rows(cls, root, cfg, grid, features, labels, frame_labels, kinds, patches, patch_labels):
        """The cache in `root` for members with config `cfg` trained on these rows (train_classifier's
        arguments; hashed once here, in the parent: the members only see the tensors); root None: None."""
        if root is None:
            return None
        data = rows_hash(features, labels, frame_labels, kinds, patches, patch_labels)
        fp = np.shape(patches[0])[-1] if patches is not None and cfg.patch_hidden else 0
        return cls(root, member_key(data, cfg, grid), (np.shape(features[0])[-1], cfg, fp, grid))

    def fresh(self) -> AnomalyClassifier:
        """An untrained member of the right shape (drawn off the global generator, which is left as it was)."""
        in_features, cfg, fp, grid = self.shape
        with torch.random.fork_rng(devices=[]):
            return AnomalyClassifier(in_features, cfg, patch_features=fp, grid=grid)

    def path(self, train) -> Path:
        run = {
            k: v
            for k, v in dataclasses.asdict(train).items()
            if k not in _NOT_WEIGHTS and (k not in _ADDED_LATER or v != _ADDED_LATER[k])
        }
        digest = hashlib.sha256(f"{self.key}|{json.dumps(run, sort_keys=True)}".encode()).hexdigest()[:32]
        return self.root / f"member-seed{train.seed}-{digest}.safetensors"

    def load(self, train) -> AnomalyClassifier | None:
        """The member of run `train` with its kept weights (and `train_seconds`, the seconds it
        took to train, None for a file kept before they were), or None when there are none or
        they do not load (reported, then trained again)."""
        path = self.path(train)
        if not path.is_file():
            return None
        model = self.fresh()
        try:
            load_state_file(path, model, f"classifier member cache {path}")
            with safe_open(str(path), "pt") as f:
                seconds = (f.metadata() or {}).get("train_seconds")
        except (CheckpointError, OSError) as e:
            log.warning("%s; training the member again", e)
            return None
        self.hits += 1
        model.train_seconds = float(seconds) if seconds is not None else None
        return model.eval()

    def save(self, train, model: torch.nn.Module) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        seconds = getattr(model, "train_seconds", None)
        meta = None if seconds is None else {"train_seconds": f"{seconds:.1f}"}
        write_bytes(str(self.path(train)), safetensors_bytes(state, metadata=meta))


def _timed(member: Callable[..., torch.nn.Module]) -> Callable[..., torch.nn.Module]:
    """member, with the seconds each call took kept on the model it returns (`train_seconds`: an
    attribute, so it travels with the model out of a forked worker)."""

    def run(train):
        t0 = time.monotonic()
        model = member(train=train)
        model.train_seconds = round(time.monotonic() - t0, 1)
        return model

    return run


def trained_members(
    member: Callable[..., torch.nn.Module],
    runs: list,
    processes: int,
    cache: MemberCache | None,
) -> list[torch.nn.Module]:
    """train_members(member, runs, processes), but every run whose member `cache` keeps is taken
    from there, and every member trained is kept as soon as it is done. Each member returned
    carries `train_seconds`: what training it took, here or in the run that kept it (None when
    that run did not record it)."""
    kept = {}
    if cache is not None:
        for i, run in enumerate(runs):
            if (model := cache.load(run)) is not None:
                kept[i] = model
    todo = [i for i in range(len(runs)) if i not in kept]
    done = None if cache is None else (lambda j, model: cache.save(runs[todo[j]], model))
    models = dict(zip(todo, train_members(_timed(member), [runs[i] for i in todo], processes, done)))
    if cache is not None:
        print(f"classifier members: {len(kept)} of {len(runs)} from the cache in {cache.root}",
              file=sys.stderr, flush=True)  # fmt: skip
    return [kept[i] if i in kept else models[i] for i in range(len(runs))]

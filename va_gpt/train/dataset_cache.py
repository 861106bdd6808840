"""On-disk chunks of the classifier's rendered and encoded training videos, keyed by what they depend on.

Why: rendering and encoding is half of a classifier build (1000 videos: about 30 minutes on this
project's 2-core machine, 2000: an hour), and every retrain with another loss, recipe step or
member count needs the very same rows again; and a build cut off by the end of a working
session lost every video it had rendered. `classifier_dataset(..., cache=DIR)` writes each chunk
of videos (`CHUNK_VIDEOS`) to DIR as soon as it is done and takes it from there next time.

A chunk's file is named by a hash of everything its rows depend on (`dataset_key`): the videos'
seeds and rendering arguments, the preset sections the evidence reads, the encoder's weights
(by content) and whether it runs in int8 (`runtime.encoder_int8`), the torch thread count, the
torch and numpy versions, and the source code of the renderer, the frame preparation, the
evidence and the encoder (so an edited renderer never serves stale rows). The training code is
not part of it: a classifier-only change reuses the rows. A file that does not load (cut off,
corrupted, another layout) is reported, rendered again and replaced; files are written to a
temporary name and renamed, so a killed build never leaves a half-written chunk under a real name.
Plain npz (no pickles): a cache folder is data, not code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import torch

from va_gpt.io.filesystem import write_bytes

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
# Packages and modules whose code makes the rows: the renderer, the frame preparation and the
# evidence (va_gpt.ops), the decode-side helpers (va_gpt.video), the encoder, and the taxonomy
# (the order of the kinds numbers the event actors' patch classes: synthetic/training.py).
_CODE_DIRS = ("synthetic", "ops", "video")
_CODE_FILES = ("models/dinov2.py", "taxonomy.py")
# Modules in those folders that no row reads, listed here only while that holds: the va_gpt.ops
# modules that only score (intervals, metrics, TETG tokens), which calibration work edits often,
# and the synthetic mp4 encoder (the rows render their scenes in memory, synthetic/training.py)
_NOT_ROWS = ("ops/intervals.py", "ops/metrics.py", "ops/text_metrics.py", "ops/tetg.py", "synthetic/mp4.py")
_ROOT = Path(__file__).resolve().parents[1]  # the va_gpt package


def source_hash(files, functions=()) -> str:
    """sha256 over source files (paths relative to the va_gpt package: each one's path and bytes)
    and then functions (each one's qualified name and source), in the order given."""
    h = hashlib.sha256()
    for f in files:
        h.update(str(f).encode())
        h.update((_ROOT / f).read_bytes())
    for fn in functions:
        h.update(fn.__qualname__.encode())
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()


def _code_hash(functions) -> str:
    files = sorted(
        p for d in _CODE_DIRS for p in (_ROOT / d).rglob("*.py") if str(p.relative_to(_ROOT)) not in _NOT_ROWS
    )
    # the row-making functions live beside training code, so they are hashed one by one
    return source_hash([*(p.relative_to(_ROOT) for p in files), *_CODE_FILES], functions)


def weights_hash(module: torch.nn.Module) -> str:
    """sha256 over a module's parameters and buffers (names, dtypes, shapes, values)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def dataset_key(preset, encoder, args: dict, threads: int, functions) -> dict:
    """What a chunk of classifier_dataset rows depends on (see the module docstring)."""
    return {
        "format": CACHE_FORMAT,
        "args": args,
        # where the weights were read from does not matter, what they are does
        "encoder_config": {k: v for k, v in dataclasses.asdict(preset.encoder).items() if k != "source"},
        "encoder_weights": weights_hash(encoder),
        # the rows are encoded as served: int8 Linear layers when the preset's runtime says so
        "encoder_int8": preset.runtime.encoder_int8,
        "sets": dataclasses.asdict(preset.sets),
        "decode_fps": preset.decode.fps,
        "classifier_inputs": {
            "use_cls": preset.classifier.use_cls,
            "per_patch": bool(preset.classifier.patch_hidden),
            "pixel_maps": preset.classifier.pixel_maps,
        },
        "threads": threads,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "code": _code_hash(functions),
    }


class ChunkCache:
    """The chunk files of one dataset key in folder `root`."""

    def __init__(self, root: str | Path, key: dict):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.key = json.dumps(key, sort_keys=True, default=str)
        self.hits = self.misses = 0

    def path(self, js: range) -> Path:
        digest = hashlib.sha256(f"{self.key}|{js.start}:{js.stop}".encode()).hexdigest()[:32]
        return self.root / f"rows-{js.start:06d}-{js.stop:06d}-{digest}.npz"

    def load(self, js: range, columns: tuple[str, ...]) -> list[dict] | None:
        """The chunk's rows, or None when it is not there or does not load (reported, then rendered again)."""
        path = self.path(js)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                rows = [_row(z, i, columns) for i in range(len(js))]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            log.warning("classifier data cache: %s does not load (%s: %s); rendering its videos again",
                        path, type(e).__name__, e)  # fmt: skip
            self.misses += 1
            return None
        self.hits += 1
        return rows

    def save(self, js: range, rows: list[dict]) -> None:
        """Write the chunk atomically (va_gpt.io.filesystem.write_bytes)."""
        if len(rows) != len(js):
            raise ValueError(f"chunk {js}: {len(rows)} rows for {len(js)} videos")
        arrays = {}
        for i, row in enumerate(rows):
            for k, v in row.items():
                if v is None:
                    continue  # absent = None (a normal video's kind, no per-patch evidence)
                arrays[f"{i}/{k}"] = np.asarray(v)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_bytes(str(self.path(js)), buf.getvalue())  # temp file + rename: never a half-written chunk


def _row(z, i: int, columns: tuple[str, ...]) -> dict:
    if f"{i}/t" not in z.files:
        raise KeyError(f"no video {i} in the chunk")
    row = {}
    for k in columns:
        name = f"{i}/{k}"
        if name not in z.files:
            row[k] = None
            continue
        v = z[name]
        row[k] = str(v) if v.dtype.kind == "U" else v
    return row

"""Visual stage: clips of frames -> SETS selection + per-frame anomaly scores.

One callable class for Ray Data's batch-inference pattern (models loaded in
`__init__`, `__call__(batch) -> batch`), also usable directly without Ray.
The DINOv2 patch tensors are computed and consumed here and never leave the
actor: the output holds only small per-frame arrays.

Input rows (one clip each, from the decode stage):
    video_id str, clip_index int, frames uint8 [T, S, S, 3] (S = encoder image_size;
    the whole frame resized, so normalised box coordinates hold for the source),
    t float64 [T] seconds, first_is_overlap bool, plus any passthrough columns.
Output rows (one per clip, same order as the input; `frames` and
`first_is_overlap` are dropped, every other input column passes through):
    video_id, clip_index, t float64 [T'], score float32 [T'] (anomaly probability),
    diff_energy float32 [T'] (mean SETS difference), box float32 [T', 4]
    ((x0, y0, x1, y1) in [0, 1] of the frame: the connected group of selected
    patches with the largest summed difference), selected int16 [T', k] (raster patch indices, ascending).
    T' = T - 1 when first_is_overlap: the overlap frame (the previous clip's
    last frame) is only the reference for the first new frame's difference.

Clip length: a clip needs at least one new frame, so T >= 2 with an overlap
frame; T = 1 without one is allowed (a single-frame video: its difference map
is zero). Fewer frames, frames of the wrong size or dtype, and non-finite
timestamps or scores raise a ValueError naming the video and clip.

State across clips (per video, in this actor): in `background` reference mode
the EMA background embedding, and for the classifier (a causal temporal conv,
models/classifier.py) the last receptive_field - 1 feature frames. Rows are
processed sorted by (video_id, clip_index); the state of a video is used only
when the clip is the direct successor (clip_index + 1) of the last one this
actor processed for that video. Then the result is exactly that of one pass
over the whole video (tests/test_visual.py checks this). Otherwise (the first
clip, or Ray sent the clips to several actors or out of order) the clip starts
fresh: the classifier sees only this clip (left zero padding; the receptive
field, 7 frames on the demo preset, is shorter than a clip) and the background
starts from the clip's first frame, so an object dropped in an earlier clip is
already background. For whole-video background memory, feed a video's clips
in order to one actor (e.g. one video per block with preserve_order).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from va_gpt.checkpoints.build import build_encoder
from va_gpt.checkpoints.classifier import load_classifier
from va_gpt.config import Preset, SetsConfig, load_preset
from va_gpt.models.classifier import AnomalyClassifier, frame_features, num_features
from va_gpt.models.dinov2 import DinoEncoder
from va_gpt.ops import sets

log = logging.getLogger(__name__)

BOX_MODE = "blob"  # region_box mode for the per-frame box (see ops/sets.region_box)
MAX_VIDEO_STATES = 32  # videos whose cross-clip state an actor keeps (least recently used dropped)
ENCODE_CHUNK = 64  # frames per encoder forward pass
REQUIRED = ("video_id", "clip_index", "frames", "t", "first_is_overlap")
CONSUMED = ("frames", "first_is_overlap")


@dataclass
class ClipSets:
    """SETS results for the new frames of one clip (T' of them)."""

    features: torch.Tensor  # [T', D + 4] float32 classifier features
    diff: torch.Tensor  # [T', N] float32 difference map
    selected: torch.Tensor  # [T', k] long, ascending
    box: torch.Tensor  # [T', 4] float32, normalised (x0, y0, x1, y1)
    background: torch.Tensor | None  # [N, D] after this clip (background mode), else None


def sets_clip(
    cls: torch.Tensor,
    patches: torch.Tensor,
    grid: tuple[int, int],
    patch_size: int,
    image_size: int,
    cfg: SetsConfig,
    use_cls: bool,
    first_is_overlap: bool,
    background: torch.Tensor | None = None,
) -> ClipSets:
    """Encoder outputs of one clip -> SETS selection, boxes and classifier features.

    cls [T, D], patches [T, N, D] (frame 0 is the overlap frame when first_is_overlap).
    `previous` mode: frame i is compared with frame i - 1; the overlap frame is
    the reference of the first new frame; without one, the first frame's
    difference is zero. `background` mode: compared with the EMA background,
    continued from `background` when given, else started at frame 0.
    """
    new = slice(1, None) if first_is_overlap else slice(None)
    if cfg.reference == "previous":
        prev = patches[0] if first_is_overlap else None
        diff = sets.difference_map(patches[new], prev)  # [T', N]
        new_bg = None
    elif background is not None:
        diff, new_bg = sets.background_difference(patches[new], background, cfg.background_momentum)
    else:
        diff, new_bg = sets.background_difference(patches, None, cfg.background_momentum)
        diff = diff[new]
    selected = sets.topk_indices(diff, cfg.top_k)  # [T', k]
    box = sets.region_box(selected, grid, patch_size, BOX_MODE, diff) / image_size  # [T', 4]
    return ClipSets(frame_features(cls[new], diff, cfg.top_k, use_cls), diff, selected, box, new_bg)


def feature_spec(preset: Preset, encoder: DinoEncoder) -> dict:
    """How classifier features are made: stored with a trained classifier, checked on load."""
    return {
        "top_k": preset.sets.top_k,
        "reference": preset.sets.reference,
        "background_momentum": preset.sets.background_momentum,
        "use_cls": preset.classifier.use_cls,
        "image_size": preset.encoder.image_size,
        "patch_size": preset.encoder.patch_size,
        "encoder_source": preset.encoder.source,
        "encoder_weights": encoder.weight_sample(),
    }


def check_feature_spec(stored: dict, ours: dict, where: str) -> None:
    """ValueError naming `where` and the first setting where a classifier's features differ from ours."""
    for key, mine in ours.items():
        if key not in stored or key == "encoder_source":  # where the weights came from: informative only
            continue
        if key == "background_momentum" and ours["reference"] != "background":
            continue
        theirs = stored[key]
        if key == "encoder_weights":
            same = len(theirs) == len(mine) and np.allclose(theirs, mine, rtol=2e-2, atol=1e-4)
            if not same:
                raise ValueError(
                    f"classifier {where} was trained on features of a different encoder (weights differ "
                    f"from this preset's encoder {ours['encoder_source'] or 'random init'})"
                )
        elif theirs != mine:
            raise ValueError(
                f"classifier {where} was trained with {key}={theirs!r}, this preset has {mine!r}"
            )


@dataclass
class _VideoState:
    next_clip: int
    background: torch.Tensor | None
    context: torch.Tensor | None  # [C, F] classifier features of the frames before the next clip


def _column(values: list[np.ndarray]) -> np.ndarray:
    """A batch column: stacked when all rows have one shape, else an object array of arrays (ragged)."""
    if values and all(v.shape == values[0].shape for v in values):
        return np.stack(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class Visual:
    """Ray Data callable: `ds.map_batches(Visual, fn_constructor_args=(preset,), ...)`."""

    def __init__(
        self, preset: Preset, classifier_dir: str | None = None, storage_options: dict | None = None
    ):
        self.preset = preset
        rt = preset.runtime
        self.device = rt.device
        self.encoder = build_encoder(preset.encoder, rt.device, rt.dtype, storage_options)
        self.image_size = preset.encoder.image_size
        n_feat = num_features(self.encoder.hidden_size, preset.classifier.use_cls)
        if classifier_dir is None:
            log.warning(
                "visual stage: no classifier_dir given, using a RANDOM anomaly classifier: "
                "scores are meaningless (train one with jobs/train_classifier.py)"
            )
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self.classifier = AnomalyClassifier(n_feat, preset.classifier).eval()
            self.classifier_config = None
        else:
            self.classifier, self.classifier_config = load_classifier(classifier_dir, storage_options)
            if self.classifier_config["in_features"] != n_feat:
                raise ValueError(
                    f"classifier {classifier_dir} takes {self.classifier_config['in_features']} features per "
                    f"frame, this preset makes {n_feat} (use_cls={preset.classifier.use_cls}, encoder "
                    f"hidden_size {self.encoder.hidden_size})"
                )
            check_feature_spec(
                self.classifier_config.get("features", {}), feature_spec(preset, self.encoder), classifier_dir
            )
        # The classifier is tiny: it runs in float32 whatever the encoder dtype.
        self.classifier = self.classifier.to(rt.device, torch.float32)
        self._states: OrderedDict[str, _VideoState] = OrderedDict()

    def _check_clip(self, vid: str, clip: int, frames, t, overlap: bool) -> tuple[np.ndarray, np.ndarray]:
        where = f"video {vid!r} clip {clip}"
        frames = np.asarray(frames)
        t = np.asarray(t, dtype=np.float64)
        S = self.image_size
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (S, S, 3):
            raise ValueError(
                f"{where}: frames must be uint8 [T, {S}, {S}, 3], got {frames.dtype} {frames.shape}"
            )
        T = frames.shape[0]
        if T < (2 if overlap else 1):
            raise ValueError(
                f"{where}: {T} frame(s); a clip needs at least one new frame"
                + (" after its overlap frame" if overlap else "")
            )
        if t.shape != (T,) or not np.isfinite(t).all():
            raise ValueError(f"{where}: t must be {T} finite timestamps, got shape {t.shape}")
        return frames, t

    @torch.inference_mode()
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [c for c in REQUIRED if c not in batch]
        if missing:
            raise ValueError(f"visual stage: input batch lacks column(s) {missing}; has {sorted(batch)}")
        n = len(batch["video_id"])
        vids = [str(v) for v in batch["video_id"]]
        clips = [int(c) for c in batch["clip_index"]]
        overlaps = [bool(o) for o in batch["first_is_overlap"]]
        checked = [
            self._check_clip(vids[i], clips[i], batch["frames"][i], batch["t"][i], overlaps[i])
            for i in range(n)
        ]

        # One encoder pass over every frame of the batch, then split per clip.
        all_frames = np.concatenate([f for f, _ in checked]) if n else np.zeros((0, 1, 1, 3), np.uint8)
        bounds = np.cumsum([0] + [len(f) for f, _ in checked])
        enc = self.encoder.encode_frames(all_frames, ENCODE_CHUNK) if n else None

        out = {k: [None] * n for k in ("t", "score", "diff_energy", "box", "selected")}
        for i in sorted(range(n), key=lambda i: (vids[i], clips[i])):
            a, b = bounds[i], bounds[i + 1]
            res = self._clip(vids[i], clips[i], overlaps[i], enc.cls[a:b], enc.patches[a:b], enc.grid)
            t = checked[i][1][1:] if overlaps[i] else checked[i][1]
            out["t"][i] = t
            for k, v in res.items():
                out[k][i] = v
        result = {k: v for k, v in batch.items() if k not in CONSUMED}
        result.update({k: _column(v) for k, v in out.items()})
        return result

    def _clip(self, vid: str, clip: int, overlap: bool, cls, patches, grid) -> dict[str, np.ndarray]:
        state = self._states.pop(vid, None)
        if state is not None and state.next_clip != clip:
            log.debug(
                "visual: video %r clip %d is not the successor of clip %d: fresh state",
                vid,
                clip,
                state.next_clip - 1,
            )
            state = None
        p = self.preset
        r = sets_clip(
            cls,
            patches,
            grid,
            p.encoder.patch_size,
            p.encoder.image_size,
            p.sets,
            p.classifier.use_cls,
            overlap,
            background=state.background if state else None,
        )
        feats = r.features.to(self.device, torch.float32)
        score, context = self.classifier.score_stream(feats, state.context if state else None)
        score = score.float().cpu().numpy()
        if not np.isfinite(score).all():
            bad = int(np.flatnonzero(~np.isfinite(score))[0])
            raise ValueError(
                f"video {vid!r} clip {clip}: classifier score is {score[bad]} at new frame {bad}"
            )
        self._states[vid] = _VideoState(clip + 1, r.background, context)
        while len(self._states) > MAX_VIDEO_STATES:
            self._states.popitem(last=False)
        return {
            "score": score.astype(np.float32),
            "diff_energy": sets.difference_energy(r.diff).cpu().numpy().astype(np.float32),
            "box": r.box.cpu().numpy().astype(np.float32),
            "selected": r.selected.cpu().numpy().astype(np.int16),
        }


def bench_visual(preset_name: str = "demo", frames: int = 64, repeats: int = 3) -> dict:
    """Frames per second of the visual stage (encoder + SETS + classifier) on this machine.

    Random weights (speed does not depend on them); `frames` new frames split
    into clips of the preset's clip_len, one batch of runtime.batch_size clips
    at a time; the best of `repeats` timed runs after one warm-up.
    """
    preset = load_preset(preset_name)
    stage = Visual(preset)
    S, L = preset.encoder.image_size, preset.decode.clip_len
    rng = np.random.default_rng(0)
    n_clips = max(1, -(-frames // (L - 1)))
    rows = []
    for c in range(n_clips):
        f = rng.integers(0, 256, (L, S, S, 3), dtype=np.uint8)
        rows.append(
            dict(
                video_id="bench",
                clip_index=c,
                frames=f,
                t=np.arange(L) + c * (L - 1.0),
                first_is_overlap=True,
            )
        )
    bs = preset.runtime.batch_size
    batches = [
        {k: np.array([r[k] for r in rows[i : i + bs]]) for k in rows[0]} for i in range(0, len(rows), bs)
    ]
    new_frames = n_clips * (L - 1)
    stage(batches[0])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        stage._states.clear()
        t0 = time.perf_counter()
        for b in batches:
            stage(b)
        best = min(best, time.perf_counter() - t0)
    return {
        "preset": preset_name,
        "device": preset.runtime.device,
        "dtype": preset.runtime.dtype,
        "torch_threads": torch.get_num_threads(),
        "frames": new_frames,
        "encoded_frames": n_clips * L,
        "seconds": best,
        "frames_per_s": new_frames / best,
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_visual(*(sys.argv[1:2] or ["demo"])), indent=2))

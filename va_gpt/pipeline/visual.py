"""Visual stage: clips of frames -> SETS selection + per-frame anomaly scores and kinds.

One callable class for Ray Data's batch-inference pattern (models loaded in
`__init__`, `__call__(batch) -> batch`), also usable directly without Ray.
The DINOv2 patch tensors are computed and consumed here and never leave the
actor: the output holds only small per-frame arrays.

Input rows (one clip each, from the decode stage):
    video_id str, clip_index int, frames uint8 [T, V, V, 3] (V = the preset's decode_size: the
    largest of the classifier's views and the encoder image_size S; the whole frame resized, so
    normalised box coordinates hold for the source),
    t float64 [T] seconds, context int (the first `context` frames belong to earlier
    clips; rows without it: first_is_overlap bool = 1 context frame), reference uint8
    [V, V, 3] (the video's first sample; optional for a clip without context, which then
    is the video start and frames[0] is it), background uint8 [B, V, V, 3] (B = 1 with
    sets.background_samples > 1: the per-pixel median of the video's first samples, each
    prepared as this preset prepares frames, va_gpt.video.clips; never prepared again here;
    required then, and absent or B = 0 otherwise), is_last bool (optional: the clip ends its video),
    prepared str (optional: the decode stage already prepared frames and reference with these
    settings, va_gpt.ops.prepare.Preparation.label; they must be this preset's), plus any passthrough
    columns.
Output rows (one per clip, same order as the input; `frames`, `first_is_overlap`,
`context`, `reference`, `background` and `prepared` are dropped, every other input column passes
through):
    video_id, clip_index, t float64 [T'], score float32 [T'] (anomaly probability),
    kind_prob float32 [T', K] (the classifier's kind head over models.classifier.KINDS;
    both as the network gives them: for a classifier with a lookahead, row t scores frame
    t - lookahead, the clip that ends its video (is_last true) has `lookahead` rows more when the
    classifier was trained with a tail (its last frame's inputs held past the end:
    models.classifier.with_tail), and the per-video step
    (pipeline.run.summarize_video) puts them in place),
    diff_energy float32 [T'] (mean SETS difference to the previous frame: the raw motion
    energy baseline), box float32 [T', 4] ((x0, y0, x1, y1) in [0, 1] of the frame: the
    connected group of selected patches with the largest summed difference; with sets.stabilise, of
    the frame aligned to the reference: off the source frame by the shake, a few pixels), selected
    int16 [T', k] (raster patch indices, ascending), encoded bool [T'] (False: the frame reused
    an earlier frame's encoding, runtime.skip_static). T' = T - context: context frames are
    encoded again here (their features are the classifier's history) but scored only in
    their own clip.

No state across clips: a clip's scores are a function of the clip alone. With
`context_frames(classifier)` context frames (the classifier's receptive field R: R - 1
feature frames of history; each of those needs the HISTORY - 1 frames before it for its
per-patch history (ops/evidence.py), and the frame before those for the motion difference) the
scores equal those of one pass over the whole video, whichever actor runs the clip and in
whatever order (tests/pipeline/test_visual.py). The static-change reference is the video's
first sample, carried by every clip (va_gpt.video.clips): deterministic, and an object that
appears and stays (an abandoned bag) stays different from it for the rest of the file. With
sets.background_samples > 1 every clip also carries the median of the video's first samples, and
a patch's static difference is the smaller of the two (ops/evidence.py).

The classifier scores every frame at each of the preset's views (classifier.views; default: S
alone) and its score and kind probabilities are the mean over them: a view larger than S gives a
finer patch grid, where a small event covers more patches. The frames are encoded once per size
(resized from V by va_gpt.video.preprocess.resize_frames), and SETS (selected, box, diff_energy)
always reads the encoding at S, whose grid is the VA-GPT's.

Before any difference the frames are prepared per the preset's `sets` (va_gpt.ops.prepare: dark
frames lifted, every frame aligned to the reference), by the nightly's decode stage (its rows say
so in `prepared`), else here; each frame's preparation depends on it and the reference only, so it
keeps scores independent of scheduling.
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from va_gpt.checkpoints.build import build_encoder
from va_gpt.checkpoints.classifier import load_classifier
from va_gpt.config import ClassifierConfig, Preset, SetsConfig, load_preset
from va_gpt.models.classifier import (
    FEATURES,
    PATCH_FEATURES,
    AnomalyClassifier,
    ClassifierEnsemble,
    build_classifier,
    frame_inputs,
    num_features,
    patch_features_for,
    receptive_field,
)
from va_gpt.models.dinov2 import DinoEncoder
from va_gpt.ops import sets
from va_gpt.ops.evidence import HISTORY
from va_gpt.ops.prepare import Preparation
from va_gpt.video.clips import background_frame
from va_gpt.video.preprocess import resize_frames

log = logging.getLogger(__name__)

BOX_MODE = "blob"  # region_box mode for the per-frame box (see ops/sets.region_box)
ENCODE_CHUNK = 64  # frames per encoder forward pass on a CPU
# On a GPU larger passes fill the chip: DINOv2-B/14 in bf16 on an H200 encodes 5410 frames/s at 64 a
# pass and 5979 at 256, S/14 10737 and 12749 (jobs/bench_gpu.py, README "On a GPU").
ENCODE_CHUNK_GPU = 256
REQUIRED = ("video_id", "clip_index", "frames", "t")
CONSUMED = ("frames", "first_is_overlap", "context", "reference", "background", "prepared")


def context_frames(cfg: ClassifierConfig) -> int:
    """Context frames a clip must carry for scores independent of scheduling: the classifier's
    receptive field R and the evidence's per-patch history (see the module doc)."""
    return receptive_field(cfg) + HISTORY - 1


@dataclass
class ClipSets:
    """SETS results for the new frames of one clip (T' of them)."""

    diff: torch.Tensor  # [T', N] float32 difference map to the previous frame
    selected: torch.Tensor  # [T', k] long, ascending
    box: torch.Tensor  # [T', 4] float32, normalised (x0, y0, x1, y1)


def sets_clip(
    patches: torch.Tensor,
    grid: tuple[int, int],
    patch_size: int,
    image_size: int,
    cfg: SetsConfig,
    first_is_overlap: bool,
) -> ClipSets:
    """Patches of one clip -> SETS selection and boxes for its new frames.

    patches [T, N, D] (frame 0 is the frame before the new ones when first_is_overlap).
    `previous` mode: frame i is compared with frame i - 1; without a frame before, the first
    frame's difference is zero. `background` mode: compared with an EMA background started
    at the clip's first frame (clip-local, so deterministic).
    """
    new = slice(1, None) if first_is_overlap else slice(None)
    if cfg.reference == "previous":
        prev = patches[0] if first_is_overlap else None
        diff = sets.difference_map(patches[new], prev)  # [T', N]
    else:
        diff = sets.background_difference(patches, None, cfg.background_momentum)[0][new]
    selected = sets.topk_indices(diff, cfg.top_k)  # [T', k]
    box = sets.region_box(selected, grid, patch_size, BOX_MODE, diff) / image_size  # [T', 4]
    return ClipSets(diff, selected, box)


def static_frames(frames: np.ndarray, threshold: float, patch_size: int) -> np.ndarray:
    """int [T]: the frame whose encoding frame i uses (i itself, or the last encoded frame before it).

    Frame 0 is always encoded. Frame i reuses the last encoded frame's encoding (its anchor) when
    every patch_size x patch_size block (the encoder's patch grid) differs from the anchor by at
    most `threshold` mean absolute pixel value: a cheap pixel difference that shows no change
    anywhere. Comparing with the anchor, not with frame i - 1, bounds the drift of a slow change.
    threshold <= 0: every frame is its own source.
    """
    T = len(frames)
    src = np.arange(T)
    if threshold <= 0 or T < 2:
        return src
    S, P = frames.shape[1], patch_size
    g = S // P
    small = frames[:, : g * P, : g * P].reshape(T, g, P, g, P, 3)
    anchor = 0
    for i in range(1, T):
        d = np.abs(small[i].astype(np.int16) - small[anchor]).mean(axis=(1, 3, 4), dtype=np.float32)
        if d.max() <= threshold:
            src[i] = anchor
        else:
            anchor = i
    return src


def quantize_encoder(encoder: DinoEncoder) -> None:
    """The encoder's Linear layers -> dynamic int8 (CPU; ~1.5x the frames/s on an AVX-512 VNNI core,
    hidden states within ~1.2% relative of float32), in place."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice (torchao succeeds it)
        encoder.model = torch.ao.quantization.quantize_dynamic(
            encoder.model, {torch.nn.Linear}, dtype=torch.qint8
        )


def served_encoder(preset: Preset, encoder: DinoEncoder) -> DinoEncoder:
    """`encoder` (float weights) as this stage runs it for `preset`: a copy with dynamic int8 Linear
    layers when runtime.encoder_int8, else `encoder` itself. The classifier's training rows are
    encoded through it too (va_gpt.train.synthetic_classifier), so they are the features it is served."""
    if not preset.runtime.encoder_int8:
        return encoder
    served = copy.deepcopy(encoder)  # the caller's float encoder stays as it is
    quantize_encoder(served)
    return served


def feature_spec(preset: Preset, encoder: DinoEncoder) -> dict:
    """How classifier features are made: stored with a trained classifier, checked on load."""
    return {
        "recipe": FEATURES,
        "patch_recipe": PATCH_FEATURES,
        "use_cls": preset.classifier.use_cls,
        "pixel_maps": preset.classifier.pixel_maps,
        "image_size": preset.encoder.image_size,
        "patch_size": preset.encoder.patch_size,
        "fps": preset.decode.fps,
        "stabilise": preset.sets.stabilise,
        "min_brightness": preset.sets.min_brightness,
        "match_gain": preset.sets.match_gain,
        "background_samples": preset.sets.background_samples,
        "encoder_source": preset.encoder.source,
        "encoder_weights": encoder.weight_sample(),
    }


def check_feature_spec(stored: dict, ours: dict, where: str) -> None:
    """ValueError naming `where` and the first setting where a classifier's features differ from ours."""
    if stored.get("recipe") != ours["recipe"]:
        raise ValueError(
            f"classifier {where} was trained on features {stored.get('recipe', 'difference statistics (v1)')!r}, "
            f"this version computes {ours['recipe']!r}: retrain it (vagpt train-classifier)"
        )
    for key, mine in ours.items():
        if key not in stored or key == "encoder_source":  # where the weights came from: informative only
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


def random_classifier(
    n_feat: int, cfg: ClassifierConfig, patch_features: int = 0, grid: tuple[int, int] | None = None
) -> AnomalyClassifier | ClassifierEnsemble:
    """A seeded random classifier (tests, throughput runs): scores are meaningless."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build_classifier(n_feat, cfg, patch_features=patch_features, grid=grid).eval()


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
        self.encode_chunk = ENCODE_CHUNK_GPU if str(rt.device).startswith("cuda") else ENCODE_CHUNK
        # what a decode stage that prepared the frames for this preset says in `prepared`
        self.prepare = Preparation.of(preset.sets)
        self.background_samples = preset.sets.background_samples
        self.encoder = build_encoder(preset.encoder, rt.device, rt.dtype, storage_options)
        self.image_size = preset.encoder.image_size
        self.decode_size = preset.decode_size  # frames arrive at this size
        self.views = preset.views
        n_feat = num_features(self.encoder.hidden_size, preset.classifier.use_cls)
        if classifier_dir is None:
            log.warning(
                "visual stage: no classifier_dir given, using a RANDOM anomaly classifier: "
                "scores are meaningless (train one with vagpt train-classifier)"
            )
            n_patch = patch_features_for(self.encoder.hidden_size, preset.classifier)
            self.classifier = random_classifier(n_feat, preset.classifier, n_patch, self.encoder.grid)
            self.classifier_config = None
        else:
            self.classifier, self.classifier_config = load_classifier(classifier_dir, storage_options)
            if self.classifier_config["in_features"] != n_feat:
                raise ValueError(
                    f"classifier {classifier_dir} takes {self.classifier_config['in_features']} features per "
                    f"frame, this preset makes {n_feat} (use_cls={preset.classifier.use_cls}, encoder "
                    f"hidden_size {self.encoder.hidden_size})"
                )
            n_patch = patch_features_for(self.encoder.hidden_size, preset.classifier)
            if self.classifier.uses_patches and self.classifier_config.get("patch_features") != n_patch:
                raise ValueError(
                    f"classifier {classifier_dir} takes {self.classifier_config.get('patch_features')} "
                    f"features per patch, this preset makes {n_patch} (classifier.pixel_maps="
                    f"{preset.classifier.pixel_maps}, encoder hidden_size {self.encoder.hidden_size})"
                )
            check_feature_spec(
                self.classifier_config.get("features", {}), feature_spec(preset, self.encoder), classifier_dir
            )
            theirs, ours = self.classifier.receptive_field, receptive_field(preset.classifier)
            if theirs > ours:  # the clips carry the preset's context: more would make scores depend on clips
                raise ValueError(
                    f"classifier {classifier_dir} looks back {theirs} frames, the preset's clips carry "
                    f"context for {ours} (its classifier config): use the preset it was trained with"
                )
        # The classifier is tiny: it runs in float32 whatever the encoder dtype.
        self.classifier = self.classifier.to(rt.device, torch.float32)
        # after the feature check: it reads float weights
        self.encoder = served_encoder(preset, self.encoder)
        # one encoder per size: the same weights (DINOv2 interpolates its position embeddings)
        self.encoders = {
            size: self.encoder if size == self.image_size else self.encoder.at_size(size)
            for size in sorted({*self.views, self.image_size})
        }

    def _check_clip(self, vid: str, clip: int, frames, t, context: int, reference, background) -> tuple:
        where = f"video {vid!r} clip {clip}"
        frames = np.asarray(frames)
        t = np.asarray(t, dtype=np.float64)
        S = self.decode_size
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (S, S, 3):
            raise ValueError(
                f"{where}: frames must be uint8 [T, {S}, {S}, 3], got {frames.dtype} {frames.shape}"
            )
        T = frames.shape[0]
        if T < context + 1:
            raise ValueError(
                f"{where}: {T} frame(s); a clip needs at least one new frame"
                + (f" after its {context} context frame(s)" if context else "")
            )
        if t.shape != (T,) or not np.isfinite(t).all():
            raise ValueError(f"{where}: t must be {T} finite timestamps, got shape {t.shape}")
        if reference is None:
            if context:
                raise ValueError(f"{where}: a clip with context frames needs the video's reference frame")
            reference = frames[0]
        reference = np.asarray(reference)
        if reference.dtype != np.uint8 or reference.shape != (S, S, 3):
            raise ValueError(f"{where}: reference must be uint8 [{S}, {S}, 3], got {reference.shape}")
        want = int(self.background_samples > 1)
        if background is None and want:
            # as the reference: a clip that starts its video (or a window of it, as the VA-GPT's
            # training samples decode) makes the background from its own first samples once they
            # are prepared (_prepared); a later clip cannot see them
            if context:
                raise ValueError(
                    f"{where}: a clip with context frames needs the video's background frame "
                    f"(sets.background_samples {self.background_samples})"
                )
            return frames, t, reference, None
        background = np.zeros((0, S, S, 3), np.uint8) if background is None else np.asarray(background)
        if background.dtype != np.uint8 or background.shape != (want, S, S, 3):
            raise ValueError(
                f"{where}: background must be uint8 [{want}, {S}, {S}, 3] for this preset's "
                f"sets.background_samples {self.background_samples}, got {background.dtype} {background.shape} "
                "(clips decoded with another preset's? va_gpt.pipeline.decode.Decode.from_config(sets=...))"
            )
        return frames, t, reference, background

    def _prepared(self, frames, t, reference, background, done, vid: str, clip: int) -> tuple:
        """A checked clip with its frames and reference prepared before any difference
        (ops/prepare.py), here unless the decode stage did (`done`: its `prepared` column); the
        background comes prepared, or (None: a clip that starts its video without one) is the
        median of its first sets.background_samples prepared frames, as iter_clips makes it."""
        if done is None or done != done:  # no column, or a None / NaN cell: raw frames
            frames, reference = self.prepare(frames, reference)
        elif str(done) != self.prepare.label:
            raise ValueError(
                f"video {vid!r} clip {clip}: frames were prepared with {str(done)!r}, this preset's visual "
                f"stage needs {self.prepare.label!r} (decode and visual stages built from different presets?)"
            )
        if background is None:
            background = background_frame(frames[: self.background_samples])[None]
        return frames, t, reference, background

    @torch.inference_mode()
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [c for c in REQUIRED if c not in batch]
        if "context" not in batch and "first_is_overlap" not in batch:
            missing.append("context")
        if missing:
            raise ValueError(f"visual stage: input batch lacks column(s) {missing}; has {sorted(batch)}")
        n = len(batch["video_id"])
        vids = [str(v) for v in batch["video_id"]]
        clips = [int(c) for c in batch["clip_index"]]
        if "context" in batch:
            ctx = [int(c) for c in batch["context"]]
        else:
            ctx = [int(bool(o)) for o in batch["first_is_overlap"]]
        refs = batch["reference"] if "reference" in batch else [None] * n
        bgs = batch["background"] if "background" in batch else [None] * n
        last = [bool(v) for v in batch["is_last"]] if "is_last" in batch else [False] * n
        checked = [
            self._check_clip(vids[i], clips[i], batch["frames"][i], batch["t"][i], ctx[i], refs[i], bgs[i])
            for i in range(n)
        ]
        done = batch["prepared"] if "prepared" in batch else [None] * n
        checked = [self._prepared(*c, done[i], vids[i], clips[i]) for i, c in enumerate(checked)]

        # One encoder pass per size (the classifier's views and SETS's) over every frame (and
        # reference and background) of the batch, then split per clip.
        # Frames that show no change since the last encoded one reuse its encoding (skip_static).
        out = {
            k: [None] * n for k in ("t", "score", "kind_prob", "diff_energy", "box", "selected", "encoded")
        }
        if n:
            thr, P = self.preset.runtime.skip_static, self.preset.encoder.patch_size
            srcs = [static_frames(c[0], thr, P) for c in checked]
            keep = [np.flatnonzero(s == np.arange(len(s))) for s in srcs]
            # after the kept frames: each clip's reference, then the backgrounds (0 or 1 a clip)
            all_frames = np.concatenate(
                [c[0][k] for c, k in zip(checked, keep)]
                + [c[2][None] for c in checked]
                + [c[3] for c in checked]
            )
            enc = {
                size: encoder.encode_frames(
                    all_frames if size == self.decode_size else resize_frames(all_frames, size),
                    self.encode_chunk,
                )
                for size, encoder in self.encoders.items()
            }
            bounds = np.cumsum([0] + [len(k) for k in keep])
            bg_rows = bounds[-1] + n + np.cumsum([0] + [len(c[3]) for c in checked])
            for i in range(n):
                # encoded row of each frame: its source's position among the clip's kept frames
                rows = torch.from_numpy(bounds[i] + np.searchsorted(keep[i], srcs[i]))
                frames_i, _, ref_i, bg_i = checked[i]
                pixels = (frames_i, ref_i, *bg_i)  # prepared frames, reference (, background)
                views = [
                    self._clip(
                        ctx[i],
                        e.cls[rows],
                        e.patches[rows],
                        e.patches[bounds[-1] + i],
                        e.grid,
                        last[i],
                        pixels,
                        e.patches[bg_rows[i]] if len(bg_i) else None,
                    )
                    for e in (enc[v] for v in self.views)
                ]
                res = {k: np.mean([r[k] for r in views], 0, dtype=np.float32) for k in views[0]}
                self._check_scores(res["score"], vids[i], clips[i])
                res |= self._sets(ctx[i], enc[self.image_size].patches[rows], enc[self.image_size].grid)
                out["t"][i] = checked[i][1][ctx[i] :]
                out["encoded"][i] = (srcs[i] == np.arange(len(srcs[i])))[ctx[i] :]
                for k, v in res.items():
                    out[k][i] = v
        result = {k: v for k, v in batch.items() if k not in CONSUMED}
        result.update({k: _column(v) for k, v in out.items()})
        return result

    def _clip(
        self, context: int, cls, patches, reference, grid, is_last: bool, pixels, background=None
    ) -> dict[str, np.ndarray]:
        """One clip at one of the classifier's views (cls [T, D], patches [T, N, D] on `grid`,
        reference [N, D]; pixels: its frames [T, S, S, 3], reference frame (and background frame),
        read by a classifier with pixel_maps; background: the background frame's patches [N, D] or
        None) -> its score and kind_prob columns."""
        p = self.preset
        n_new = patches.shape[0] - context
        if self.classifier.uses_patches:
            self.classifier.use_grid(grid)
        feats, px = frame_inputs(
            cls, patches, reference, grid, p.classifier.use_cls, self.classifier.uses_patches,
            pixels if p.classifier.pixel_maps else None, background,
        )  # fmt: skip
        if px is not None:
            px = px.to(self.device, torch.float32)
        tail = self.classifier.tail_frames if is_last else 0
        score, kind = self.classifier.score_window(feats.to(self.device, torch.float32), n_new, px, tail)
        return {
            "score": score.float().cpu().numpy().astype(np.float32),
            "kind_prob": kind.float().cpu().numpy().astype(np.float32),
        }

    @staticmethod
    def _check_scores(score: np.ndarray, vid: str, clip: int) -> None:
        if not np.isfinite(score).all():
            bad = int(np.flatnonzero(~np.isfinite(score))[0])
            raise ValueError(
                f"video {vid!r} clip {clip}: classifier score is {score[bad]} at new frame {bad}"
            )

    def _sets(self, context: int, patches, grid) -> dict[str, np.ndarray]:
        """One clip at the encoder's size (patches [T, N, D] on `grid`) -> its SETS columns."""
        p = self.preset
        sel = slice(context - 1, None) if context else slice(None)
        r = sets_clip(patches[sel], grid, p.encoder.patch_size, p.encoder.image_size, p.sets, context > 0)
        return {
            "diff_energy": sets.difference_energy(r.diff).cpu().numpy().astype(np.float32),
            "box": r.box.cpu().numpy().astype(np.float32),
            "selected": r.selected.cpu().numpy().astype(np.int16),
        }


def bench_batches(preset: Preset, frames: int) -> tuple[list[dict[str, np.ndarray]], int]:
    """Random-frame clips for timing the visual stage -> (batches, new frames): at least `frames`
    new frames (at least one clip) in clips of the preset's clip_len at its decode_size, each after
    one frame of overlap, in batches of runtime.batch_size clips."""
    S, L = preset.decode_size, preset.decode.clip_len
    rng = np.random.default_rng(0)
    n_clips = max(1, -(-frames // (L - 1)))
    rows = [
        dict(
            video_id="bench",
            clip_index=c,
            frames=rng.integers(0, 256, (L, S, S, 3), dtype=np.uint8),
            t=np.arange(L) + c * (L - 1.0),
            first_is_overlap=True,
            reference=np.zeros((S, S, 3), np.uint8),
        )
        for c in range(n_clips)
    ]
    bs = preset.runtime.batch_size
    batches = [
        {k: np.array([r[k] for r in rows[i : i + bs]]) for k in rows[0]} for i in range(0, len(rows), bs)
    ]
    return batches, n_clips * (L - 1)


def bench_visual(preset_name: str = "demo", frames: int = 64, repeats: int = 3) -> dict:
    """Frames per second of the visual stage (encoder + SETS + classifier) on this machine.

    Random weights (speed does not depend on them); `frames` new frames split
    into clips of the preset's clip_len, one batch of runtime.batch_size clips
    at a time; the best of `repeats` timed runs after one warm-up.
    """
    preset = load_preset(preset_name)
    stage = Visual(preset)
    batches, new_frames = bench_batches(preset, frames)
    stage(batches[0])  # warm-up
    best = float("inf")
    for _ in range(repeats):
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
        "encoded_frames": sum(b["frames"].shape[0] * b["frames"].shape[1] for b in batches),
        "seconds": best,
        "frames_per_s": new_frames / best,
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_visual(*(sys.argv[1:2] or ["demo"])), indent=2))

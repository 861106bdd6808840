"""Configuration as frozen dataclasses, loaded from YAML presets.

No torch import here: the pipeline driver, the CLI and the tests read configs
without paying for the model stack.

Rules (DESIGN.md): a preset names every field of every section. A missing or
unknown key is an error that names the file and the key, never a default
guessed from a name. Code that wants a variant uses `dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PRESET_DIR = Path(__file__).parent / "presets"
# sets.background_samples: the decode stage holds this many samples before it yields a clip
MAX_BACKGROUND_SAMPLES = 64


class ConfigError(ValueError):
    """A config file or dict that does not match the dataclasses below."""


@dataclass(frozen=True)
class DecodeConfig:
    fps: float  # frames sampled per second of video, on the video's own timestamps
    clip_len: int  # frames per clip, including the one frame shared with the previous clip
    strategy: str  # auto | full | nonkey | seek  (see va_gpt/video/sampling.py)
    # The resize target is the encoder's image_size: not repeated here.


@dataclass(frozen=True)
class EncoderConfig:
    """DINOv2 patch encoder used by SETS (and, for small presets, for the LLM's visual tokens)."""

    source: str | None  # local folder, fsspec URL of a folder, or hub id; None = random init
    image_size: int
    patch_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    mlp_ratio: int


@dataclass(frozen=True)
class SetsConfig:
    top_k: float  # ratio of patches kept per frame, (0, 1]
    reference: str  # previous | background
    background_momentum: float  # EMA weight of the old background in `background` mode
    # Align every frame to the video's reference frame before the patch differences (camera
    # shake and slow pans removed: va_gpt.ops.stabilise), in the visual stage and in training.
    stabilise: bool = False
    # Frames darker than this mean brightness (0..1) are gamma-lifted towards it before the patch
    # differences (va_gpt.ops.low_light), in the visual stage and in training; 0 = off.
    min_brightness: float = 0.0
    # Every frame scaled to the reference's median luma after those two (global gain, exposure
    # and lighting steps undone: va_gpt.ops.gain), in the visual stage and in training.
    match_gain: bool = False
    # The static-change evidence compares each frame with the video's first sample and, when > 1,
    # also with the per-pixel median of its first `background_samples` samples (prepared as frames
    # are), keeping the smaller difference: what the first sample shows and then leaves (a passer-by)
    # leaves no lasting "new" patch behind (va_gpt.ops.evidence, va_gpt.video.clips). 1 = off.
    background_samples: int = 1


@dataclass(frozen=True)
class ClassifierConfig:
    hidden_size: int
    num_layers: int  # causal temporal conv blocks, dilations 1, 2, 4, ...
    kernel_size: int
    dropout: float
    # Append the encoder's CLS embedding to the SETS difference statistics. False for
    # random-weight encoders: their CLS is noise that the classifier overfits.
    use_cls: bool
    # Learned pooling over per-patch evidence (va_gpt.models.classifier.PatchPool): its width,
    # 0 = off (the per-frame evidence statistics only). Per-patch causal temporal conv blocks
    # before the pooling: patch_layers (dilations 1, 2, ...; kernel_size).
    patch_hidden: int = 0
    patch_layers: int = 0
    # True: a 3x3 conv over the patch grid after each of those blocks too (a (2+1)-D stack), not
    # only once after them: how a thing moves across patches (a runner's speed, two fighters'
    # exchange) is then read before the pooling, not only how each patch changes on its own.
    patch_spatial: bool = False
    # > 1: an ensemble of that many classifiers trained apart (seeds seed .. seed + members - 1)
    # whose anomaly and kind logits are averaged (va_gpt.models.classifier.ClassifierEnsemble).
    members: int = 1
    # The encoder input sizes (px, square) the classifier scores each frame at when serving; its
    # score and kind probabilities are the mean over them. null: [encoder.image_size]. The
    # classifier trains at encoder.image_size; its per-patch weights and 3x3 conv over the grid
    # read a finer grid unchanged, where a small event covers more patches (448 px: 32x32 patches).
    # SETS and the VA-GPT keep encoder.image_size. Off in the demo preset: with its 224-trained
    # classifier, [224, 336] raised held-out frame AUC on 96 videos from 0.87 to 0.92 (out of range
    # 0.85 -> 0.83) at 3.7x the visual stage's time on a CPU; the VA-GPT's summaries on its scores
    # are not measured (docs/MEASUREMENTS.md, "A finer view for the classifier").
    views: tuple[int, ...] | None = None
    # Per-patch evidence read from the frames' pixels as well (va_gpt.ops.evidence.pixel_maps):
    # the largest change of a 2x2-pixel block in each patch, for events smaller than a patch.
    # Needs patch_hidden > 0; a classifier trained with it is served with it (its feature spec).
    pixel_maps: bool = False


@dataclass(frozen=True)
class IntervalConfig:
    smooth_s: float  # moving-average window, seconds
    # Hysteresis: an interval starts above `high` and continues while above `low`. A trained
    # classifier's checkpoint carries these (and the other three) calibrated on validation
    # footage, and its values win; the preset's are used only for a classifier without
    # calibration (random weights): null = ops.intervals.UNCALIBRATED.
    high: float | None
    low: float | None
    min_len_s: float
    merge_gap_s: float
    # Added to the log-odds of the kind head's "normal" share over an interval before the
    # describe stage's judgement prior takes it (ops.intervals.calibrated_normal_share): tuned
    # with the thresholds on validation footage (train.calibrate.calibrate_judgement), 0 = the
    # kind head's share as it is (a checkpoint calibrated before the setting existed).
    normal_bias: float = 0.0
    # Per anomaly kind, the `low` an interval labelled that kind continues above, instead of
    # `low`: (kind, low) pairs, () = none. An abandoned object is anomalous for as long as it
    # stays, while the classifier's score sinks once it lies still; a fall ends when the
    # struggle does. Tuned on validation footage (train.calibrate.calibrate_low_by_kind).
    low_by_kind: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class TetgConfig:
    encoding: str  # text | embedding | none
    num_buckets: int  # score buckets for the `embedding` encoding
    max_frames: int  # score entries at most; longer curves are pooled to this many
    high: float  # frames scoring >= this form the "high: a-bs" interval phrases
    # the segment ends with the classifier's anomaly kind of the window (" ; kind: falling"), so
    # the LLM reads the kind head's call instead of guessing it from a few tokens per frame
    kind: bool = False


@dataclass(frozen=True)
class VisionTowerConfig:
    kind: str  # shared (the SETS DINOv2 pass) | clip
    source: str | None  # CLIP folder / URL / hub id when kind == clip


@dataclass(frozen=True)
class ProjectorConfig:
    kind: str  # mlp2x_gelu | linear
    max_frames: int  # frames per question given to the LLM


@dataclass(frozen=True)
class LLMConfig:
    source: str | None  # Llama-family folder / URL / hub id; None = random init
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int  # for random init; a trained tokenizer's size wins when larger
    max_position: int


@dataclass(frozen=True)
class RuntimeConfig:
    device: str  # cpu | cuda | cuda:N
    dtype: str  # float32 | bfloat16 | float16
    batch_size: int  # clips per visual-stage batch
    num_gpus: float  # per GPU actor; fractional lets small models share one GPU
    # Visual stage: a frame whose every encoder patch differs from the last encoded frame of
    # its clip by at most this mean absolute pixel value (0-255) reuses that frame's encoding
    # (va_gpt.pipeline.visual.static_frames). 0: every frame is encoded.
    skip_static: float = 0.0
    # Visual stage on CPU: the encoder's Linear layers dynamically quantised to int8
    # (va_gpt.pipeline.visual.quantize_encoder; scores within 0.05 of float32, tested).
    encoder_int8: bool = False


@dataclass(frozen=True)
class Preset:
    name: str
    decode: DecodeConfig
    encoder: EncoderConfig
    sets: SetsConfig
    classifier: ClassifierConfig
    intervals: IntervalConfig
    tetg: TetgConfig
    vision_tower: VisionTowerConfig
    projector: ProjectorConfig
    llm: LLMConfig
    runtime: RuntimeConfig

    @property
    def views(self) -> tuple[int, ...]:
        """The sizes (px) the classifier scores each frame at (classifier.views, else the encoder's)."""
        return tuple(self.classifier.views or (self.encoder.image_size,))

    @property
    def decode_size(self) -> int:
        """The size (px) the nightly decodes frames at: the largest of the classifier's views and the
        encoder's image_size. The visual stage resizes them to each other size it encodes."""
        return max([*self.views, self.encoder.image_size])


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def from_dict(cls: type, data: Any, where: str = "config") -> Any:
    """Build dataclass `cls` from a nested dict, strictly.

    Every field without a default must be present and no other key may be; nested dataclasses
    recurse. `where` names the source in error messages (file path + key path).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    optional = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }
    missing = [n for n in names if n not in data and n not in optional]
    unknown = [k for k in data if k not in names]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {missing} for {cls.__name__}")
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for {cls.__name__} (fields: {names})")
    kwargs = {}
    for n in names:
        if n not in data:  # optional: the dataclass default
            continue
        tp = hints[n]
        value = data[n]
        if _is_dataclass_type(tp):
            kwargs[n] = from_dict(tp, value, f"{where}.{n}")
        else:
            kwargs[n] = _check_scalar(tp, value, f"{where}.{n}")
    return cls(**kwargs)


def _check_scalar(tp: Any, value: Any, where: str) -> Any:
    allowed = typing.get_args(tp) if isinstance(tp, types.UnionType) else (tp,)
    if value is None:
        if type(None) in allowed:
            return None
        raise ConfigError(f"{where}: must not be null")
    for t in allowed:
        if typing.get_origin(t) is tuple:  # tuple[X, ...]: a YAML list of X
            if isinstance(value, list | tuple):
                item = typing.get_args(t)[0]
                return tuple(_check_scalar(item, v, f"{where}[{i}]") for i, v in enumerate(value))
            continue
        if t is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t in (str, bool) and isinstance(value, t):
            return value
    names = " | ".join(getattr(t, "__name__", str(t)) for t in allowed)
    raise ConfigError(f"{where}: expected {names}, got {value!r}")


def to_dict(obj: Any) -> dict:
    """A config dataclass -> nested dict of plain YAML / JSON values (tuples as lists)."""

    def plain(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return [plain(v) for v in x] if isinstance(x, list | tuple) else x

    return plain(dataclasses.asdict(obj))


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name_or_path: str | Path | Preset) -> Preset:
    """A preset by name (`tiny`, `demo`, `va-gpt-7b`) or by YAML path; a Preset is returned as is
    (so functions that take a preset name also take a modified preset)."""
    if isinstance(name_or_path, Preset):
        return name_or_path
    path = Path(name_or_path)
    if not path.suffix:
        path = PRESET_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(f"unknown preset {name_or_path!r}; known: {preset_names()}")
    if not path.exists():
        raise ConfigError(f"{path}: no such preset file")
    with open(path) as f:
        data = yaml.safe_load(f)
    return preset_from_dict(data, str(path))


def preset_from_dict(data: dict, where: str = "preset") -> Preset:
    preset = from_dict(Preset, data, where)
    validate(preset, where)
    return preset


def validate(p: Preset, where: str = "preset") -> None:
    """Value checks that the types alone cannot express."""

    def bad(key: str, why: str) -> None:
        raise ConfigError(f"{where}.{key}: {why}")

    if p.decode.fps <= 0:
        bad("decode.fps", f"must be > 0, got {p.decode.fps}")
    if p.decode.clip_len < 2:
        bad(
            "decode.clip_len", f"must be >= 2 (one overlap frame + at least one new), got {p.decode.clip_len}"
        )
    if p.decode.strategy not in ("auto", "full", "nonkey", "seek"):
        bad("decode.strategy", f"must be auto | full | nonkey | seek, got {p.decode.strategy!r}")
    if p.encoder.image_size % p.encoder.patch_size:
        bad(
            "encoder.image_size",
            f"{p.encoder.image_size} is not a multiple of patch_size {p.encoder.patch_size}",
        )
    views = p.classifier.views
    if views is not None:
        if not views or len(set(views)) != len(views):
            bad(
                "classifier.views",
                f"must be a non-empty list of distinct sizes (null: the encoder's), got {views}",
            )
        for v in views:
            if v < p.encoder.patch_size or v % p.encoder.patch_size:
                bad(
                    "classifier.views",
                    f"{v} is not a positive multiple of encoder.patch_size {p.encoder.patch_size}",
                )
    if p.classifier.pixel_maps and not p.classifier.patch_hidden:
        bad("classifier.pixel_maps", "needs classifier.patch_hidden > 0: pixel maps are per-patch evidence")
    if not 0 < p.sets.top_k <= 1:
        bad("sets.top_k", f"must be in (0, 1], got {p.sets.top_k}")
    if p.sets.reference not in ("previous", "background"):
        bad("sets.reference", f"must be previous | background, got {p.sets.reference!r}")
    if not 0 <= p.sets.background_momentum < 1:
        bad("sets.background_momentum", f"must be in [0, 1), got {p.sets.background_momentum}")
    if not 0 <= p.sets.min_brightness < 1:
        bad("sets.min_brightness", f"must be in [0, 1), got {p.sets.min_brightness}")
    k = p.sets.background_samples
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_BACKGROUND_SAMPLES:
        bad("sets.background_samples", f"must be a whole number in [1, {MAX_BACKGROUND_SAMPLES}], got {k!r}")
    if (p.intervals.low is None) != (p.intervals.high is None):
        bad("intervals", "give both high and low, or neither (null: the classifier's calibration)")
    if p.intervals.low is not None and not 0 <= p.intervals.low <= p.intervals.high <= 1:
        bad("intervals", f"need 0 <= low <= high <= 1, got low={p.intervals.low} high={p.intervals.high}")
    if p.tetg.encoding not in ("text", "embedding", "none"):
        bad("tetg.encoding", f"must be text | embedding | none, got {p.tetg.encoding!r}")
    if p.tetg.num_buckets < 2:
        bad("tetg.num_buckets", f"must be >= 2, got {p.tetg.num_buckets}")
    if p.tetg.max_frames < 1:
        bad("tetg.max_frames", f"must be >= 1, got {p.tetg.max_frames}")
    if p.classifier.members < 1:
        bad("classifier.members", f"must be >= 1, got {p.classifier.members}")
    if not 0 <= p.tetg.high <= 1:
        bad("tetg.high", f"must be in [0, 1], got {p.tetg.high}")
    if p.vision_tower.kind == "clip" and p.vision_tower.source is None:
        bad("vision_tower.source", "kind clip needs a source (folder, fsspec URL or hub id)")
    if p.projector.max_frames < 1:
        bad("projector.max_frames", f"must be >= 1, got {p.projector.max_frames}")
    if p.llm.hidden_size % p.llm.num_heads:
        bad("llm.hidden_size", f"{p.llm.hidden_size} is not a multiple of num_heads {p.llm.num_heads}")
    if p.vision_tower.kind not in ("shared", "clip"):
        bad("vision_tower.kind", f"must be shared | clip, got {p.vision_tower.kind!r}")
    if p.projector.kind not in ("mlp2x_gelu", "linear"):
        bad("projector.kind", f"must be mlp2x_gelu | linear, got {p.projector.kind!r}")
    if p.runtime.encoder_int8 and p.runtime.device != "cpu":
        bad(
            "runtime.encoder_int8",
            f"int8 dynamic quantisation runs on cpu only, device is {p.runtime.device!r}",
        )
    if not p.runtime.skip_static >= 0:
        bad(
            "runtime.skip_static",
            f"must be >= 0 (mean abs pixel difference, 0-255), got {p.runtime.skip_static}",
        )
    if p.runtime.dtype not in ("float32", "bfloat16", "float16"):
        bad("runtime.dtype", f"must be float32 | bfloat16 | float16, got {p.runtime.dtype!r}")
    if p.runtime.num_gpus < 0:
        bad("runtime.num_gpus", f"must be >= 0, got {p.runtime.num_gpus}")

"""The anomaly classifier's checkpoint: one folder format, one save, one load.

A classifier folder (local path or any fsspec URL) holds::

    model.safetensors   the state dict (float32), written first
    config.json         format, version, in_features, patch_features and grid (a classifier
                        that reads per-patch evidence; 0 and null otherwise), the ClassifierConfig, the kind head's
                        kinds, the feature description, and the interval calibration
                        (smooth_s, high, low, min_len_s, merge_gap_s tuned on validation
                        footage; the interval stage uses it over the preset's values),
                        and the lookahead in frames (output t scores frame t - lookahead,
                        va_gpt.models.classifier.align_outputs; absent in older folders: 0)
                        and whether it was trained to score a video's last frames with a
                        tail (models.classifier.with_tail; absent: false);
                        written LAST (a folder with it is complete)

A VA-GPT checkpoint bundles its classifier as the same folder under
`classifier/` (checkpoints/vagpt.py); `load_classifier` takes either URL.
VA-GPT checkpoints written before that kept the same two parts at their root
as `classifier.json` + `classifier.safetensors`; those still load.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from va_gpt.checkpoints.fetch import CheckpointError
from va_gpt.checkpoints.tensors import check_shapes
from va_gpt.config import ClassifierConfig, from_dict
from va_gpt.io.filesystem import filesystem
from va_gpt.models.classifier import AnomalyClassifier, ClassifierEnsemble, build_classifier

FORMAT = "va-gpt-anomaly-classifier"
FORMAT_VERSION = 2  # 2: evidence features, kind head, calibration (1: difference statistics only)
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
BUNDLED = "classifier"  # the folder of a VA-GPT checkpoint that holds its classifier
# (folder, config file, weights file) inside the URL, tried in order: a classifier folder,
# a VA-GPT checkpoint, a VA-GPT checkpoint of the earlier layout.
LAYOUTS = (
    ("", CONFIG_FILE, WEIGHTS_FILE),
    (BUNDLED, CONFIG_FILE, WEIGHTS_FILE),
    ("", "classifier.json", "classifier.safetensors"),
)


def checkpoint_config(
    model: AnomalyClassifier | ClassifierEnsemble,
    features: dict | None = None,
    calibration: dict | None = None,
) -> dict:
    """The JSON config stored with the weights. `features` describes how the inputs were made
    (recipe, use_cls, encoder identity...); the visual stage checks it against its own.
    `calibration`: interval settings tuned on validation (va_gpt.ops.intervals.resolve_intervals)."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "in_features": model.in_features,
        "patch_features": model.patch_features,
        "grid": list(model.grid) if model.grid else None,
        "classifier": dataclasses.asdict(model.cfg),
        "kinds": list(model.kinds),
        "features": dict(features or {}),
        "calibration": dict(calibration) if calibration else None,
        "lookahead": int(model.lookahead),
        "tail": bool(model.tail),
    }


def config_lookahead(config: dict, where: str) -> int:
    """The checkpoint config's lookahead in frames (0 when the config predates it); a clear
    error naming `where` when it is not a whole number >= 0."""
    value = config.get("lookahead", 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: lookahead must be a whole number of frames >= 0, got {value!r}")
    return value


def config_tail(config: dict, where: str) -> bool:
    """Whether the checkpoint's classifier scores a video's last frames with a tail (false when
    the config predates it); a clear error naming `where` when it is not true or false."""
    value = config.get("tail", False)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: tail must be true or false, got {value!r}")
    if value and not config.get("lookahead"):
        raise ValueError(
            f"{where}: tail is true but lookahead is {config.get('lookahead')!r}: a tail needs a lookahead"
        )
    return value


def checkpoint_state(model: AnomalyClassifier | ClassifierEnsemble) -> dict[str, torch.Tensor]:
    """The weights as stored: float32, CPU, contiguous."""
    return {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}


def write_classifier(folder: Path, state: dict[str, torch.Tensor], config: dict) -> list[str]:
    """Write a classifier folder locally from its parts; returns the file names in upload order."""
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"classifier config must be a checkpoint_config dict (format {FORMAT!r})")
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().cpu().contiguous() for k, v in state.items()}
    save_file(state, folder / WEIGHTS_FILE, metadata={"format": FORMAT})
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    return [WEIGHTS_FILE, CONFIG_FILE]


def save_classifier(
    model: AnomalyClassifier | ClassifierEnsemble,
    url: str,
    features: dict | None = None,
    storage_options: dict | None = None,
    calibration: dict | None = None,
) -> None:
    """Write the classifier folder at `url` (local path or fsspec URL): written to a local temp
    folder, then uploaded, config.json last."""
    fs, path = filesystem(url, storage_options)
    with tempfile.TemporaryDirectory() as tmp:
        names = write_classifier(
            Path(tmp), checkpoint_state(model), checkpoint_config(model, features, calibration)
        )
        fs.makedirs(path, exist_ok=True)
        for name in names:
            fs.put_file(str(Path(tmp) / name), f"{path}/{name}")


def classifier_from_parts(
    state: dict[str, torch.Tensor], config: dict, config_url: str, weights_url: str
) -> AnomalyClassifier | ClassifierEnsemble:
    """Rebuild a classifier from its config dict and state dict; errors name the file at fault."""
    where = config_url
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        got = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{where}: format is {got!r}, expected {FORMAT!r}")
    if config.get("version", 1) < FORMAT_VERSION:
        raise ValueError(
            f"{where}: classifier format version {config.get('version', 1)} (difference statistics, "
            f"no kind head) is no longer served; retrain it with `vagpt train-classifier`"
        )
    for key in ("in_features", "classifier", "kinds"):
        if key not in config:
            raise ValueError(f"{where}: missing key {key!r}")
    cls_cfg = from_dict(ClassifierConfig, config["classifier"], f"{where}:classifier")
    grid = config.get("grid")
    if cls_cfg.patch_hidden and not (config.get("patch_features") and grid):
        raise ValueError(
            f"{where}: a patch classifier (patch_hidden {cls_cfg.patch_hidden}) needs patch_features and grid"
        )
    model = build_classifier(
        int(config["in_features"]), cls_cfg, tuple(config["kinds"]),
        patch_features=int(config.get("patch_features") or 0), grid=tuple(grid) if grid else None,
    )  # fmt: skip
    model.lookahead = config_lookahead(config, where)
    model.tail = config_tail(config, where)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    folder, name = weights_url.rsplit("/", 1) if "/" in weights_url else (".", weights_url)
    check_shapes({k: (tuple(v.shape), name) for k, v in state.items()}, expected, folder, strict=True)
    model.load_state_dict(state)
    return model.eval()


def _layout(fs, path: str) -> tuple[str, str] | None:
    """(config path, weights path) of the classifier at `path`, per LAYOUTS; None when there is none."""
    for folder, config, weights in LAYOUTS:
        base = f"{path}/{folder}" if folder else path
        if fs.exists(f"{base}/{config}"):
            return f"{base}/{config}", f"{base}/{weights}"
    return None


def has_classifier(url: str, storage_options: dict | None = None) -> bool:
    """Whether `url` is a classifier folder or a VA-GPT checkpoint that bundles one."""
    fs, path = filesystem(url, storage_options)
    return _layout(fs, path.rstrip("/")) is not None


class ClassifierMissing(CheckpointError, FileNotFoundError):
    """A classifier folder without its config or weights: a bad input said in one line by the CLI
    (a CheckpointError), and still the FileNotFoundError callers of a missing file expect."""


def _read_weights(fs, weights_path: str, weights_url: str) -> dict:
    """The state dict in a classifier's safetensors file; CheckpointError naming the file when it
    is not one (truncated, overwritten, another format)."""
    try:
        return load_safetensors(fs.cat_file(weights_path))
    except Exception as e:  # noqa: BLE001  (safetensors raises its own Rust-side error types)
        raise CheckpointError(f"{weights_url}: not a readable safetensors file ({e})") from None


def load_classifier(
    url: str, storage_options: dict | None = None, device: str = "cpu"
) -> tuple[AnomalyClassifier | ClassifierEnsemble, dict]:
    """Read a classifier folder, or the classifier bundled in a VA-GPT checkpoint, from `url`
    -> (model in eval mode, its config dict)."""
    fs, path = filesystem(url, storage_options)
    path, base = path.rstrip("/"), url.rstrip("/")
    found = _layout(fs, path)
    if found is None:
        raise ClassifierMissing(f"classifier checkpoint {url}: missing {base}/{CONFIG_FILE}")
    config_path, weights_path = found
    config_url, weights_url = base + config_path[len(path) :], base + weights_path[len(path) :]
    if not fs.exists(weights_path):
        raise ClassifierMissing(f"classifier checkpoint {url}: missing {weights_url}")
    try:
        config = json.loads(fs.cat_file(config_path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{config_url}: not valid JSON ({e})") from e
    state = _read_weights(fs, weights_path, weights_url)
    model = classifier_from_parts(state, config, config_url, weights_url)
    return model.to(device), config


def write_calibration(
    url: str, calibration: dict, storage_options: dict | None = None, energy_calibration: dict | None = None
) -> str:
    """Replace the interval calibration in the config of the classifier at `url` (a classifier
    folder or a VA-GPT checkpoint that bundles one), and with `energy_calibration` the raw motion
    energy's (features.diff_energy_calibration, vagpt eval's baseline row), the weights untouched;
    returns the config's path. The config is written whole in one put: on an object store a reader
    sees the old one or the new one; a local file is rewritten in place, so recalibrate while no
    run reads it."""
    fs, path = filesystem(url, storage_options)
    found = _layout(fs, path.rstrip("/"))
    if found is None:
        raise ClassifierMissing(f"classifier checkpoint {url}: missing {url.rstrip('/')}/{CONFIG_FILE}")
    config = json.loads(fs.cat_file(found[0]))
    config["calibration"] = dict(calibration)
    if energy_calibration is not None:
        config.setdefault("features", {})["diff_energy_calibration"] = dict(energy_calibration)
    fs.pipe_file(found[0], json.dumps(config, indent=1).encode())
    return found[0]


def classifier_parts(url: str | None, storage_options: dict | None = None) -> tuple:
    """(state dict, config) of the classifier at `url`, to bundle into a VA-GPT checkpoint;
    (None, None) without one."""
    if not url:
        return None, None
    model, config = load_classifier(url, storage_options)
    return checkpoint_state(model), config


def read_classifier_config(url: str, storage_options: dict | None = None) -> dict:
    """Only the config.json of the classifier at `url` (no weights): its kinds and calibration."""
    fs, path = filesystem(url, storage_options)
    found = _layout(fs, path.rstrip("/"))
    if found is None:
        raise ClassifierMissing(f"classifier checkpoint {url}: missing {url.rstrip('/')}/{CONFIG_FILE}")
    try:
        return json.loads(fs.cat_file(found[0]))
    except json.JSONDecodeError as e:
        raise ValueError(f"{url}: classifier config is not valid JSON ({e})") from e

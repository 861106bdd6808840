"""Checkpoints and model folders at any fsspec URL.

One checkpoint folder format (local path, file://, s3://, any fsspec URL)::

    checkpoint.json          format, model_version, the list of files; written LAST (commit marker)
    preset.yaml              the Preset the model was built from
    tokenizer/               tokenizer.save_pretrained
    llm/                     llm.save_pretrained (config.json, model*.safetensors)
    projector.safetensors    projector state dict
    encoder/                 DINOv2 (Dinov2Model.save_pretrained): always when the preset's
                             encoder is random-initialised (source null), optional otherwise
    vision_tower/            CLIP vision model, optional (kind clip)
    classifier.safetensors   optional: the frame classifier's state dict, stored generically,
    classifier.json          with its constructor config as JSON

Writing goes to a local temp folder, then each file is uploaded; checkpoint.json
goes last, so a half-uploaded checkpoint is never taken for a whole one.
Reading fetches the folder once into a local cache dir keyed by URL + the
objects' etags/sizes, then uses `from_pretrained` on the local folder.

Bad input raises `CheckpointError` naming the URL and the file (a missing part,
a tensor of the wrong shape with both shapes), never a deep library traceback.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FORMAT = 1
META = "checkpoint.json"


class CheckpointError(ValueError):
    """A checkpoint or model folder that cannot be read as one."""


# -- fsspec folders --------------------------------------------------------------------------------


def cache_root() -> Path:
    """Where remote folders are fetched to: $VAGPT_CACHE_DIR or ~/.cache/va_gpt."""
    return Path(os.environ.get("VAGPT_CACHE_DIR") or Path.home() / ".cache" / "va_gpt")


def _is_url(s: str) -> bool:
    return "://" in s


def _local_path(url: str) -> str | None:
    """The local path of a plain path or file:// URL; None for other protocols."""
    if not _is_url(url):
        return os.path.expanduser(url)
    if url.startswith("file://"):
        return url[len("file://") :]
    return None


def _fs(url: str, storage_options: dict | None):
    from fsspec.core import url_to_fs

    return url_to_fs(url, **(storage_options or {}))


def fetch_folder(url: str, storage_options: dict | None = None) -> str:
    """Copy the folder at fsspec `url` into the local cache once; return the local path.

    The cache key is the URL plus every object's relative path, etag (or mtime)
    and size, so a changed object fetches a fresh copy and an unchanged one is reused.
    """
    local = _local_path(url)
    if local is not None:
        if not os.path.isdir(local):
            raise CheckpointError(f"{url}: no such folder")
        return local
    fs, root = _fs(url, storage_options)
    root = root.rstrip("/")
    try:
        entries = fs.find(root, detail=True)
    except Exception as e:  # noqa: BLE001 - any backend error becomes one clear message
        raise CheckpointError(f"{url}: cannot list the folder ({type(e).__name__}: {e})") from None
    if not entries:
        raise CheckpointError(f"{url}: no files there")
    listing = sorted(
        (
            p[len(root) + 1 :],
            str(info.get("ETag") or info.get("etag") or info.get("mtime") or ""),
            int(info.get("size") or 0),
        )
        for p, info in entries.items()
    )
    key = hashlib.sha256(json.dumps([url.rstrip("/"), listing]).encode()).hexdigest()[:24]
    dest = cache_root() / "folders" / key
    if dest.is_dir():
        return str(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{key}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        for rel, _, _ in listing:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(f"{root}/{rel}", str(target))
        try:
            os.rename(tmp, dest)
        except OSError:  # another process won the race: use its copy
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(dest)


def local_model_dir(source: str, storage_options: dict | None = None) -> str:
    """Resolve a model `source` for `from_pretrained`.

    - an existing local folder (or file:// URL of one) -> returned as is;
    - an s3:// or other fsspec URL of a folder -> fetched into the cache, the local path returned;
    - a path-like string (starting with / . ~) that does not exist -> CheckpointError;
    - anything else is a hub id, returned unchanged (from_pretrained tries the hub,
      which fails offline; wrap the call in `from_pretrained_clear` for a clear message).
    """
    local = _local_path(source)
    if local is not None and os.path.isdir(local):
        return local
    if _is_url(source):
        return fetch_folder(source, storage_options)
    if source.startswith(("/", ".", "~")):
        raise CheckpointError(f"{source}: no such local model folder")
    return source


def from_pretrained_clear(loader: Any, source: str, what: str, **kwargs: Any) -> Any:
    """`loader.from_pretrained(source, **kwargs)` (or `loader(source)`), with one clear error on failure."""
    load = loader.from_pretrained if hasattr(loader, "from_pretrained") else loader
    try:
        return load(source, **kwargs)
    except (OSError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if os.path.isdir(source):
            raise CheckpointError(f"{what}: cannot load from folder {source}: {first}") from None
        raise CheckpointError(
            f"{what}: {source!r} is neither a local folder nor an fsspec URL, so it was tried as a "
            f"Hugging Face hub id and failed (no network here?): {first}"
        ) from None


# -- tensor files ----------------------------------------------------------------------------------


def _file_shapes(files: list[Path]) -> dict[str, tuple[tuple[int, ...], Path]]:
    """Tensor name -> (shape, file) over safetensors files, read from the headers only."""
    from safetensors import safe_open

    out = {}
    for f in files:
        try:
            with safe_open(str(f), "pt") as h:
                for k in h.keys():
                    out[k] = (tuple(h.get_slice(k).get_shape()), f)
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"{f}: not a readable safetensors file ({e})") from None
    return out


def _check_shapes(
    found: dict[str, tuple[tuple[int, ...], Path]],
    expected: dict[str, tuple[int, ...]],
    where: str,
    strict: bool,
) -> None:
    """Raise CheckpointError naming the tensor, the file and both shapes; `strict` also checks the key sets."""
    for k, shape in expected.items():
        if k in found and found[k][0] != shape:
            raise CheckpointError(
                f"{where}: tensor {k!r} in {found[k][1].name} has shape {list(found[k][0])}, "
                f"the model expects {list(shape)}"
            )
    if strict:
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        if missing:
            raise CheckpointError(f"{where}: missing tensor(s) {missing[:5]}")
        if unexpected:
            raise CheckpointError(f"{where}: unexpected tensor(s) {unexpected[:5]}")


def load_state_file(path: Path, module: Any, where: str) -> None:
    """Load a safetensors state dict into `module` after checking names and shapes."""
    from safetensors.torch import load_file

    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    _check_shapes(_file_shapes([path]), expected, where, strict=True)
    module.load_state_dict(load_file(str(path), device="cpu"))


def _load_hf_folder(auto_cls: Any, folder: Path, where: str, **kwargs: Any) -> Any:
    """from_pretrained on a saved HF folder, with shapes checked against its config first."""
    import torch
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.from_pretrained(str(folder))
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{where}: unreadable config.json ({e})") from None
    with torch.device("meta"):
        skeleton = auto_cls.from_config(cfg) if hasattr(auto_cls, "from_config") else auto_cls(cfg)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{where}: no *.safetensors weights in the folder")
    _check_shapes(_file_shapes(files), expected, where, strict=False)
    try:
        model, info = auto_cls.from_pretrained(str(folder), output_loading_info=True, **kwargs)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(
            f"{where}: cannot load ({type(e).__name__}: {str(e).splitlines()[0]})"
        ) from None
    if info.get("missing_keys"):
        raise CheckpointError(f"{where}: missing tensor(s) {sorted(info['missing_keys'])[:5]}")
    return model


# -- checkpoints -----------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    model: Any  # VAGPT
    preset: Any  # Preset
    model_version: str
    classifier_state: dict | None  # tensor name -> Tensor, or None when the checkpoint has no classifier
    classifier_config: dict | None
    local_dir: str


def _write_dir(
    model: Any, out: Path, classifier: Any, classifier_config: dict | None, include_encoder: bool
) -> None:
    from safetensors.torch import save_file

    from va_gpt.config import to_dict
    from va_gpt.models.vagpt import ClipVisionTower

    (out / "preset.yaml").write_text(yaml.safe_dump(to_dict(model.config), sort_keys=False))
    model.tokenizer.save_pretrained(str(out / "tokenizer"))
    model.llm.save_pretrained(str(out / "llm"))
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.projector.state_dict().items()},
        out / "projector.safetensors",
    )
    if model.sets_encoder is not None and (include_encoder or model.config.encoder.source is None):
        model.sets_encoder.model.save_pretrained(str(out / "encoder"))
    if include_encoder and isinstance(model.vision, ClipVisionTower):
        model.vision.model.save_pretrained(str(out / "vision_tower"))
    if classifier is not None:
        state = classifier.state_dict() if hasattr(classifier, "state_dict") else dict(classifier)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in state.items()}, out / "classifier.safetensors"
        )
        (out / "classifier.json").write_text(json.dumps(classifier_config or {}, indent=1, sort_keys=True))


def _content_hash(out: Path, files: list[str]) -> str:
    h = hashlib.sha256()
    for rel in files:
        h.update(rel.encode())
        with open(out / rel, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()[:12]


def save_checkpoint(
    model: Any,
    url: str,
    storage_options: dict | None = None,
    *,
    classifier: Any = None,
    classifier_config: dict | None = None,
    include_encoder: bool = False,
    model_version: str | None = None,
    overwrite: bool = False,
) -> str:
    """Write `model` (a VAGPT) and optionally the frame classifier as a checkpoint folder at `url`.

    classifier: an nn.Module or a state dict; classifier_config: JSON-able dict
    needed to rebuild it. model_version defaults to "<preset>-<content hash>".
    An existing checkpoint at `url` is an error unless `overwrite`. Returns the model_version.
    """
    fs, root = _fs(url, storage_options)
    root = root.rstrip("/")
    if fs.exists(root) and fs.find(root):
        if not overwrite:
            raise CheckpointError(f"{url}: already holds files; pass overwrite=True to replace them")
        fs.rm(root, recursive=True)
    with tempfile.TemporaryDirectory(prefix="vagpt-ckpt-") as tmp:
        out = Path(tmp)
        _write_dir(model, out, classifier, classifier_config, include_encoder)
        files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        version = model_version or f"{model.config.name}-{_content_hash(out, files)}"
        meta = {"format": FORMAT, "model_version": version, "files": files}
        (out / META).write_text(json.dumps(meta, indent=1))
        for rel in [*files, META]:  # META last: the commit marker
            target = f"{root}/{rel}"
            if _local_path(url) is not None:
                os.makedirs(os.path.dirname(target), exist_ok=True)
            fs.put_file(str(out / rel), target)
    return version


def read_meta(local_dir: str, url: str) -> dict:
    path = Path(local_dir) / META
    if not path.exists():
        raise CheckpointError(f"{url}: missing {META} (not a checkpoint, or its save did not finish)")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{url}/{META}: format {meta.get('format')!r}, this code reads {FORMAT}")
    missing = [rel for rel in meta["files"] if not (Path(local_dir) / rel).is_file()]
    if missing:
        raise CheckpointError(
            f"{url}: missing file {missing[0]}" + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    return meta


def load_checkpoint(
    url: str, storage_options: dict | None = None, device: str | None = None, dtype: str | None = None
) -> Checkpoint:
    """Read a checkpoint folder written by `save_checkpoint` from any fsspec URL.

    device / dtype override the preset's runtime section (e.g. load a GPU
    checkpoint on CPU). The classifier, when present, comes back as a state
    dict plus its config: the caller builds its module and loads it.
    """
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, Dinov2Model

    from va_gpt.config import preset_from_dict
    from va_gpt.models.dinov2 import DTYPES, DinoEncoder
    from va_gpt.models.projector import build_projector
    from va_gpt.models.tokenizer import load_tokenizer
    from va_gpt.models.vagpt import VAGPT, ClipVisionTower

    local = Path(fetch_folder(url, storage_options))
    meta = read_meta(str(local), url)
    files = set(meta["files"])
    preset = preset_from_dict(yaml.safe_load((local / "preset.yaml").read_text()), f"{url}/preset.yaml")
    runtime = dataclasses.replace(
        preset.runtime, device=device or preset.runtime.device, dtype=dtype or preset.runtime.dtype
    )
    preset = dataclasses.replace(preset, runtime=runtime)
    dev, dt = runtime.device, DTYPES[runtime.dtype]

    tokenizer = from_pretrained_clear(load_tokenizer, str(local / "tokenizer"), f"{url}/tokenizer")
    llm = _load_hf_folder(AutoModelForCausalLM, local / "llm", f"{url}/llm", dtype=dt).to(dev)

    enc_cfg = preset.encoder
    if "encoder/config.json" in files:
        enc_model = _load_hf_folder(Dinov2Model, local / "encoder", f"{url}/encoder")
        sets_encoder = DinoEncoder(enc_model.eval(), enc_cfg.image_size, enc_cfg.patch_size).to(dev, dt)
    elif enc_cfg.source is not None:
        sets_encoder = DinoEncoder.from_config(enc_cfg, device=dev, dtype=runtime.dtype)
    else:
        raise CheckpointError(
            f"{url}: missing file encoder/config.json (the preset's encoder is random-initialised)"
        )
    if preset.vision_tower.kind == "shared":
        vision = sets_encoder
    elif "vision_tower/config.json" in files:
        from transformers import CLIPVisionModel

        vision = ClipVisionTower(
            _load_hf_folder(CLIPVisionModel, local / "vision_tower", f"{url}/vision_tower").eval()
        )
        vision = vision.to(dev, dt)
    else:
        vision = ClipVisionTower.from_source(preset.vision_tower.source, dev, runtime.dtype, storage_options)

    projector = build_projector(preset.projector.kind, vision.hidden_size, llm.config.hidden_size)
    load_state_file(local / "projector.safetensors", projector, f"{url}/projector.safetensors")
    projector = projector.to(dev, dt)

    classifier_state = classifier_config = None
    if "classifier.safetensors" in files:
        classifier_state = load_file(str(local / "classifier.safetensors"), device="cpu")
        classifier_config = json.loads((local / "classifier.json").read_text())

    with torch.no_grad():
        model = VAGPT(vision, projector, llm, tokenizer, preset, sets_encoder=sets_encoder).eval()
    return Checkpoint(
        model=model,
        preset=preset,
        model_version=meta["model_version"],
        classifier_state=classifier_state,
        classifier_config=classifier_config,
        local_dir=str(local),
    )


def load_classifier_state(url: str, storage_options: dict | None = None) -> tuple[dict, dict]:
    """Only the classifier part of a checkpoint: (state dict, config dict)."""
    from safetensors.torch import load_file

    local = Path(fetch_folder(url, storage_options))
    meta = read_meta(str(local), url)
    if "classifier.safetensors" not in meta["files"]:
        raise CheckpointError(f"{url}: the checkpoint holds no classifier (classifier.safetensors)")
    return (
        load_file(str(local / "classifier.safetensors"), device="cpu"),
        json.loads((local / "classifier.json").read_text()),
    )

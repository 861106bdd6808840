"""VA-GPT checkpoint folders at any fsspec URL: save_checkpoint / load_checkpoint.

One checkpoint folder format (local path, file://, s3://, any fsspec URL)::

    checkpoint.json          format, model_version, the list of files; written LAST (commit marker)
    preset.yaml              the Preset the model was built from
    tokenizer/               tokenizer.save_pretrained
    llm/                     llm.save_pretrained (config.json, model*.safetensors)
    projector.safetensors    projector state dict
    encoder/                 DINOv2 (Dinov2Model.save_pretrained): always when the preset's
                             encoder is random-initialised (source null), optional otherwise
    vision_tower/            CLIP vision model, optional (kind clip)
    classifier/              optional: the anomaly classifier's folder (checkpoints/classifier.py)
    answers.json             optional: the sentences the LLM was trained to write per answer
                             field (VAGPT.answers; {"description": [...], "analysis": [...]})

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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, CLIPVisionModel, Dinov2Model

from va_gpt.checkpoints.build import build_encoder, load_clip_tower
from va_gpt.checkpoints.classifier import BUNDLED, write_classifier
from va_gpt.checkpoints.fetch import CheckpointError, fetch_folder, from_pretrained_clear, local_path
from va_gpt.checkpoints.tensors import load_hf_folder, load_state_file
from va_gpt.config import preset_from_dict, to_dict
from va_gpt.io.filesystem import filesystem
from va_gpt.models.dinov2 import DTYPES, DinoEncoder
from va_gpt.models.projector import build_projector
from va_gpt.models.vagpt import VAGPT, ClipVisionTower

FORMAT = 1
META = "checkpoint.json"
ANSWERS = "answers.json"


@dataclass
class Checkpoint:
    model: Any  # VAGPT
    preset: Any  # Preset
    model_version: str
    local_dir: str


def _write_dir(
    model: Any, out: Path, classifier: Any, classifier_config: dict | None, include_encoder: bool
) -> None:
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
    if model.answers:
        (out / ANSWERS).write_text(json.dumps(model.answers, indent=1))
    if classifier is not None:
        state = classifier.state_dict() if hasattr(classifier, "state_dict") else dict(classifier)
        write_classifier(out / BUNDLED, state, classifier_config)


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

    classifier: an AnomalyClassifier or its state dict; classifier_config: its
    checkpoints.classifier.checkpoint_config dict (stored as the `classifier/` folder).
    model_version defaults to "<preset>-<content hash>".
    An existing checkpoint at `url` is an error unless `overwrite`. Returns the model_version.
    """
    fs, root = filesystem(url, storage_options)
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
            if local_path(url) is not None:
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


def _answers(path: Path, where: str) -> dict[str, list[str]]:
    """answers.json -> {field: [sentence, ...]}, or CheckpointError naming the file and the reason."""
    try:
        answers = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{where}: not valid JSON ({e})") from e
    if not isinstance(answers, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v) for v in answers.values()
    ):
        raise CheckpointError(f"{where}: expected {{field: [non-empty sentence, ...]}}")
    return answers


def load_checkpoint(
    url: str, storage_options: dict | None = None, device: str | None = None, dtype: str | None = None
) -> Checkpoint:
    """Read a checkpoint folder written by `save_checkpoint` from any fsspec URL.

    device / dtype override the preset's runtime section (e.g. load a GPU
    checkpoint on CPU). A bundled classifier is read by checkpoints.classifier.load_classifier(url).
    """
    local = Path(fetch_folder(url, storage_options))
    meta = read_meta(str(local), url)
    files = set(meta["files"])
    preset = preset_from_dict(yaml.safe_load((local / "preset.yaml").read_text()), f"{url}/preset.yaml")
    runtime = dataclasses.replace(
        preset.runtime, device=device or preset.runtime.device, dtype=dtype or preset.runtime.dtype
    )
    preset = dataclasses.replace(preset, runtime=runtime)
    dev, dt = runtime.device, DTYPES[runtime.dtype]

    tokenizer = from_pretrained_clear(AutoTokenizer, str(local / "tokenizer"), f"{url}/tokenizer")
    llm = load_hf_folder(AutoModelForCausalLM, local / "llm", f"{url}/llm", dtype=dt).to(dev)

    enc_cfg = preset.encoder
    if "encoder/config.json" in files:
        enc_model = load_hf_folder(Dinov2Model, local / "encoder", f"{url}/encoder")
        sets_encoder = DinoEncoder(enc_model.eval(), enc_cfg.image_size, enc_cfg.patch_size).to(dev, dt)
    elif enc_cfg.source is not None:
        sets_encoder = build_encoder(enc_cfg, dev, runtime.dtype, storage_options)
    else:
        raise CheckpointError(
            f"{url}: missing file encoder/config.json (the preset's encoder is random-initialised)"
        )
    if preset.vision_tower.kind == "shared":
        vision = sets_encoder
    elif "vision_tower/config.json" in files:
        vision = ClipVisionTower(
            load_hf_folder(CLIPVisionModel, local / "vision_tower", f"{url}/vision_tower").eval()
        )
        vision = vision.to(dev, dt)
    else:
        vision = load_clip_tower(preset.vision_tower.source, dev, runtime.dtype, storage_options)

    projector = build_projector(preset.projector.kind, vision.hidden_size, llm.config.hidden_size)
    load_state_file(local / "projector.safetensors", projector, f"{url}/projector.safetensors")
    projector = projector.to(dev, dt)

    answers = _answers(local / ANSWERS, f"{url}/{ANSWERS}") if ANSWERS in files else None
    with torch.no_grad():
        model = VAGPT(vision, projector, llm, tokenizer, preset, sets_encoder=sets_encoder, answers=answers)
    model.eval()
    return Checkpoint(
        model=model,
        preset=preset,
        model_version=meta["model_version"],
        local_dir=str(local),
    )

"""Safetensors weights checked against the module they load into, before loading.

A tensor of the wrong shape, a missing or an unexpected one raises a
`CheckpointError` naming the folder, the file, the tensor and both shapes,
never a deep library traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoConfig

from va_gpt.checkpoints.fetch import CheckpointError

Shapes = dict[str, tuple[tuple[int, ...], str]]  # tensor name -> (shape, the file that holds it)


def file_shapes(files: list[Path]) -> Shapes:
    """Tensor name -> (shape, file name) over safetensors files, read from the headers only."""
    out = {}
    for f in files:
        try:
            with safe_open(str(f), "pt") as h:
                for k in h.keys():
                    out[k] = (tuple(h.get_slice(k).get_shape()), f.name)
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"{f}: not a readable safetensors file ({e})") from None
    return out


def check_shapes(found: Shapes, expected: dict[str, tuple[int, ...]], where: str, strict: bool) -> None:
    """Raise CheckpointError naming the tensor, the file and both shapes; `strict` also checks the key sets."""
    for k, shape in expected.items():
        if k in found and found[k][0] != shape:
            raise CheckpointError(
                f"{where}: tensor {k!r} in {found[k][1]} has shape {list(found[k][0])}, "
                f"the model expects {list(shape)}"
            )
    if strict:
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        if missing:
            raise CheckpointError(f"{where}: missing tensor(s) {missing[:5]}")
        if unexpected:
            raise CheckpointError(f"{where}: unexpected tensor(s) {unexpected[:5]}")


def load_state_file(path: Path, module: torch.nn.Module, where: str) -> None:
    """Load a safetensors state dict into `module` after checking names and shapes."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    check_shapes(file_shapes([path]), expected, where, strict=True)
    module.load_state_dict(load_file(str(path), device="cpu"))


def load_hf_folder(auto_cls: Any, folder: Path, where: str, **kwargs: Any) -> Any:
    """from_pretrained on a saved HF folder, with shapes checked against its config first."""
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
    check_shapes(file_shapes(files), expected, where, strict=False)
    try:
        model, info = auto_cls.from_pretrained(str(folder), output_loading_info=True, **kwargs)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(
            f"{where}: cannot load ({type(e).__name__}: {str(e).splitlines()[0]})"
        ) from None
    if info.get("missing_keys"):
        raise CheckpointError(f"{where}: missing tensor(s) {sorted(info['missing_keys'])[:5]}")
    return model

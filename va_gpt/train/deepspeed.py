"""DeepSpeed as the training backend: its JSON config filled from the TrainConfig, and the engine.

A single process sets its own RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT;
on a CPU-only machine DeepSpeed's CPU accelerator runs with the gloo backend.
deepspeed itself is imported only when an engine is started (the `train` extra).
"""

from __future__ import annotations

import json
import os
import socket

import torch

from va_gpt.train.config import TrainConfig, TrainError
from va_gpt.train.losses import LossModule
from va_gpt.train.trainable import adamw, clean_groups


def _single_process_env() -> None:
    """The environment torch.distributed reads, for one local process (unless a launcher set it)."""
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("LOCAL_WORLD_SIZE", "1")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(s.getsockname()[1])
    if "TORCH_EXTENSIONS_DIR" not in os.environ:  # DeepSpeed's op builds stay inside the work tree
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        os.environ["TORCH_EXTENSIONS_DIR"] = os.path.join(root, ".torch_extensions")


def deepspeed_config(path: str, cfg: TrainConfig, dtype: str) -> dict:
    """Read a DeepSpeed JSON config and fill its "auto" values from the TrainConfig and the model dtype."""
    try:
        with open(path) as f:
            ds = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise TrainError(f"DeepSpeed config {path}: {e}") from None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    fill = {
        "train_micro_batch_size_per_gpu": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "train_batch_size": cfg.batch_size * cfg.grad_accum * world,
        "gradient_clipping": cfg.max_grad_norm,
    }
    for k, v in fill.items():
        if ds.get(k) == "auto":
            ds[k] = v
    for key, want in (("bf16", dtype == "bfloat16"), ("fp16", dtype == "float16")):
        if isinstance(ds.get(key), dict) and ds[key].get("enabled") == "auto":
            ds[key]["enabled"] = want
    opt = ds.get("optimizer")
    if isinstance(opt, dict):
        params = opt.setdefault("params", {})
        for k, v in (("lr", cfg.lr), ("weight_decay", cfg.weight_decay)):
            if params.get(k) == "auto":
                params[k] = v
    bad = [k for k, v in _walk(ds) if v == "auto"]
    if bad:
        raise TrainError(f"DeepSpeed config {path}: cannot fill 'auto' for {bad}")
    return ds


def _walk(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _walk(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def deepspeed_engine(model, groups, cfg: TrainConfig, total: int):
    """(engine, description); raises whatever DeepSpeed raises when it cannot start here."""
    _single_process_env()
    import deepspeed
    from deepspeed.accelerator import get_accelerator

    accel = get_accelerator().device_name()
    backend = "gloo" if accel == "cpu" else None
    if not deepspeed.comm.is_initialized():
        deepspeed.init_distributed(dist_backend=backend) if backend else deepspeed.init_distributed()
    ds_cfg = deepspeed_config(cfg.deepspeed, cfg, model.config.runtime.dtype)
    optimizer = None
    if "optimizer" not in ds_cfg:
        optimizer = adamw(clean_groups(groups), cfg)
    engine, _, _, _ = deepspeed.initialize(
        model=LossModule(model),
        optimizer=optimizer,
        model_parameters=None if optimizer is not None else [p for g in groups for p in g["params"]],
        config=ds_cfg,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cfg.lr_factor(s, total)),
    )
    zero = ds_cfg.get("zero_optimization", {}).get("stage", 0)
    desc = f"DeepSpeed {deepspeed.__version__} (ZeRO-{zero}, {accel} accelerator"
    desc += f", {backend} backend)" if backend else ")"
    return engine, desc

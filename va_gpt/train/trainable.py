"""What trains in each stage: frozen and trainable parameters, LoRA adapters, the optimizer,
and the model exported for saving (LoRA deltas merged into a copy of the weights).

peft is imported only where LoRA is used (the `train` extra).
"""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from va_gpt.models.vagpt import VAGPT
from va_gpt.train.config import TrainConfig, TrainError

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def is_lora(model: VAGPT) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # without peft (the `train` extra) no model carries adapters
        return False
    return isinstance(model.llm, PeftModel)


def apply_lora(model: VAGPT, cfg: TrainConfig) -> None:
    """Wrap model.llm with LoRA adapters (seeded init) on the attention and MLP projections."""
    from peft import LoraConfig, get_peft_model

    if is_lora(model):
        return
    names = {n.rsplit(".", 1)[-1] for n, _ in model.llm.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names]
    if not targets:
        raise TrainError(f"LoRA: the LLM has none of the projections {LORA_TARGETS}")
    lcfg = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model.llm = get_peft_model(model.llm, lcfg)


def _row_mask_hook(rows: list[int], num_rows: int, device) -> tuple:
    mask = torch.zeros(num_rows, 1, device=device)
    mask[rows] = 1.0
    return lambda g: g * mask.to(g.dtype)


def configure_trainable(model: VAGPT, cfg: TrainConfig) -> tuple[list[dict], list]:
    """Freeze / unfreeze for the stage; returns (optimizer param groups, hook handles to remove later).

    Stage 1: projector (+ score-bucket rows of the input embedding when the
    TETG encoding is `embedding`). Stage 2: projector + the whole LLM, or
    projector + LoRA adapters (+ score-bucket rows for `embedding`).
    """
    for p in model.parameters():
        p.requires_grad_(False)
    groups: list[dict] = []
    handles = []
    if cfg.stage == 0:
        if is_lora(model):
            raise TrainError("stage 0 trains the whole LLM; this model carries LoRA adapters")
        llm_params = [p for p in model.llm.parameters()]
        for p in llm_params:
            p.requires_grad_(True)
        return [{"params": llm_params, "weight_decay": cfg.weight_decay, "name": "llm"}], handles
    proj = [p for p in model.projector.parameters()]
    for p in proj:
        p.requires_grad_(True)
    groups.append({"params": proj, "weight_decay": cfg.weight_decay, "name": "projector"})
    embedding_rows = model.config.tetg.encoding == "embedding"
    if cfg.stage == 2:
        if cfg.lora:
            apply_lora(model, cfg)
            for (
                p
            ) in model.projector.parameters():  # get_peft_model froze nothing outside llm, but be explicit
                p.requires_grad_(True)
            adapters = [p for n, p in model.llm.named_parameters() if "lora_" in n]
            for p in adapters:
                p.requires_grad_(True)
            groups.append({"params": adapters, "weight_decay": cfg.weight_decay, "name": "lora"})
        else:
            if is_lora(model):
                raise TrainError("the model carries LoRA adapters; full stage-2 tuning needs a merged model")
            llm_params = [p for p in model.llm.parameters()]
            for p in llm_params:
                p.requires_grad_(True)
            groups.append({"params": llm_params, "weight_decay": cfg.weight_decay, "name": "llm"})
            embedding_rows = False  # the whole embedding trains already
    if embedding_rows:
        emb = model.llm.get_input_embeddings().weight
        emb.requires_grad_(True)
        handles.append(emb.register_hook(_row_mask_hook(model.score_token_ids, emb.shape[0], emb.device)))
        # no weight decay here: it would shrink the frozen rows too
        groups.append({"params": [emb], "weight_decay": 0.0, "name": "score_rows"})
    return groups, handles


def trainable_state(model: VAGPT) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: VAGPT, state: dict[str, torch.Tensor], where: str) -> None:
    params = dict(model.named_parameters())
    missing = sorted(set(state) - set(params))
    if missing:
        raise TrainError(f"{where}: trainer state has tensors the model lacks: {missing[:3]}")
    with torch.no_grad():
        for n, v in state.items():
            if params[n].shape != v.shape:
                raise TrainError(
                    f"{where}: {n} has shape {tuple(v.shape)}, the model {tuple(params[n].shape)}"
                )
            params[n].copy_(v.to(params[n].device, params[n].dtype))


def export_model(model: VAGPT) -> VAGPT:
    """The model as a plain VAGPT for saving: LoRA deltas merged into a copy of the LLM weights.

    The live model is not changed (its adapters keep training). Without LoRA the model itself.
    """
    if not is_lora(model):
        return model
    base = model.llm.get_base_model()  # the HF model with LoRA layers injected
    modules = dict(base.named_modules())
    state = {}
    with torch.no_grad():
        for k, v in base.state_dict().items():
            if "lora_" in k:
                continue
            if ".base_layer." in k:
                owner = k.split(".base_layer.")[0]
                name = k.replace(".base_layer.", ".")
                m = modules[owner]
                if k.endswith("weight") and not m.merged:
                    delta = sum(m.get_delta_weight(a) for a in m.active_adapters if a in m.lora_A)
                    v = v + delta.to(v.dtype)
                state[name] = v
            else:
                state[k] = v
    with torch.device("meta"):
        fresh = AutoModelForCausalLM.from_config(base.config)
    fresh.load_state_dict(state, assign=True, strict=True)
    # Non-persistent buffers (rotary inv_freq) are not in the state dict: share the live model's.
    for name, mod in fresh.named_modules():
        src = modules.get(name)
        for key, val in list(vars(mod).items()) + list(mod._buffers.items()):
            if isinstance(val, torch.Tensor) and val.is_meta:
                if src is None or not isinstance(getattr(src, key, None), torch.Tensor):
                    raise TrainError(f"export: cannot fill {name}.{key} (not in the LoRA model)")
                if key in mod._buffers:
                    mod._buffers[key] = getattr(src, key)
                else:
                    setattr(mod, key, getattr(src, key))
    if getattr(fresh.config, "tie_word_embeddings", False):
        fresh.tie_weights()
    fresh.eval()
    return VAGPT(
        model.vision,
        model.projector,
        fresh,
        model.tokenizer,
        model.config,
        model.sets_encoder,
        answers=model.answers,
    )


def adamw(groups: list[dict], cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW, fused where every parameter is a floating tensor (6x faster than foreach on CPU)."""
    params = [p for g in groups for p in g["params"]]
    fused = all(p.dtype.is_floating_point for p in params) and all(
        p.device.type in ("cpu", "cuda") for p in params
    )
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused or None)


def clean_groups(groups: list[dict]) -> list[dict]:
    return [{k: v for k, v in g.items() if k != "name"} for g in groups]

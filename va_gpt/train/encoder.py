"""The demo encoder, trained by the project: the DINOv2 architecture supervised per patch on
domain-randomized synthetic footage, saved in the Hugging Face Dinov2 folder format.

Why: a random-weight encoder's patch embeddings say that something changed, not what. On the
same held-out randomized footage (160 training videos, 3 classifier seeds) the classifier's
frame AUC on its evidence features went from 0.64-0.69 (val) / 0.80-0.82 (test) / 0.51-0.57
(out-of-range) with the random encoder to 0.72-0.78 / 0.76-0.86 / 0.55-0.76 with this one;
its main gain is out of range.

Objective: every patch token of a frame is classified into 2 + K classes: background, part of a
normal actor (a walker, a car, a carried bag), or part of the actor(s) of an event of kind k
while the event is on (va_gpt.models.classifier.KINDS order: label 1 + KINDS.index(kind)), with
the actors' boxes from the synthetic truth (Scene.actor_boxes); cross-entropy through a linear
head that is dropped after training (the pipeline uses the embeddings). A supervised objective
rather than self-distillation: on two cores a DINO-style run long enough to learn tiny actors
does not fit, and the labels are free here.

Crops: each step sees `batch` grid-aligned crops of `crop` x `crop` patches (112 px for the
demo), half centred near an event's actor, a third near a normal actor, the rest anywhere: the
actors are a few percent of a frame, and a crop costs a quarter of a frame. DINOv2 interpolates
its position embeddings, so serving runs on the full 224 px frame. Photometric jitter (gain,
offset, grayscale as infrared, sensor noise) and horizontal flips widen the looks further.

The frames are rendered at each randomized camera's own resolution (not the classifier
recipe's 160x120): the encoder must see the detail full-size footage has.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from va_gpt.config import Preset
from va_gpt.models.classifier import KINDS
from va_gpt.models.dinov2 import IMAGENET_MEAN, IMAGENET_STD, DinoEncoder
from va_gpt.synthetic.anomalies import ALL_KINDS
from va_gpt.synthetic.domain import sample_domain
from va_gpt.synthetic.scene import make_scene
from va_gpt.synthetic.training import NORMAL_ACTOR, patch_labels
from va_gpt.video.preprocess import resize_frames

NUM_CLASSES = 1 + len(KINDS)  # background, normal actor, one per anomaly kind


@dataclass
class EncoderRecipe:
    """How the demo encoder is trained (recorded in the model card)."""

    videos: int = 160  # half normal, half cycling through every kind
    duration_s: float = 20.0
    fps: float = 2.0  # the decode stage's sampling: the frames the encoder will see
    steps: int = 900
    batch: int = 64  # crops per step
    crop: int = 8  # patches per crop side
    lr: float = 3e-4
    head_lr: float = 3e-3
    weight_decay: float = 0.05
    seed: int = 0
    # loss weight per class: background / normal actor / an event's actor (rare, a few hundred
    # patches per kind in 6400 frames)
    class_weights: tuple[float, float, float] = (0.5, 1.0, 3.0)


def encoder_dataset(image_size: int, patch_size: int, recipe: EncoderRecipe) -> tuple[np.ndarray, np.ndarray]:
    """(frames uint8 [M, S, S, 3], patch labels int8 [M, g, g]) of `recipe.videos` randomized
    training-split videos (seeds recipe.seed * 1e6 + j, the classifier's training seeds)."""
    g = image_size // patch_size
    frames, labels = [], []
    for j in range(recipe.videos):
        kind = ALL_KINDS[(j // 2) % len(ALL_KINDS)] if j % 2 else None
        seed = recipe.seed * 1_000_000 + j
        domain = sample_domain(np.random.default_rng([seed, 29]), "train", fps=30.0)
        scene = make_scene(seed, kind, duration_s=recipe.duration_s, domain=domain)
        idx = np.unique(np.round(np.arange(0, len(scene), scene.fps / recipe.fps)).astype(int))
        idx = idx[idx < len(scene)]
        on = scene.frame_labels()[idx]
        frames.append(resize_frames(np.stack([scene.frame(int(i)) for i in idx]), image_size))
        labels.append(np.stack([patch_labels(scene, int(i), bool(o), (g, g)) for i, o in zip(idx, on)]))
        if (j + 1) % 40 == 0:
            print(f"encoder data: {j + 1}/{recipe.videos} videos rendered", flush=True)
    return np.concatenate(frames), np.concatenate(labels)


_MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)


def _crops(frames, labels, event, actor, recipe: EncoderRecipe, patch: int, rng: np.random.Generator):
    """One batch: normalised pixels [B, 3, c*p, c*p] and labels [B * c * c]. `event` / `actor`:
    the (frame, row, col) of every event-actor / normal-actor patch (np.argwhere of labels)."""
    c, g = recipe.crop, labels.shape[-1]
    xs, ys = [], []
    for _ in range(recipe.batch):
        u = rng.random()
        near = event if u < 0.5 and len(event) else actor if u < 0.8 and len(actor) else None
        if near is not None:
            i, py, px = near[rng.integers(len(near))]
            gy = int(np.clip(py - rng.integers(c), 0, g - c))
            gx = int(np.clip(px - rng.integers(c), 0, g - c))
        else:
            i = int(rng.integers(len(frames)))
            gy, gx = (int(v) for v in rng.integers(0, g - c + 1, 2))
        x = torch.from_numpy(frames[i, gy * patch : (gy + c) * patch, gx * patch : (gx + c) * patch])
        x = x.permute(2, 0, 1).float() / 255.0
        y = torch.from_numpy(labels[i, gy : gy + c, gx : gx + c].astype(np.int64))
        x = x * rng.uniform(0.3, 1.4) + rng.uniform(-0.1, 0.1)  # exposure, night
        if rng.random() < 0.2:  # infrared: grayscale
            x = x.mean(0, keepdim=True).expand(3, -1, -1)
        x = (x + torch.randn_like(x) * rng.uniform(0.0, 0.04)).clamp(0, 1)
        if rng.random() < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        xs.append((x - _MEAN) / _STD)
        ys.append(y.reshape(-1))
    return torch.stack(xs), torch.cat(ys)


def train_encoder(
    encoder: DinoEncoder, frames: np.ndarray, labels: np.ndarray, recipe: EncoderRecipe, log_every: int = 100
) -> dict:
    """Train `encoder` (in place, float32) per patch on (frames, labels); returns a report."""
    if len(frames) != len(labels) or len(frames) == 0:
        raise ValueError(
            f"encoder training needs frames and labels of one length > 0, got {len(frames)}/{len(labels)}"
        )
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    model = encoder.model.float().train()
    head = nn.Linear(encoder.hidden_size, NUM_CLASSES)
    opt = torch.optim.AdamW(
        [
            {"params": model.parameters(), "lr": recipe.lr},
            {"params": head.parameters(), "lr": recipe.head_lr},
        ],
        weight_decay=recipe.weight_decay,
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[recipe.lr, recipe.head_lr], total_steps=recipe.steps, pct_start=0.1
    )
    bg, actor, event = recipe.class_weights
    weight = torch.tensor([bg, actor] + [event] * (NUM_CLASSES - 2))
    params = list(model.parameters()) + list(head.parameters())
    event, actor = np.argwhere(labels > NORMAL_ACTOR), np.argwhere(labels == NORMAL_ACTOR)
    losses, t0 = [], time.monotonic()
    for step in range(recipe.steps):
        x, y = _crops(frames, labels, event, actor, recipe, encoder.patch_size, rng)
        h = model(pixel_values=x).last_hidden_state[:, 1:]  # [B, c*c, D]
        loss = F.cross_entropy(head(h.reshape(-1, h.shape[-1])), y, weight=weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step % log_every == 0 or step == recipe.steps - 1):
            print(f"encoder step {step}: loss {loss.item():.3f} ({time.monotonic() - t0:.0f} s)", flush=True)
    model.eval()
    return {
        "recipe": asdict(recipe),
        "frames": int(len(frames)),
        "patches_per_class": np.bincount(labels.ravel(), minlength=NUM_CLASSES).tolist(),
        "classes": ["background", "normal actor", *(f"event: {k}" for k in KINDS[1:])],
        "first_loss": round(float(np.mean(losses[:20])), 4),
        "final_loss": round(float(np.mean(losses[-50:])), 4),
        "train_seconds": round(time.monotonic() - t0, 1),
    }


def build_demo_encoder(preset: Preset, out: str | Path, recipe: EncoderRecipe | None = None) -> dict:
    """Render the data, train the preset's encoder architecture from its seeded random init,
    save it to `out` (a Hugging Face Dinov2 folder, float16 safetensors); the report."""
    recipe = recipe or EncoderRecipe()
    t0 = time.monotonic()
    frames, labels = encoder_dataset(preset.encoder.image_size, preset.encoder.patch_size, recipe)
    t_data = round(time.monotonic() - t0, 1)
    encoder = DinoEncoder.random(preset.encoder)  # the architecture, source ignored: trained from scratch
    report = train_encoder(encoder, frames, labels, recipe)
    encoder.model.half().save_pretrained(str(out), safe_serialization=True)
    return {**report, "data_seconds": t_data}

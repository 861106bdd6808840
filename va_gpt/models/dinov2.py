"""DINOv2 patch encoder: CLS and patch features with their patch grid.

A thin wrapper over transformers' `Dinov2Model` (composition, no subclassing):
it owns preprocessing (uint8 frames -> normalised pixels), device and dtype.
SETS uses the patch features for its difference maps; small presets also feed
the selected patches to the LLM (vision_tower.kind == "shared").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import Dinov2Config, Dinov2Model

from va_gpt.config import EncoderConfig

# ImageNet statistics, as DINOv2 was trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

RANDOM_INIT_SEED = 0  # `source: null` builds these weights, deterministically

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class EncoderOutput:
    cls: torch.Tensor  # [B, D]  final-layernormed CLS token
    patches: torch.Tensor  # [B, N, D]  final-layernormed patch tokens, N = gh * gw, row-major
    grid: tuple[int, int]  # (gh, gw) patches per column / row


class DinoEncoder(nn.Module):
    def __init__(self, model: nn.Module, image_size: int, patch_size: int):
        super().__init__()
        self.model = model
        self.image_size = image_size
        self.patch_size = patch_size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def at_size(self, image_size: int) -> DinoEncoder:
        """The same model (shared, not copied) taking frames of `image_size` px: DINOv2 interpolates
        its position embeddings to the larger patch grid."""
        if image_size % self.patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {self.patch_size}")
        return DinoEncoder(self.model, image_size, self.patch_size).to(self.mean.device, self.mean.dtype)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def grid(self) -> tuple[int, int]:
        g = self.image_size // self.patch_size
        return (g, g)

    def weight_sample(self, n: int = 8) -> list[float]:
        """The first `n` values of every weight tensor (sorted by name): a cheap identity check.

        Compare with a tolerance (bfloat16 / float16 copies of the same encoder
        round differently): a different random init or checkpoint differs by far more.
        """
        out = []
        for _, p in sorted(self.model.state_dict().items()):
            out += p.detach().flatten()[:n].float().cpu().tolist()
        return out

    @classmethod
    def random(cls, cfg: EncoderConfig, device: str = "cpu", dtype: str = "float32") -> DinoEncoder:
        """The config's architecture with seeded random weights (what `source: null` means)."""
        hf_cfg = Dinov2Config(
            image_size=cfg.image_size,
            patch_size=cfg.patch_size,
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            mlp_ratio=cfg.mlp_ratio,
        )
        # Seeded, so every process (Ray actors, the trainer, tests) builds the SAME random
        # encoder: the classifier is trained on its features and must see them again.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            model = Dinov2Model(hf_cfg)
        return cls.wrap(model, cfg, device, dtype)

    @classmethod
    def wrap(
        cls, model: nn.Module, cfg: EncoderConfig, device: str = "cpu", dtype: str = "float32"
    ) -> DinoEncoder:
        """A Dinov2Model (random or loaded by va_gpt.checkpoints.build) under the encoder config;
        its patch and hidden sizes must be the config's."""
        if model.config.patch_size != cfg.patch_size or model.config.hidden_size != cfg.hidden_size:
            raise ValueError(
                f"encoder {cfg.source}: checkpoint has patch_size={model.config.patch_size} "
                f"hidden_size={model.config.hidden_size}, preset says {cfg.patch_size}/{cfg.hidden_size}"
            )
        enc = cls(model.eval(), cfg.image_size, cfg.patch_size)
        return enc.to(device=device, dtype=DTYPES[dtype])

    def preprocess(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 frames [B, H, W, 3] (H = W = image_size) -> normalised pixels [B, 3, H, W]."""
        if isinstance(frames, np.ndarray):
            frames = torch.from_numpy(frames)
        if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 [B, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
        if frames.shape[1] != self.image_size or frames.shape[2] != self.image_size:
            raise ValueError(
                f"frames are {frames.shape[1]}x{frames.shape[2]}, the encoder expects {self.image_size}x{self.image_size}"
            )
        device = self.mean.device
        # Normalise in float32 with float32 constants (the buffers follow the model dtype, and
        # ImageNet statistics rounded to bfloat16 would shift every pixel), then cast.
        mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        x = frames.to(device).permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - mean) / std
        return x.to(self.mean.dtype)

    @torch.inference_mode()
    def encode_frames(self, frames: np.ndarray | torch.Tensor, batch_size: int = 64) -> EncoderOutput:
        """uint8 frames [B, H, W, 3] -> EncoderOutput, in chunks of `batch_size` frames."""
        if len(frames) == 0:
            raise ValueError("encode_frames: no frames (need at least one uint8 [H, W, 3] frame)")
        outs = [self(self.preprocess(frames[i : i + batch_size])) for i in range(0, len(frames), batch_size)]
        return EncoderOutput(
            cls=torch.cat([o.cls for o in outs]), patches=torch.cat([o.patches for o in outs]), grid=self.grid
        )

    def forward(self, pixel_values: torch.Tensor) -> EncoderOutput:
        """pixel_values [B, 3, H, W] -> EncoderOutput."""
        hidden = self.model(pixel_values=pixel_values).last_hidden_state  # [B, 1 + N, D], layernormed
        return EncoderOutput(cls=hidden[:, 0], patches=hidden[:, 1:], grid=self.grid)

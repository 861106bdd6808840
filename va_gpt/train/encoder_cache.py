"""The frozen DINOv2 encoder's outputs memoised per run, so epochs after the first do not run it again."""

from __future__ import annotations

import contextlib
import hashlib
import weakref
from collections import OrderedDict

import torch

from va_gpt.models.dinov2 import DinoEncoder, EncoderOutput
from va_gpt.models.vagpt import VAGPT


class CachedEncoder(DinoEncoder):
    """The same DINOv2 (shared weights), with forward memoised by the pixels' content.

    The vision tower is frozen, so its output for a given input never changes
    during a run; each clip is encoded once and the next epochs reuse it. LRU,
    bounded by `max_bytes` of cached tensors.
    """

    def __init__(self, encoder: DinoEncoder, max_bytes: int = 2 << 30):
        super().__init__(encoder.model, encoder.image_size, encoder.patch_size)
        self.to(device=encoder.mean.device, dtype=encoder.mean.dtype)
        self.max_bytes = max_bytes
        self._cache: OrderedDict[bytes, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def forward(self, pixel_values: torch.Tensor) -> EncoderOutput:
        x = pixel_values.detach()
        h = hashlib.blake2b(digest_size=20)
        h.update(str((tuple(x.shape), str(x.dtype))).encode())
        h.update(x.contiguous().cpu().numpy().tobytes())
        key = h.digest()
        if key in self._cache:
            self._cache.move_to_end(key)
            self.hits += 1
            cls, patches = self._cache[key]
            return EncoderOutput(cls=cls, patches=patches, grid=self.grid)
        self.misses += 1
        out = super().forward(pixel_values)
        cls, patches = out.cls.detach(), out.patches.detach()
        self._cache[key] = (cls, patches)
        self._bytes += cls.nbytes + patches.nbytes
        while self._bytes > self.max_bytes and len(self._cache) > 1:
            _, (c, p) = self._cache.popitem(last=False)
            self._bytes -= c.nbytes + p.nbytes
        return EncoderOutput(cls=cls, patches=patches, grid=self.grid)


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_encoder(encoder: DinoEncoder) -> CachedEncoder:
    """The CachedEncoder of `encoder`, one per encoder per process: the stages of one run share it."""
    if isinstance(encoder, CachedEncoder):
        return encoder
    if encoder not in _CACHES:
        _CACHES[encoder] = CachedEncoder(encoder)
    return _CACHES[encoder]


def attach_cache(model: VAGPT) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """Put CachedEncoders in place of the model's DINOv2 encoders; returns the originals."""
    vision, sets_encoder = model.vision, model.sets_encoder
    if isinstance(vision, DinoEncoder):
        model.vision = cached_encoder(vision)
        if sets_encoder is vision:
            model.sets_encoder = model.vision
    if model.sets_encoder is not None and model.sets_encoder is not model.vision:
        model.sets_encoder = cached_encoder(model.sets_encoder)
    return vision, sets_encoder


def detach_cache(model: VAGPT, originals: tuple) -> None:
    model.vision, model.sets_encoder = originals


@contextlib.contextmanager
def encoder_cache(model: VAGPT):
    """Within the block the model's DINOv2 passes are memoised (`cached_encoder`), e.g. for evaluation."""
    originals = attach_cache(model)
    try:
        yield model
    finally:
        detach_cache(model, originals)

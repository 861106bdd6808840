"""VA-GPT: vision encoder -> projector -> Llama-family LLM, with SETS and TETG.

Composed from parts passed in (no mixins on Hugging Face classes, no
monkey-patching): `VAGPT(vision, projector, llm, tokenizer, config)`.

- vision: `DinoEncoder` (vision_tower.kind == shared: the same DINOv2 pass
  gives the SETS difference maps and the visual tokens) or `ClipVisionTower`
  (kind == clip: CLIP patch features as visual tokens, selection from a
  separate DINOv2 pass, `sets_encoder`, on the same patch grid).
- projector: `build_projector(...)`, vision hidden -> LLM hidden.
- llm: any transformers causal LM of the Llama family (called with `inputs_embeds`).
- tokenizer: a transformers tokenizer holding the marker and score-bucket tokens.
- answers (optional): the sentences the LLM was trained to write in each free answer field
  ({"description": [...], "analysis": [...]}, va_gpt.models.structured.answer_bank): a small LLM
  trained for minutes writes them whole or breaks them, so the describe stage holds its fields
  to them (structured.held_summary). None for an LLM that writes freely (the 7B preset).

The LLM input, one sequence per question, built as embeddings::

    <s> SYSTEM_PROMPT
    for each frame i:  " <frame 12.5s>" (text tokens)  +  k projected visual tokens
                       (the SETS-selected patches of frame i, raster order)
    "\\n" + TETG segment (va_gpt.ops.tetg.encode; absent for encoding none)
    "\\n" + question + " ASSISTANT:"
    " " + answer + </s>                  (training only; the only tokens with labels)

The vision tower is frozen (run under no_grad, as in LLaVA); the projector and
the LLM (including the score-bucket embedding rows) get gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from va_gpt.config import LLMConfig, Preset
from va_gpt.models.dinov2 import DinoEncoder
from va_gpt.ops import sets, tetg

SYSTEM_PROMPT = (
    "A chat between a user and an assistant that watches surveillance video, "
    "finds abnormal events and explains when and why they happen. USER:"
)
IGNORE = -100  # label of positions that carry no loss

# Token kinds, one per sequence position (Batch.kinds): what each position is.
KIND_PAD = 0
KIND_SYSTEM = 1
KIND_FRAME_MARKER = 2
KIND_VISUAL = 3
KIND_TETG = 4
KIND_QUESTION = 5
KIND_ANSWER = 6


@dataclass
class Sample:
    """One question about one stretch of video."""

    frames: np.ndarray | torch.Tensor  # uint8 [T, S, S, 3], S = encoder image_size
    t: np.ndarray  # float [T] seconds of the source video, one per frame
    question: str
    scores: np.ndarray | None = None  # [T'] per-frame anomaly scores for TETG; None -> no TETG segment
    score_t: np.ndarray | None = None  # [T'] times of `scores`; None -> the frame times `t`
    answer: str | None = None  # training target; None for generation
    selection: torch.Tensor | None = None  # LongTensor [T, k] SETS patch indices; None -> computed here
    kind: str | None = None  # the classifier's anomaly kind of the window, for TETG with tetg.kind


@dataclass
class Batch:
    """The padded LLM input of a batch of samples; L = longest sequence."""

    inputs_embeds: torch.Tensor  # [B, L, H]
    attention_mask: torch.Tensor  # [B, L] long, 0 on padding
    position_ids: torch.Tensor  # [B, L] long, 0.. on real tokens
    labels: torch.Tensor  # [B, L] long, token id on answer tokens, IGNORE elsewhere
    token_ids: torch.Tensor  # [B, L] long, -1 on visual tokens and padding
    kinds: torch.Tensor  # [B, L] long, KIND_* per position

    @property
    def label_mask(self) -> torch.Tensor:
        """[B, L] bool: the positions that carry loss."""
        return self.labels != IGNORE


@dataclass
class VAGPTOutput:
    loss: torch.Tensor | None  # scalar, mean over answer tokens; None without answers
    logits: torch.Tensor  # [B, L, V]
    batch: Batch


class ClipVisionTower(nn.Module):
    """CLIP vision model -> patch features, LLaVA style (penultimate layer, CLS dropped)."""

    CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
    CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

    def __init__(self, model: nn.Module, select_layer: int = -2):
        super().__init__()
        self.model = model
        self.select_layer = select_layer
        self.register_buffer("mean", torch.tensor(self.CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def image_size(self) -> int:
        return self.model.config.image_size

    @property
    def grid(self) -> tuple[int, int]:
        g = self.model.config.image_size // self.model.config.patch_size
        return (g, g)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W, 3] -> normalised [B, 3, S, S] (resized when H, W != S)."""
        x = frames.to(self.mean.device).permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bicubic", align_corners=False)
        x = (x - self.mean.float()) / self.std.float()
        return x.to(self.mean.dtype)

    def patch_features(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W, 3] -> [B, N, D] patch features."""
        out = self.model(pixel_values=self.preprocess(frames), output_hidden_states=True)
        return out.hidden_states[self.select_layer][:, 1:]  # [B, N, D], CLS dropped


def uniform_indices(n: int, max_frames: int) -> np.ndarray:
    """At most `max_frames` indices spread evenly over range(n), first and last included."""
    if n <= max_frames:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_frames)).astype(np.int64))


def visual_token_count(preset: Preset, ratio: float | None = None, num_frames: int | None = None) -> int:
    """Visual tokens the LLM sees for one question: frames * k, k = SETS top-K of the patch grid."""
    g = preset.encoder.image_size // preset.encoder.patch_size
    ratio = preset.sets.top_k if ratio is None else ratio
    num_frames = preset.projector.max_frames if num_frames is None else num_frames
    return num_frames * sets.num_selected(g * g, ratio)


def llm_prefill_flops(num_tokens: int, cfg: LLMConfig) -> float:
    """Forward FLOPs (2 per multiply-add) of prefilling `num_tokens` through a Llama-family LLM.

    Per layer: q, k, v, o projections 4 * 2LH^2; SwiGLU MLP 3 * 2LHI; causal
    attention scores and weighted sum 2 * 2 * (L^2 / 2) * H. Plus the LM head
    on the last position only (what generation needs). Embedding lookups are free.
    """
    L, H, n = float(num_tokens), float(cfg.hidden_size), cfg.num_layers
    per_layer = 8 * L * H * H + 6 * L * H * cfg.intermediate_size + 2 * L * L * H
    return n * per_layer + 2 * H * cfg.vocab_size


def visual_token_flops(preset: Preset, ratio: float, text_tokens: int, num_frames: int | None = None) -> dict:
    """LLM-side prefill cost of one question at SETS ratio `ratio`: token counts and FLOPs."""
    vis = visual_token_count(preset, ratio, num_frames)
    return {
        "visual_tokens": vis,
        "text_tokens": text_tokens,
        "flops": llm_prefill_flops(vis + text_tokens, preset.llm),
    }


class VAGPT(nn.Module):
    """The MLLM, composed of parts (see the module docstring for the sequence layout).

    `model(samples) -> VAGPTOutput` for training (loss on answer tokens only),
    `model.generate(frames, t, scores, question)` / `generate_batch(samples)` for inference,
    `model.prepare(samples, padding_side)` for the padded LLM input itself.
    """

    def __init__(
        self,
        vision: nn.Module,
        projector: nn.Module,
        llm: nn.Module,
        tokenizer,
        config: Preset,
        sets_encoder: DinoEncoder | None = None,
        answers: dict[str, list[str]] | None = None,
    ):
        super().__init__()
        self.vision = vision
        self.projector = projector
        self.llm = llm
        self.tokenizer = tokenizer
        self.config = config
        self.answers = answers
        if config.vision_tower.kind == "shared":
            if not isinstance(vision, DinoEncoder):
                raise TypeError("vision_tower.kind shared needs a DinoEncoder as `vision`")
            sets_encoder = vision
        self.sets_encoder = sets_encoder  # may be None for clip: then every Sample must carry `selection`
        if sets_encoder is not None and sets_encoder is not vision and sets_encoder.grid != vision.grid:
            raise ValueError(
                f"SETS encoder grid {sets_encoder.grid} != vision tower grid {vision.grid}: "
                "selection indices would not line up"
            )
        missing = [x for x in tetg.score_tokens(config.tetg.num_buckets) if x not in tokenizer.get_vocab()]
        if missing:
            raise ValueError(f"tokenizer lacks the TETG score tokens {missing[:3]}...")
        if len(tokenizer) > llm.get_input_embeddings().num_embeddings:
            raise ValueError(
                f"tokenizer has {len(tokenizer)} tokens, the LLM embeds only "
                f"{llm.get_input_embeddings().num_embeddings}"
            )

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.llm.get_input_embeddings().weight.device

    @property
    def score_token_ids(self) -> list[int]:
        """Ids of <score_0> .. <score_{n-1}>: the rows a trainer must keep trainable."""
        return self.tokenizer.convert_tokens_to_ids(tetg.score_tokens(self.config.tetg.num_buckets))

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def _embed_ids(self, ids: list[int]) -> torch.Tensor:
        """[n] ids -> [n, H] LLM input embeddings."""
        return self.llm.get_input_embeddings()(torch.tensor(ids, dtype=torch.long, device=self.device))

    # -- vision + SETS ---------------------------------------------------------------------------

    def patch_features(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames [T, S, S, 3] -> vision tower patch features [T, N, Dv] (frozen, no grad)."""
        with torch.no_grad():
            if isinstance(self.vision, DinoEncoder):
                return self.vision(self.vision.preprocess(frames)).patches  # [T, N, Dv]
            return self.vision.patch_features(frames)  # [T, N, Dv]

    def sets_selection(self, frames: torch.Tensor, patches: torch.Tensor | None = None) -> torch.Tensor:
        """SETS: uint8 frames [T, S, S, 3] -> LongTensor [T, k] of the patches that changed most.

        The difference map comes from DINOv2 patch features: `patches` when the
        vision tower is that same DINOv2 (kind shared: one pass), else a pass of
        `sets_encoder`. reference previous: L1 to the previous frame;
        background: L1 to an EMA background. Frame 0 has no previous frame inside
        the window, so it reuses frame 1's map (where things move) instead of
        an all-zero map that would select the top-left patches.
        """
        if self.sets_encoder is None:
            raise ValueError("no SETS encoder: pass `selection` [T, k] with every sample")
        with torch.no_grad():
            if patches is None or self.sets_encoder is not self.vision:
                patches = self.sets_encoder(self.sets_encoder.preprocess(frames)).patches  # [T, N, Dd]
            if self.config.sets.reference == "background":
                diff, _ = sets.background_difference(patches, None, self.config.sets.background_momentum)
            else:
                diff = sets.difference_map(patches)  # [T, N]
            if len(diff) > 1:
                diff[0] = diff[1]
            return sets.topk_indices(diff, self.config.sets.top_k)  # [T, k]

    def visual_tokens(
        self, frames: np.ndarray | torch.Tensor, selection: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frames [T, S, S, 3] -> (projected tokens [T, k, H], selection [T, k]).

        Only the SETS-selected patches of each frame are projected, in raster
        order. `selection` is used when given, else computed (`sets_selection`).
        """
        frames = torch.as_tensor(frames)
        if selection is not None and torch.as_tensor(selection).ndim == 2 and selection.shape[1] == 0:
            # No patch kept (text-only samples): the frozen tower's output would be thrown away.
            w = self.llm.get_input_embeddings().weight
            return w.new_zeros(len(frames), 0, w.shape[-1]), torch.as_tensor(selection).long()
        patches = self.patch_features(frames)  # [T, N, Dv]
        T, N = patches.shape[:2]
        if selection is None:
            selection = self.sets_selection(frames, patches)
        selection = torch.as_tensor(selection, device=patches.device).long()
        if selection.ndim != 2 or selection.shape[0] != T:
            raise ValueError(f"selection must be [T={T}, k], got {tuple(selection.shape)}")
        if selection.numel() and (selection.min() < 0 or selection.max() >= N):
            raise ValueError(
                f"selection indices must be in [0, {N}), got {selection.min()}..{selection.max()}"
            )
        chosen = torch.gather(
            patches, 1, selection[..., None].expand(-1, -1, patches.shape[-1])
        )  # [T, k, Dv]
        dtype = next(self.projector.parameters()).dtype
        return self.projector(chosen.to(self.device, dtype)), selection  # [T, k, H], [T, k]

    # -- sequence building -----------------------------------------------------------------------

    def tetg_text(self, sample: Sample) -> str:
        """The TETG segment of a sample ("" when the encoding is none or there are no scores)."""
        if sample.scores is None or self.config.tetg.encoding == "none":
            return ""
        score_t = sample.t if sample.score_t is None else sample.score_t
        return tetg.encode(score_t, sample.scores, self.config.tetg, sample.kind)

    def sequence(self, sample: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One sample -> (embeds [L, H], token_ids [L] (-1 on visual), kinds [L])."""
        t = np.asarray(sample.t, dtype=np.float64)
        frames = torch.as_tensor(sample.frames)
        if frames.ndim != 4 or len(frames) != len(t):
            raise ValueError(
                f"frames [T, S, S, 3] and t [T] must agree, got {tuple(frames.shape)} and {t.shape}"
            )
        if len(t) > self.config.projector.max_frames:
            raise ValueError(
                f"{len(t)} frames > projector.max_frames {self.config.projector.max_frames}; "
                "subsample first (uniform_indices)"
            )
        pieces: list[tuple[int, list[int] | torch.Tensor]] = [
            (KIND_SYSTEM, [self.tokenizer.bos_token_id] + self._ids(SYSTEM_PROMPT))
        ]
        visual = self.visual_tokens(frames, sample.selection)[0] if len(t) else None  # [T, k, H]
        for i in range(len(t)):
            pieces.append((KIND_FRAME_MARKER, self._ids(f" <frame {t[i]:.1f}s>")))
            pieces.append((KIND_VISUAL, visual[i]))
        tetg_text = self.tetg_text(sample)
        if tetg_text:
            pieces.append((KIND_TETG, self._ids("\n" + tetg_text)))
        pieces.append((KIND_QUESTION, self._ids(f"\n{sample.question} ASSISTANT:")))
        if sample.answer is not None:
            pieces.append((KIND_ANSWER, self._ids(" " + sample.answer) + [self.tokenizer.eos_token_id]))

        embeds, ids, kinds = [], [], []
        for kind, piece in pieces:
            if kind == KIND_VISUAL:
                embeds.append(piece)
                ids.append(torch.full((len(piece),), -1, dtype=torch.long))
            else:
                embeds.append(self._embed_ids(piece))
                ids.append(torch.tensor(piece, dtype=torch.long))
            kinds.append(torch.full((len(piece),), kind, dtype=torch.long))
        return torch.cat(embeds), torch.cat(ids).to(self.device), torch.cat(kinds).to(self.device)

    def prepare(self, samples: list[Sample], padding_side: str = "right") -> Batch:
        """Samples -> padded Batch. Right padding for training, left for generation."""
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be left | right, got {padding_side!r}")
        seqs = [self.sequence(s) for s in samples]
        L = max(len(e) for e, _, _ in seqs)
        if L > self.config.llm.max_position:
            raise ValueError(
                f"sequence of {L} tokens exceeds llm.max_position {self.config.llm.max_position}; "
                "lower projector.max_frames or sets.top_k"
            )
        B, H = len(seqs), seqs[0][0].shape[-1]
        embeds = seqs[0][0].new_zeros(B, L, H)
        mask = torch.zeros(B, L, dtype=torch.long, device=self.device)
        ids = torch.full((B, L), -1, dtype=torch.long, device=self.device)
        kinds = torch.full((B, L), KIND_PAD, dtype=torch.long, device=self.device)
        for b, (e, i, k) in enumerate(seqs):
            n = len(e)
            sl = slice(L - n, L) if padding_side == "left" else slice(0, n)
            embeds[b, sl], ids[b, sl], kinds[b, sl], mask[b, sl] = e, i, k, 1
        labels = torch.where(kinds == KIND_ANSWER, ids, torch.full_like(ids, IGNORE))
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        return Batch(embeds, mask, position_ids, labels, ids, kinds)

    # -- forward / generate ----------------------------------------------------------------------

    def forward(self, samples: list[Sample]) -> VAGPTOutput:
        """Teacher-forced forward. loss = mean next-token cross-entropy over answer tokens only."""
        batch = self.prepare(samples, padding_side="right")
        logits = self.llm(
            inputs_embeds=batch.inputs_embeds,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            use_cache=False,
        ).logits  # [B, L, V]
        loss = None
        if batch.label_mask.any():
            # Position p predicts token p + 1: logits[:, :-1] against labels[:, 1:].
            loss = F.cross_entropy(
                logits[:, :-1].flatten(0, 1).float(), batch.labels[:, 1:].flatten(), ignore_index=IGNORE
            )
        return VAGPTOutput(loss=loss, logits=logits, batch=batch)

    @torch.no_grad()
    def generate_batch(self, samples: list[Sample], max_new_tokens: int = 64) -> list[str]:
        """Greedy answers for a batch of samples (left-padded, `llm.generate` on inputs_embeds)."""
        for s in samples:
            if s.answer is not None:
                raise ValueError("generation samples must have answer=None")
        batch = self.prepare(samples, padding_side="left")
        out = self.llm.generate(
            inputs_embeds=batch.inputs_embeds,
            attention_mask=batch.attention_mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            bos_token_id=self.tokenizer.bos_token_id,
        )  # [B, new]: with inputs_embeds only, generate returns just the new tokens
        return [s.strip() for s in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def generate(
        self,
        frames: np.ndarray | torch.Tensor,
        t: np.ndarray,
        scores: np.ndarray | None,
        question: str,
        max_new_tokens: int = 64,
        score_t: np.ndarray | None = None,
        selection: torch.Tensor | None = None,
    ) -> str:
        """One answer about frames [T, S, S, 3] at times t [T] with anomaly scores [T] (or at score_t)."""
        sample = Sample(
            frames=frames, t=t, question=question, scores=scores, score_t=score_t, selection=selection
        )
        return self.generate_batch([sample], max_new_tokens)[0]

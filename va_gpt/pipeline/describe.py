"""Describe stage: one VA-GPT summary per anomaly interval.

Ray batch-inference pattern: the model is loaded once in `__init__`, the work
happens in `__call__(batch) -> batch` on dicts of numpy columns; the same
object runs without Ray (tests, `run_local`).

Input rows, one per interval to describe:
    video_id, interval_id, uri, start_s, end_s,
    t      float64 [T]  the video's frame times (seconds)
    score  float   [T]  the video's per-frame anomaly scores
    (camera_id, date: passed through when present)

For each row the frames around the interval are decoded again
(`decode_window`, `pad_s` seconds of context each side, at most
projector.max_frames frames spread evenly), the scores inside that window
become the TETG tokens, and VA-GPT answers DESCRIBE_QUESTION.

Output rows, one per input row:
    video_id, interval_id,
    text            the generated summary ("" when the row failed)
    label           anomaly kind named by the text (see parse_label), else None
    fields          JSON: judgement / description / analysis when the text has them;
                    {"error": "..."} when the row failed (decode error, bad scores)
    model_version, prompt_version
    (camera_id, date when given)

A row that fails is an output row carrying its error, never a crash of the batch.
"""

from __future__ import annotations

import json
import re

import numpy as np

from va_gpt.checkpoints.build import from_preset
from va_gpt.checkpoints.vagpt import load_checkpoint
from va_gpt.config import Preset, load_preset
from va_gpt.models.vagpt import Sample, uniform_indices
from va_gpt.ops.tetg import check_scores
from va_gpt.taxonomy import parse_kind
from va_gpt.video.clips import decode_window
from va_gpt.video.errors import DecodeError

PROMPT_VERSION = "describe-v1"
DESCRIBE_QUESTION = (
    "Describe the abnormal event between {start:.1f}s and {end:.1f}s. Answer as: "
    "Judgement: <the anomaly kind, or normal>. Description: <what happens and when>. "
    "Analysis: <why it is abnormal>."
)
PASSTHROUGH = ("camera_id", "date")
FIELDS = ("judgement", "description", "analysis")

_FIELD_RE = re.compile(r"\b(judgement|judgment|description|analysis)\s*:", re.IGNORECASE)


def parse_fields(text: str) -> dict[str, str]:
    """'Judgement: x. Description: y. Analysis: z.' -> {judgement, description, analysis} (those present)."""
    marks = list(_FIELD_RE.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        key = m.group(1).lower().replace("judgment", "judgement")
        value = text[m.end() : end].strip().rstrip(".").strip()
        if value and key not in out:
            out[key] = value
    return out


def parse_label(text: str, fields: dict[str, str] | None = None) -> str | None:
    """The anomaly kind a summary names (`va_gpt.taxonomy.parse_kind`): from its judgement when
    present, else the whole text; None when no known kind is named."""
    fields = parse_fields(text) if fields is None else fields
    for source in ([fields["judgement"]] if "judgement" in fields else []) + [text]:
        kind = parse_kind(source)
        if kind is not None:
            return kind
    return None


def _row(batch: dict[str, np.ndarray], i: int) -> dict:
    return {k: v[i] for k, v in batch.items()}


class Describe:
    """Ray `map_batches` callable: interval rows -> summary rows (see module docstring)."""

    def __init__(
        self,
        preset: Preset | str,
        checkpoint_url: str | None = None,
        storage_options: dict | None = None,
        max_new_tokens: int = 96,
        pad_s: float = 1.0,
    ):
        self.preset = load_preset(preset) if isinstance(preset, str) else preset
        self.storage_options = storage_options
        self.max_new_tokens = max_new_tokens
        self.pad_s = pad_s
        if checkpoint_url is not None:
            rt = self.preset.runtime
            ck = load_checkpoint(checkpoint_url, storage_options, device=rt.device, dtype=rt.dtype)
            self.model, self.model_version = ck.model, ck.model_version
        else:
            self.model = from_preset(self.preset)
            self.model_version = f"{self.preset.name}-random"
        self.model.eval()

    # -- one row -------------------------------------------------------------------------------

    def sample(self, row: dict):
        """One interval row -> a VA-GPT Sample (frames re-decoded around the interval)."""
        cfg = self.model.config
        start, end = float(row["start_s"]), float(row["end_s"])
        if not np.isfinite(start) or not np.isfinite(end) or end < start:
            raise ValueError(f"bad interval {start}..{end}s")
        ws, we = max(0.0, start - self.pad_s), end + self.pad_s
        max_frames = cfg.projector.max_frames
        # a grid no finer than the pipeline's fps, and coarse enough for about max_frames samples
        fps = min(self.preset.decode.fps, (max_frames - 1) / (we - ws)) if max_frames > 1 else 1.0 / (we - ws)
        frames, ft = decode_window(
            str(row["uri"]),
            ws,
            we,
            fps=fps,
            size=cfg.encoder.image_size,
            storage_options=self.storage_options,
        )
        if len(frames) == 0:
            raise ValueError(f"no frames between {ws:.1f}s and {we:.1f}s (past the end of the video?)")
        keep = uniform_indices(len(frames), max_frames)
        t = np.asarray(row["t"], dtype=np.float64)
        score = np.asarray(row["score"], dtype=np.float64)
        if t.shape != score.shape:
            raise ValueError(f"t {t.shape} and score {score.shape} differ in length")
        inside = (t >= ws) & (t <= we)
        return Sample(
            frames=frames[keep],
            t=ft[keep],
            question=DESCRIBE_QUESTION.format(start=start, end=end),
            scores=score[inside] if inside.any() else None,
            score_t=t[inside] if inside.any() else None,
        )

    # -- batch ---------------------------------------------------------------------------------

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["video_id"])
        texts: list[str] = [""] * n
        errors: list[str | None] = [None] * n
        ready: list[tuple[int, object]] = []
        for i in range(n):
            row = _row(batch, i)
            try:
                s = self.sample(row)
                if s.scores is not None:
                    check_scores(s.score_t, s.scores)  # a NaN score is this row's error, not the batch's
                ready.append((i, s))
            except (DecodeError, ValueError, OSError) as e:
                errors[i] = (
                    f"{type(e).__name__}: {e} (video {row['video_id']}, interval {row['interval_id']})"
                )
        bs = max(1, self.preset.runtime.batch_size)
        for j in range(0, len(ready), bs):
            chunk = ready[j : j + bs]
            outs = self.model.generate_batch([s for _, s in chunk], self.max_new_tokens)
            for (i, _), text in zip(chunk, outs):
                texts[i] = text

        labels: list[str | None] = []
        fields: list[str] = []
        for text, err in zip(texts, errors):
            if err is not None:
                labels.append(None)
                fields.append(json.dumps({"error": err}))
                continue
            f = parse_fields(text)
            labels.append(parse_label(text, f))
            fields.append(json.dumps(f, sort_keys=True))
        out = {
            "video_id": np.asarray(batch["video_id"]),
            "interval_id": np.asarray(batch["interval_id"]),
            "text": np.array(texts, dtype=object),
            "label": np.array(labels, dtype=object),
            "fields": np.array(fields, dtype=object),
            "model_version": np.array([self.model_version] * n, dtype=object),
            "prompt_version": np.array([PROMPT_VERSION] * n, dtype=object),
        }
        for k in PASSTHROUGH:
            if k in batch:
                out[k] = np.asarray(batch[k])
        return out

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
become the TETG tokens (ended by the interval's kind-head `label` when the preset's tetg.kind
is on), and VA-GPT answers DESCRIBE_QUESTION.

Structured decoding (`structured=True`, the default; va_gpt.models.structured): the
judgement is not generated freely but chosen among the taxonomy's kinds plus "normal"
(`kinds`) by the model's likelihood of " Judgement: <kind>." given the prompt, plus
`prior_weight` * log of a prior from the interval's classifier kind when the row carries one
(`label`, optional `label_p`, default LABEL_P, and `normal_p`, the kind head's own share for
"normal": choose_kind); description and analysis are then generated
after the forced "Judgement: <kind>. Description:" (so conditioned on it) with 4-gram blocking
and a repetition penalty, and the text is cut before a second mark of a field and before any
repeated word 4-gram. Description and analysis must not name another kind than the judgement
(the taxonomy's synonyms: "Judgement: collision. Description: a person falls" contradicts it):
of the beams that name none, the first that names its own kind and has a whole analysis is
kept (structured.summary_quality), else the sample is decoded again with the contradicting words
banned, else those sentences are dropped (structured.consistent_after); a description or
analysis left with fewer than three words ("Analysis: an.") is dropped too
(structured.drop_stub_fields). When the checkpoint carries the sentences its LLM was trained to
write (VAGPT.answers, the demo VA-GPT's) and `hold_answers` is on, description and analysis are
instead chosen among those sentences by greedy decoding held to them, after the judgement
(structured.held_summary: none names another kind; describe-v5): a 4 x 256 LLM trained for
minutes writes them whole or breaks them ("Analysis: fire puts people in this."), and held to
them it cannot break one. The description then says when, from the interval's own times
("It happens from 6.5s to 9.0s", the instruction data's wording; structured.with_when) unless it
already gives a time. With `structured=False` the whole answer is generated greedily
(describe-v1).

Output rows, one per input row:
    video_id, interval_id,
    text            the summary ("" when the row failed)
    label           anomaly kind of the judgement (va_gpt.taxonomy), else None
    judgement, description, analysis   the fields of the text (None when absent)
    fields          JSON: the fields, and judgement_p (the chosen kind's share of the
                    softmax over the kinds' scores) when structured;
                    {"error": "..."} when the row failed (decode error, bad scores)
    model_version, prompt_version
    (camera_id, date when given)

A row that fails is an output row carrying its error, never a crash of the batch.
"""

from __future__ import annotations

import json

import numpy as np

from va_gpt.checkpoints.build import from_preset
from va_gpt.checkpoints.vagpt import load_checkpoint
from va_gpt.config import Preset, load_preset
from va_gpt.models.structured import (
    consistent_after,
    cut_repeated_fields,
    cut_repeats,
    cut_stray_marks,
    drop_stub_fields,
    field_spans,
    held_summary,
    option_logprobs,
    prompt_embeds,
    with_when,
)
from va_gpt.models.vagpt import Sample, uniform_indices
from va_gpt.ops.tetg import check_scores
from va_gpt.taxonomy import KINDS, NORMAL, display, parse_kind
from va_gpt.video.clips import decode_window
from va_gpt.video.errors import DecodeError

# v5: description and analysis held to the sentences the model was trained to write, when its
# checkpoint carries them (VAGPT.answers; structured.held_summary), else v4;
# v4: of 6 beams the one that names its judgement's kind with whole fields, stub fields dropped;
# v3: description and analysis name no other kind than the judgement, the description says when;
# v2: structured judgement + repetition control; v1: free greedy
PROMPT_VERSION = "describe-v4"
PROMPT_VERSION_HELD = "describe-v5"
DESCRIBE_QUESTION = (
    "Describe the abnormal event between {start:.1f}s and {end:.1f}s. Answer as: "
    "Judgement: <the anomaly kind, or normal>. Description: <what happens and when>. "
    "Analysis: <why it is abnormal>."
)
PASSTHROUGH = ("camera_id", "date")
FIELDS = ("judgement", "description", "analysis")
ALLOWED_KINDS: tuple[str, ...] = tuple(KINDS)  # every taxonomy kind, "normal" included
LABEL_P = 0.6  # prior probability of the interval's classifier kind when the row gives none


def parse_fields(text: str) -> dict[str, str]:
    """'Judgement: x. Description: y. Analysis: z.' -> {judgement, description, analysis} (those present)."""
    out: dict[str, str] = {}
    for key, _, value_start, end in field_spans(text)[1:]:
        value = text[value_start:end].strip().rstrip(".").strip()
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


def choose_kind(
    logprobs: np.ndarray,
    kinds: tuple[str, ...],
    label: str | None = None,
    label_p: float | None = None,
    prior_weight: float = 1.0,
    normal_p: float | None = None,
) -> tuple[str, float]:
    """The judgement among `kinds` from the LLM's log-likelihoods [K] plus `prior_weight` *
    log prior from the classifier's kind head (no prior when `label` is not one of `kinds`).

    The prior puts `label_p` (default LABEL_P) on the interval's `label` and the rest evenly on
    the other kinds. With `normal_p`, the kind head's own probability of "normal" over the
    interval (run.summarize_video), the prior puts that on NORMAL and splits the rest between
    `label` (label_p of it) and the other anomaly kinds. Why: an interval's label is the likeliest
    *anomaly* kind even where the kind head says the frames look normal, which is where the
    anomaly head's false intervals lie (docs/MEASUREMENTS.md, "A normal judgement from the kind head").
    Returns (kind, its softmax share)."""
    score = np.asarray(logprobs, dtype=np.float64).copy()
    if label in kinds and prior_weight > 0 and len(kinds) > 1:
        p = _prob(label_p, LABEL_P)
        with_normal = _present(normal_p) and NORMAL in kinds and label != NORMAL
        score += prior_weight * np.log(
            _kind_prior(kinds, label, p, _prob(normal_p, 0.5) if with_normal else None)
        )
    post = np.exp(score - score.max())
    post /= post.sum()
    i = int(np.argmax(score))
    return kinds[i], float(post[i])


def _kind_prior(kinds: tuple[str, ...], label: str, p: float, q: float | None) -> np.ndarray:
    """The prior [K] over `kinds`: p on `label` (of what NORMAL's q leaves, when q is given), the
    rest evenly on the kinds without a share of their own."""
    fixed = {label: p} if q is None else {NORMAL: q, label: (1.0 - q) * p}
    free = [k for k in kinds if k not in fixed]
    rest = (1.0 - sum(fixed.values())) / max(len(free), 1)
    return np.array([fixed.get(k, rest) for k in kinds])


def _prob(p: float | None, default: float) -> float:
    return float(np.clip(p if _present(p) else default, 1e-3, 1 - 1e-3))


def _present(value) -> bool:
    """Not None and not NaN (a null cell of a numpy batch, float32 ones included)."""
    return value is not None and not (isinstance(value, (float, np.floating)) and not np.isfinite(value))


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
        structured: bool = True,
        kinds: tuple[str, ...] = ALLOWED_KINDS,
        # The kind head decides the judgement; the LLM's likelihood breaks near ties and decides
        # alone where a row has no kind-head call. Why: the demo LLM's likelihoods of the kinds
        # barely depend on the video (alone it picks the right kind for 1 of 10 intervals on the
        # validation archive /tmp/v, 2 of 10 on /tmp/a), but differ by up to ~1.5 nats between
        # kinds whatever the video, which at weight 1 outvoted close calls of the kind head. With the
        # kind head's normal share in the prior (normal_p), right judgements on /tmp/v, /tmp/a and
        # /tmp/b: 8 / 9 / 8 of 10 at weight 1, 8 / 10 / 10 at 8, 9 / 10 / 10 at 16 and above;
        # without it, 8 / 9 / 9 at every weight from 1 (docs/MEASUREMENTS.md, "A normal judgement from the kind
        # head"; the sweep is jobs/eval_summaries.py's judgement_by_prior_weight).
        prior_weight: float = 16.0,
        no_repeat_ngram_size: int = 4,
        repetition_penalty: float = 1.2,
        # 6 beams, of which consistent_after keeps the first that names the judgement's kind and has a
        # whole analysis: on the detection issue's held-out archive (/tmp/a, 10 intervals) every text
        # names its judgement (7 of 10 with 3 beams and the first consistent beam; 8 with 3 beams and
        # that choice) and BLEU / ROUGE-L against the plain references is 0.51 / 0.72 (0.47 / 0.69).
        # 3 beams against greedy had given 0.37 / 0.60 against 0.15 / 0.46. The describe stage's LLM
        # time is a small share of a night.
        num_beams: int = 6,
        # hold description and analysis to the checkpoint's trained sentences when it has them
        hold_answers: bool = True,
    ):
        self.preset = load_preset(preset) if isinstance(preset, str) else preset
        self.structured = structured
        self.kinds = tuple(kinds)
        self.prior_weight = prior_weight
        self.gen = {
            "no_repeat_ngram_size": no_repeat_ngram_size,
            "repetition_penalty": repetition_penalty,
            "num_beams": num_beams,
        }
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
        self.answers = self.model.answers if structured and hold_answers else None
        self.prompt_version = PROMPT_VERSION_HELD if self.answers else PROMPT_VERSION

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
            # the interval's kind-head call: TETG carries it when the preset's tetg.kind is on
            kind=row.get("label") if _present(row.get("label")) else None,
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
        shares: dict[int, float] = {}
        bs = max(1, self.preset.runtime.batch_size)
        for j in range(0, len(ready), bs):
            chunk = ready[j : j + bs]
            if not self.structured:
                outs = self.model.generate_batch([s for _, s in chunk], self.max_new_tokens)
                for (i, _), text in zip(chunk, outs):
                    texts[i] = text
                continue
            free, prefixes, chosen = [], [], []
            for i, s in chunk:
                row = _row(batch, i)
                span = (float(row["start_s"]), float(row["end_s"]))
                label = row.get("label") if _present(row.get("label")) else None
                # the frames through the vision tower once, for the judgement and the held fields
                prompt = prompt_embeds(self.model, s)
                kind, shares[i] = choose_kind(
                    option_logprobs(self.model, s, [display(k) for k in self.kinds], prompt=prompt),
                    self.kinds,
                    label,
                    row.get("label_p"),
                    self.prior_weight,
                    row.get("normal_p"),
                )
                held = (
                    held_summary(self.model, s, display(kind), kind, self.answers, prompt)
                    if self.answers
                    else None
                )
                if held is not None:
                    texts[i] = with_when(held, *span)
                    continue
                free.append((i, s, span))
                prefixes.append(f"Judgement: {display(kind)}. Description:")
                chosen.append(kind)
            outs = (
                consistent_after(
                    self.model,
                    [s for _, s, _ in free],
                    prefixes,
                    chosen,
                    clean=lambda text: cut_stray_marks(cut_repeats(cut_repeated_fields(text), 4)),
                    max_new_tokens=self.max_new_tokens,
                    **self.gen,
                )
                if free
                else []
            )
            for (i, _, span), text in zip(free, outs):
                texts[i] = with_when(drop_stub_fields(text), *span)

        labels: list[str | None] = []
        fields: list[str] = []
        cols: dict[str, list] = {k: [] for k in FIELDS}
        for i, (text, err) in enumerate(zip(texts, errors)):
            f = parse_fields(text) if err is None else {}
            for k in FIELDS:
                cols[k].append(f.get(k))
            if err is not None:
                labels.append(None)
                fields.append(json.dumps({"error": err}))
                continue
            labels.append(parse_label(text, f))
            fields.append(
                json.dumps(
                    {**f, **({"judgement_p": round(shares[i], 4)} if i in shares else {})}, sort_keys=True
                )
            )
        out = {
            "video_id": np.asarray(batch["video_id"]),
            "interval_id": np.asarray(batch["interval_id"]),
            "text": np.array(texts, dtype=object),
            "label": np.array(labels, dtype=object),
            **{k: np.array(v, dtype=object) for k, v in cols.items()},
            "fields": np.array(fields, dtype=object),
            "model_version": np.array([self.model_version] * n, dtype=object),
            "prompt_version": np.array([self.prompt_version] * n, dtype=object),
        }
        for k in PASSTHROUGH:
            if k in batch:
                out[k] = np.asarray(batch[k])
        return out


def video_summaries(rows: list[dict]) -> list[dict]:
    """Interval summary rows (Describe's output, any videos) -> one whole-video summary row per
    video with a described interval (interval_id None), composed from its intervals in time
    order (no extra model call): judgement = the anomaly kinds named ("normal" when every
    interval was judged normal), description = each anomalous interval's description with its
    interval id (every interval's when all were judged normal), analysis = the first anomalous
    interval's analysis. Rows that failed are left out."""
    by_video: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("interval_id") is None or "error" in json.loads(r.get("fields") or "{}"):
            continue
        by_video.setdefault(str(r["video_id"]), []).append(r)
    out = []
    for rs in by_video.values():
        rs = sorted(rs, key=lambda r: int(r["interval_id"]))
        kinds = [r.get("label") or NORMAL for r in rs]
        named = list(dict.fromkeys(k for k in kinds if k != NORMAL))
        judgement = ", ".join(display(k) for k in named) if named else NORMAL
        # a video with anomalies is described by them, not by the intervals judged normal beside them
        told = [r for r, k in zip(rs, kinds) if k != NORMAL] if named else rs
        parts = [
            f"interval {int(r['interval_id'])}: {r['description']}" for r in told if r.get("description")
        ]
        description = "; ".join(parts) or None
        analysis = next(
            (r.get("analysis") for r, k in zip(rs, kinds) if k != NORMAL and r.get("analysis")), None
        )
        f = {"judgement": judgement, "description": description, "analysis": analysis}
        text = " ".join(f"{k.capitalize()}: {v}." for k, v in f.items() if v)
        row = {
            "video_id": rs[0]["video_id"],
            "interval_id": None,
            "text": text,
            "label": named[0] if named else NORMAL,
            **f,
            "fields": json.dumps({k: v for k, v in f.items() if v}, sort_keys=True),
            "model_version": rs[0].get("model_version"),
            "prompt_version": rs[0].get("prompt_version"),
        }
        for k in PASSTHROUGH:
            if k in rs[0]:
                row[k] = rs[0][k]
        out.append(row)
    return out

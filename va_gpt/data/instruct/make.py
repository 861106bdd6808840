"""Records of one video: :func:`make_records` (the tasks are listed in :mod:`va_gpt.data.instruct`).

A pure function of the item and the :class:`RecordConfig`: templates and multiple-choice
shuffles come from RNGs seeded by ``(seed, source, video, task, index)`` through SHA-1, never
Python's ``hash``, so every process and machine makes the same records.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from va_gpt.data.instruct.options import MIN_OPTION_S, format_options, mc_options, merge
from va_gpt.data.instruct.sources import EventItem, VideoItem, items_from_synthetic
from va_gpt.data.instruct.templates import (
    NORMAL_ANALYSIS,
    TEMPLATES,
    fields_answer,
    kinds_text,
    r1,
    temporal_answer,
)
from va_gpt.data.records import LETTERS, MC_INSTRUCTION, TASKS, VIDEO_TOKEN, mc_answer
from va_gpt.models.structured import when
from va_gpt.taxonomy import NORMAL, display

SPLIT_SALT = "va-instruction/1"  # the split depends on the video id only, not on the seed
STYLES = ("varied", "plain")


@dataclass(frozen=True)
class RecordConfig:
    """What records depend on besides the item. Picklable (Ray ships it).

    fixed_templates: every question in its task's first template (descriptions: the describe
    stage's own question); times_in_answers: description answers say when the event happens;
    describe_jitter: extra descriptions per anomalous event about a window whose ends are moved by
    up to 1 s (as a detected interval would be); mc_variants: multiple-choice questions per video,
    each with its own distractors and order.
    """

    seed: int = 0
    test_fraction: float = 0.2
    pad_s: float = 1.0  # context each side of an event window (the describe stage's pad_s)
    fixed_templates: bool = False
    times_in_answers: bool = True
    describe_jitter: int = 0
    mc_variants: int = 1

    def __post_init__(self):
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.pad_s < 0:
            raise ValueError(f"pad_s must be >= 0, got {self.pad_s}")
        if self.describe_jitter < 0 or self.mc_variants < 0:
            raise ValueError(
                f"describe_jitter and mc_variants must be >= 0, got {self.describe_jitter}, {self.mc_variants}"
            )


def _digest(*parts) -> bytes:
    return hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).digest()


def split_for(video_id: str, test_fraction: float) -> str:
    """'test' for a fixed `test_fraction` of videos, chosen by SHA-1 of the video id (seed-independent)."""
    u = int.from_bytes(_digest(SPLIT_SALT, video_id)[:8], "big") / 2.0**64
    return "test" if u < test_fraction else "train"


def _rng(seed: int, *parts) -> np.random.Generator:
    words = np.frombuffer(_digest(seed, *parts)[:16], dtype="<u4")
    return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))


def _record(item: VideoItem, task: str, n: int, template: int, clip, kind, question, answer, cfg, **extra):
    rec = {
        "id": _digest(item.source, item.name, task, n, template).hex()[:16],
        "source": item.source,
        "video": item.video,
        "video_id": item.video_id,
        "clip_start_s": float(clip[0]),
        "clip_end_s": None if clip[1] is None else float(clip[1]),
        "task": task,
        "kind": kind,
        "split": split_for(item.key or item.video_id, cfg.test_fraction),
        "conversations": [
            {"from": "human", "value": VIDEO_TOKEN + question},
            {"from": "gpt", "value": answer},
        ],
        "options": None,
        "answer_index": None,
        "events": item.truth,
    }
    rec.update(extra)
    return rec


def _pick(cfg: RecordConfig, item: VideoItem, task: str, n: int, family: str | None = None) -> int:
    if cfg.fixed_templates:
        return 0
    return int(
        _rng(cfg.seed, item.source, item.name, task, n, "template").integers(len(TEMPLATES[family or task]))
    )


def _jittered(cfg: RecordConfig, item: VideoItem, ev: EventItem, n: int) -> EventItem:
    """`ev` with start and end moved by up to 1 s (at least 1 s long, inside the video)."""
    rng = _rng(cfg.seed, item.source, item.name, "jitter", n)
    start = r1(max(0.0, ev.start_s + float(rng.uniform(-1.0, 1.0))))
    end = r1(max(start + 1.0, ev.end_s + float(rng.uniform(-1.0, 1.0))))
    if item.duration_s is not None:
        end = min(end, float(item.duration_s))
    return dataclasses.replace(ev, start_s=start, end_s=max(end, start + 0.1))


def _mc_record(item: VideoItem, cfg: RecordConfig, n: int) -> dict | None:
    """The n-th multiple-choice temporal question of an anomalous video; None when 3 distractors do not fit."""
    truth = item.truth
    rng = _rng(cfg.seed, item.source, item.name, "mc_temporal", n, "options")
    right = int(rng.integers(len(truth)))
    kind = [e for e in item.events if e.anomalous][right].kind
    last_end = max(e for _, e in truth)
    if item.duration_s is not None:
        domain = max(float(item.duration_s), last_end)
    else:  # length unknown: up to one event length past the last event, so the truth is not always last
        r0, r1_ = truth[right]
        domain = last_end + max(r1_ - r0, MIN_OPTION_S)
    picked = mc_options(truth, right, domain, rng)
    if picked is None:
        return None
    options, answer_index = picked
    t = _pick(cfg, item, "mc_temporal", n)
    what = f"the {display(kind)}" if len(truth) == 1 else f"an anomaly ({display(kind)})"
    texts = format_options(options)
    q = TEMPLATES["mc_temporal"][t].format(what=what) + "\n" + "\n".join(texts) + "\n" + MC_INSTRUCTION
    answer = mc_answer(LETTERS[answer_index], texts[answer_index].split(" ", 1)[1])
    whole = (0.0, item.duration_s)
    return _record(
        item, "mc_temporal", n, t, whole, kind, q, answer, cfg, options=texts, answer_index=answer_index
    )


def make_records(item: VideoItem, cfg: RecordConfig) -> list[dict]:
    """All records of one video (see the package docstring for the tasks). Pure and deterministic."""
    recs: list[dict] = []
    whole = (0.0, item.duration_s)

    def window(ev: EventItem):
        end = ev.end_s + cfg.pad_s
        if item.duration_s is not None:
            end = min(end, max(item.duration_s, ev.end_s))
        return (max(0.0, ev.start_s - cfg.pad_s), end)

    # judgement
    t = _pick(cfg, item, "judgement", 0)
    if item.anomalous:
        answer = f"Yes. There is an anomaly in this video: {kinds_text(item.kinds)}."
    else:
        answer = "No. The video is normal: nothing abnormal happens."
    recs.append(_record(item, "judgement", 0, t, whole, item.kind, TEMPLATES["judgement"][t], answer, cfg))

    # description and analysis, per described event
    nd = na = 0
    for ev in item.events:
        if ev.description:
            if ev.anomalous:
                desc = ev.description.rstrip(".")
                if cfg.times_in_answers:
                    desc = f"{desc}. {when(ev.start_s, ev.end_s)}"
                a = fields_answer(display(ev.kind), desc, ev.analysis)
                kind = ev.kind
            else:
                a = fields_answer(NORMAL, ev.description.rstrip("."), NORMAL_ANALYSIS)
                kind = NORMAL
            asked = [ev] + [
                _jittered(cfg, item, ev, nd + 1 + j)
                for j in range(cfg.describe_jitter if ev.anomalous else 0)
            ]
            for w in asked:
                t = _pick(cfg, item, "description", nd)
                q = TEMPLATES["description"][t].format(start=w.start_s, end=w.end_s)
                recs.append(_record(item, "description", nd, t, window(w), kind, q, a, cfg))
                nd += 1
        if ev.anomalous and ev.analysis:
            t = _pick(cfg, item, "analysis", na)
            q = TEMPLATES["analysis"][t].format(start=ev.start_s, end=ev.end_s)
            a = fields_answer(display(ev.kind), None, ev.analysis.rstrip("."))
            recs.append(_record(item, "analysis", na, t, window(ev), ev.kind, q, a, cfg))
            na += 1

    # whole-video description and analysis (HIVAU summaries, synthetic normal videos)
    if item.summary_description:
        t = _pick(cfg, item, "description", nd, "description_video")
        judgement = kinds_text(item.kinds) if item.anomalous else NORMAL
        analysis = item.summary_analysis if item.anomalous else NORMAL_ANALYSIS
        a = fields_answer(judgement, item.summary_description.rstrip("."), analysis)
        q = TEMPLATES["description_video"][t]
        recs.append(_record(item, "description", nd, t, whole, item.kind, q, a, cfg))
        nd += 1
    if item.anomalous and item.summary_analysis:
        t = _pick(cfg, item, "analysis", na, "analysis_video")
        a = fields_answer(kinds_text(item.kinds), None, item.summary_analysis.rstrip("."))
        q = TEMPLATES["analysis_video"][t]
        recs.append(_record(item, "analysis", na, t, whole, item.kind, q, a, cfg))
        na += 1

    if not item.anomalous or not item.truth:
        return recs

    # temporal localisation
    t = _pick(cfg, item, "temporal", 0)
    a = temporal_answer(merge(item.truth))
    recs.append(_record(item, "temporal", 0, t, whole, item.kind, TEMPLATES["temporal"][t], a, cfg))

    # multiple-choice temporal questions; none when the video has no room for distractors
    # (skipped_records lists it)
    for n in range(cfg.mc_variants):
        rec = _mc_record(item, cfg, n)
        if rec is None:
            break
        recs.append(rec)
    return recs


def skipped_records(item: VideoItem, records: Sequence[dict]) -> list[dict]:
    """What an item should have had but did not get (an anomalous video without mc_temporal)."""
    if item.anomalous and item.truth and not any(r["task"] == "mc_temporal" for r in records):
        return [
            {
                "source": item.source,
                "video": item.video,
                "task": "mc_temporal",
                "reason": "no room for 3 distractor intervals with IoU < 0.3",
            }
        ]
    return []


def synthetic_records(
    truth,
    split: str,
    *,
    seed: int = 0,
    tasks: Sequence[str] = TASKS,
    style: str = "plain",
    mc_variants: int = 1,
    pad_s: float = 1.0,
) -> list[dict]:
    """Records of a synthetic archive's ground truth (``synthetic.ArchiveTruth``), all in `split`.

    style ``varied``: the builder's defaults (the generator's captions, varied templates, times
    in the answers). ``plain`` (the demo): one short description and reason per kind, each task's
    first template (the describe stage's own question), no times in description answers, one
    extra description per event about a jittered window, and a described stretch of every normal
    video: what a small model learns in minutes. `tasks` keeps only those tasks.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    plain = style == "plain"
    cfg = RecordConfig(
        seed=seed,
        test_fraction=1.0 if split == "test" else 0.0,
        pad_s=pad_s,
        fixed_templates=plain,
        times_in_answers=not plain,
        describe_jitter=1 if plain else 0,
        mc_variants=mc_variants,
    )
    items = items_from_synthetic(truth, short_texts=plain)
    return [r for it in items for r in make_records(it, cfg) if r["task"] in tasks]

"""The SETS / TETG ablation at small scale, from a trained (demo) checkpoint.

Each setting (SETS top-K ratio, TETG text / embedding / off, or no video at all)
is fine-tuned briefly under its own token budget, then scored on the QA
records greedily (free, and held to the options: `greedy_option_choices`), by option
likelihood (`scored_choices`) and by each option's interval
as the answer to the plain temporal question (`interval_choices`), with the held-out
answer NLL and the LLM-side compute ratio (`visual_token_flops`); the table and
plot are written by va_gpt.eval.ablation_report.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from va_gpt.data.instruct.options import iou
from va_gpt.data.instruct.templates import TEMPORAL_QUESTION, temporal_answer
from va_gpt.data.records import option_texts
from va_gpt.eval.ablation_report import ablation_markdown, ablation_plot
from va_gpt.eval.errors import EvaluationError
from va_gpt.eval.qa import MC_ANSWER_TOKENS, greedy_option_choices, option_candidates, qa_metrics, qa_records
from va_gpt.models.vagpt import (
    KIND_VISUAL,
    VAGPT,
    llm_prefill_flops,
    uniform_indices,
    visual_token_flops,
)
from va_gpt.ops.sets import num_selected
from va_gpt.ops.text_metrics import parse_choice
from va_gpt.train.config import TrainConfig
from va_gpt.train.encoder_cache import encoder_cache
from va_gpt.train.initial import with_settings
from va_gpt.train.losses import answer_nll, text_only
from va_gpt.train.vagpt import train

log = logging.getLogger(__name__)

HELDOUT_TASKS = ("judgement", "temporal", "description", "analysis")  # the ablation's held-out NLL


@dataclass(frozen=True)
class AblationSetting:
    name: str
    top_k: float  # SETS ratio of patches kept
    encoding: str  # TETG encoding: text | embedding | none
    video: bool = True  # False: no visual tokens at all (the text-only prior, a floor to compare with)


def default_settings() -> list[AblationSetting]:
    """The paper's ablations: SETS 100/50/25/10% with TETG (text); TETG off and embedding at 25%; and the
    floor: neither video nor TETG, what the question text alone lets the model guess."""
    return [
        AblationSetting("SETS 100%", 1.0, "text"),
        AblationSetting("SETS 50%", 0.5, "text"),
        AblationSetting("SETS 25%", 0.25, "text"),
        AblationSetting("SETS 10%", 0.1, "text"),
        AblationSetting("SETS 25%, no TETG", 0.25, "none"),
        AblationSetting("SETS 25%, TETG embedding", 0.25, "embedding"),
        AblationSetting("no video, no TETG (prior)", 0.25, "none", video=False),
    ]


def select_settings(spec: str, settings: list[AblationSetting] | None = None) -> list[AblationSetting]:
    """The settings a comma list names, in its order ("SETS 100%,SETS 25%, no TETG"). Names hold
    commas themselves, so the longest name that fits is taken at each place in the list."""
    by_name = {s.name: s for s in settings or default_settings()}
    parts = spec.split(",")
    out, i = [], 0
    while i < len(parts):
        for j in range(len(parts), i, -1):
            name = ",".join(parts[i:j]).strip()
            if name in by_name:
                out.append(by_name[name])
                i = j
                break
        else:
            raise EvaluationError(
                f"--settings {spec!r}: no ablation setting named {parts[i].strip()!r}; "
                f"the settings are {', '.join(repr(n) for n in by_name)}"
            )
    return out


def scored_choices(model, records: list[dict], samples: list) -> list[str]:
    """Multiple choice by likelihood: for each question the option whose answer text has the lowest mean
    NLL per token (lm-eval-harness style). It reads what the model prefers even when greedy
    decoding always writes one letter. Returns "(X)" per question, for `qa_metrics`."""
    out = []
    for rec, s in zip(records, samples):
        cands = option_candidates(rec)
        nll = answer_nll(model, [dataclasses.replace(s, answer=c) for c in cands])
        out.append(f"({'ABCDEFGHIJ'[int(nll.argmin())]})")
    return out


# an interval as options and answers write it: "7.4s-8.4s" or "from 7.4s to 8.4s"
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*s?\s*(?:[-\u2013]|to)\s*(\d+(?:\.\d+)?)\s*s")


def option_intervals(rec: dict) -> list[tuple[float, float]] | None:
    """The (start, end) seconds of each option ("12.1s-15.6s"), or None when one is not an interval."""
    out = []
    for text in option_texts(rec) or []:
        m = _INTERVAL.search(text)
        if m is None:
            return None
        out.append((float(m.group(1)), float(m.group(2))))
    return out or None


def interval_choices(model, records: list[dict], samples: list) -> list[str]:
    """Multiple choice by the model's temporal belief: each option's interval scored as the answer to
    the plain temporal question ("When does the anomaly happen ...?" -> "The anomaly happens from
    a to b.", the training records' own wording), lowest mean NLL per token wins. The letters play
    no part, so a model that always writes one letter still shows whether the video and TETG
    point it at the right interval. "?" where the options are not intervals."""
    out = []
    for rec, s in zip(records, samples):
        spans = option_intervals(rec)
        if not spans:
            out.append("?")
            continue
        cands = [
            dataclasses.replace(s, question=TEMPORAL_QUESTION, answer=temporal_answer([(a, b)]))
            for a, b in spans
        ]
        out.append(f"({'ABCDEFGHIJ'[int(answer_nll(model, cands).argmin())]})")
    return out


def stated_choices(records: list[dict], answers: list[str]) -> list[str]:
    """Multiple choice by what a greedy answer says happens: the option with the highest temporal
    IoU with the first interval the answer states ("7.4s-8.4s (B)" -> the option overlapping
    7.4-8.4 s most), "(X)" per question for `qa_metrics`; "?" when the answer states no interval,
    the options are not intervals or none overlaps. The answer's letter plays no part: a model
    taught to state the interval before the letter stated its own estimate of when and then wrote
    "(B)" for most questions (docs/MEASUREMENTS.md, "Interval-first answers, measured and not adopted")."""
    out = []
    for rec, text in zip(records, answers):
        spans, m = option_intervals(rec), _INTERVAL.search(text)
        if not spans or m is None:
            out.append("?")
            continue
        said = (float(m.group(1)), float(m.group(2)))
        overlap = [iou(said, span) for span in spans]
        best = int(np.argmax(overlap))
        out.append(f"({'ABCDEFGHIJ'[best]})" if overlap[best] > 0 else "?")
    return out


def heldout_nll(model, records: list[dict], samples: list) -> dict[str, float]:
    """Mean answer NLL per token of held-out records, by task (and "all"): lower is better."""
    by: dict[str, list[float]] = {}
    for i in range(0, len(samples), 4):
        vals = answer_nll(model, samples[i : i + 4]).tolist()
        for rec, v in zip(records[i : i + 4], vals):
            by.setdefault(str(rec.get("task")), []).append(v)
    out = {k: float(np.mean(v)) for k, v in sorted(by.items())}
    out["all"] = float(np.mean([x for v in by.values() for x in v])) if by else float("nan")
    return out


def _subsample(samples, max_frames: int) -> list:
    """Samples with at most `max_frames` frames, spread uniformly (the TETG curve is kept whole)."""
    out = []
    for s in samples:
        if len(s.t) <= max_frames:
            out.append(s)
            continue
        idx = uniform_indices(len(s.t), max_frames)
        out.append(
            dataclasses.replace(s, frames=np.asarray(s.frames)[idx], t=np.asarray(s.t)[idx], selection=None)
        )
    return out


def _text_tokens(model, samples) -> float:
    counts = [int((model.sequence(s)[2] != KIND_VISUAL).sum()) for s in samples]
    return float(np.mean(counts)) if counts else 0.0


def run_ablation(
    load_model,
    train_data,
    test_records: list[dict],
    builder,
    out_dir: str | os.PathLike,
    *,
    settings: list[AblationSetting] | None = None,
    steps: int = 10,
    lr: float = 5e-4,
    batch_size: int = 2,
    seed: int = 0,
    interval_recall: dict | None = None,
    max_frames: int | None = None,
    max_heldout: int = 24,
) -> dict:
    """Each setting: a fresh model from `load_model()`, its SETS ratio and TETG encoding set, `steps` of
    stage-2 fine-tuning on `train_data` (0: none), then QA on the test multiple-choice records.

    Every setting sees the same `max_frames` frames per question (default: the most that fit
    llm.max_position at the largest SETS ratio, capped at the preset's projector.max_frames;
    the demo preset fits 16 frames at 25% but only 6 at 100%).

    Per setting: accuracy of greedy answers (the paper's reading), accuracy by option likelihood
    (`scored_choices`), and the held-out answer NLL of up to `max_heldout` non-multiple-choice
    test records (`heldout_nll`), a finer measure than accuracy for a small model.

    Writes ``ablation.md`` (table) and ``ablation.png`` (accuracy bars + compute ratio) to `out_dir`
    and returns {"rows": [...], "markdown": ..., "png": ...}. `interval_recall`: the
    `interval_metrics` of a run, reported beside the table (the intervals come from the
    classifier pipeline, not the LLM, so they do not change with these settings).
    """
    settings = settings or default_settings()
    mc = qa_records(test_records)
    if not mc:
        raise EvaluationError("the ablation needs multiple-choice test records (options + answer_index)")
    test = builder.build(mc, with_answer=False, what="ablation test records")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    first = load_model()
    cfg0 = first.config
    if max_frames is None:
        with encoder_cache(first):
            text_max = max(_text_tokens(first, [text_only(s)]) for s in test.samples)
        grid = (cfg0.encoder.image_size // cfg0.encoder.patch_size) ** 2
        per_frame = num_selected(grid, max(st.top_k for st in settings))
        max_frames = min(cfg0.projector.max_frames, int((cfg0.llm.max_position - text_max - 16) // per_frame))
    if max_frames < 1:
        raise EvaluationError(
            f"no frame fits llm.max_position {cfg0.llm.max_position} at the largest SETS ratio"
        )
    held = [r for r in test_records if r.get("task") in HELDOUT_TASKS][:max_heldout]
    held_data = builder.build(held, what="ablation held-out records") if held else None
    held_samples = _subsample(held_data.samples, max_frames) if held_data else []
    test_samples = _subsample(test.samples, max_frames)
    train_samples = _subsample(
        train_data.samples if hasattr(train_data, "samples") else train_data or [], max_frames
    )
    rows = []
    for k, st in enumerate(settings):
        t0 = time.monotonic()
        base = first if k == 0 else load_model()
        if k:  # the same frozen encoder for every setting, so its cached outputs are reused
            base = VAGPT(
                first.vision, base.projector, base.llm, base.tokenizer, base.config, first.sets_encoder
            )
        cfg = base.config
        model = with_settings(
            base,
            sets=dataclasses.replace(cfg.sets, top_k=st.top_k),
            tetg=dataclasses.replace(cfg.tetg, encoding=st.encoding),
            max_frames=max_frames,
        )
        losses = []
        tr, te, he = train_samples, test_samples, held_samples
        if not st.video:
            tr, te, he = ([text_only(x) for x in xs] for xs in (tr, te, he))
        if steps > 0:
            res = train(
                model, tr,
                TrainConfig(stage=2, steps=steps, lr=lr, batch_size=batch_size, seed=seed, log_every=0),
            )  # fmt: skip
            model, losses = res.model, res.losses
        preds = []
        with encoder_cache(model):
            for i in range(0, len(te), 4):
                preds += model.generate_batch(te[i : i + 4], MC_ANSWER_TOKENS)
            text = _text_tokens(model, test_samples[:4])
            model.eval()
            held_to = greedy_option_choices(model, test.records, te)
            scored = qa_metrics(test.records, scored_choices(model, test.records, te))
            by_interval = qa_metrics(test.records, interval_choices(model, test.records, te))
            nll = heldout_nll(model, held_data.records, he) if he else {}
        qa = qa_metrics(test.records, preds)
        held_qa = qa_metrics(test.records, held_to)
        stated = stated_choices(test.records, preds)
        letters = Counter(parse_choice(p, option_texts(r)) or "?" for p, r in zip(preds, test.records))
        flops = visual_token_flops(model.config, st.top_k, round(text))
        full = visual_token_flops(model.config, 1.0, round(text))
        if not st.video:
            flops = {"visual_tokens": 0, "flops": llm_prefill_flops(round(text), model.config.llm)}
        rows.append(
            {
                "setting": st.name,
                "top_k": st.top_k,
                "tetg": st.encoding,
                "video": st.video,
                "total_acc": qa.total,
                "temporal_acc": qa.temporal,
                "n": qa.n,
                "scored_total_acc": scored.total,
                "scored_temporal_acc": scored.temporal,
                "interval_temporal_acc": by_interval.temporal,
                "stated_temporal_acc": qa_metrics(test.records, stated).temporal,
                "stated_answers": dict(Counter(c.strip("()") for c in stated).most_common()),
                "options_greedy_total_acc": held_qa.total,
                "options_greedy_temporal_acc": held_qa.temporal,
                "options_greedy_answers": dict(Counter(c.strip("()") for c in held_to).most_common()),
                "heldout_nll": nll,
                "frames": max_frames,
                "answers": dict(letters.most_common()),
                "examples": preds[:3],
                "visual_tokens": flops["visual_tokens"],
                "text_tokens": round(text, 1),
                "compute_ratio": flops["flops"] / full["flops"],
                "train_loss_first": losses[0] if losses else None,
                "train_loss_last": losses[-1] if losses else None,
                "seconds": round(time.monotonic() - t0, 1),
            }
        )
        log.info("ablation %s: total %.3f temporal %s scored %.3f held-out NLL %s compute %.2fx", st.name,
                 qa.total, qa.temporal, scored.total, nll.get("all"), rows[-1]["compute_ratio"])  # fmt: skip
    md = ablation_markdown(rows, steps, interval_recall)
    (out / "ablation.md").write_text(md)
    png = ablation_plot(rows, out / "ablation.png")
    (out / "ablation.json").write_text(
        json.dumps({"rows": rows, "interval_recall": interval_recall}, indent=1)
    )
    return {"rows": rows, "markdown": str(out / "ablation.md"), "png": str(png), "table": md}

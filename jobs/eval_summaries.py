"""How right and readable the describe stage's summaries are on a synthetic archive (issue 12).

Runs the nightly stages in this process (pipeline.run.run_local: decode -> visual -> intervals),
then the describe stage twice on the same intervals: free greedy decoding (describe-v1) and the
structured decoding (describe-v2 and after, va_gpt.models.structured: describe-v5 holds the fields
to the checkpoint's trained sentences where it carries them, and is then run a third time with
free fields, `structured_free_fields`). Per mode:

- kind_acc: of the intervals that overlap an injected event, the share whose judgement names the
  event's kind (va_gpt.taxonomy; the best-overlapping event);
- normal_ok: of the intervals on normal videos, the share judged "normal"; false_judged_normal:
  the same over every interval that overlaps no event (normal videos and anomalous ones);
- max_4gram: the most times any word 4-gram occurs in one summary (1 = none repeats);
- names_judgement: the share of summaries whose description or analysis names the judgement's
  own kind; contradicting: how many name another kind (va_gpt.taxonomy.kind_mentions);
- whole_fields / fields: of the summaries' description and analysis fields, how many are one of
  the plain-style training sentences whole (the description without the "It happens from ..."
  the stage adds); missing_fields: description or analysis fields a summary lacks (dropped as
  broken, or never written). A field that is neither whole nor missing is a broken or novel
  sentence ("Analysis: fire puts people in this.");
- bleu / rouge_l: the description against the synthetic truth's caption of the matched event;
  bleu_plain / rouge_l_plain: the whole summary against the demo's plain-style reference
  ("Judgement: <kind>. Description: <short text>. Analysis: <short reason>.").

    python jobs/eval_summaries.py --archive DIR --checkpoint WORK/models/demo/vagpt \
        --classifier WORK/models/demo/classifier [--out report.json]
"""

from __future__ import annotations

import argparse
import json
import re
import time

from va_gpt.config import load_preset
from va_gpt.data.instruct.templates import (
    NORMAL_ANALYSIS,
    SHORT_ANALYSIS,
    SHORT_DESCRIPTION,
    SHORT_NORMAL,
    fields_answer,
)
from va_gpt.io.archive import video_id_for
from va_gpt.models.structured import contradictions, max_ngram_repeats, option_logprobs
from va_gpt.ops.text_metrics import bleu, rouge_l
from va_gpt.pipeline.describe import Describe, choose_kind
from va_gpt.pipeline.run import Job, _batch, _rows, interval_rows, run_local
from va_gpt.synthetic.truth import load_truth
from va_gpt.taxonomy import NORMAL, display, kind_mentions


def _overlap(a0, a1, b0, b1) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def plain_reference(kind: str | None) -> str:
    if kind is None:
        return fields_answer(NORMAL, SHORT_NORMAL, NORMAL_ANALYSIS)
    return fields_answer(display(kind), SHORT_DESCRIPTION.get(kind), SHORT_ANALYSIS.get(kind))


PLAIN_SENTENCES = {
    s.lower() for s in [*SHORT_DESCRIPTION.values(), *SHORT_ANALYSIS.values(), SHORT_NORMAL, NORMAL_ANALYSIS]
}
_WHEN = re.compile(r"\s*It happens from [\d.]+s to [\d.]+s\.?\s*$")


def field_sentences(summary: dict) -> list[str | None]:
    """A summary's description (without the times the stage adds) and analysis, lower-cased,
    without the closing period; None for a field it lacks."""
    out = []
    for field in ("description", "analysis"):
        value = summary.get(field)
        value = _WHEN.sub("", value).strip().rstrip(".").strip().lower() if value else ""
        out.append(value or None)
    return out


def evaluate(rows: list[dict], out: list[dict], truth_by_uri: dict) -> dict:
    kind_hits = kind_n = normal_hits = normal_n = false_hits = false_n = 0
    cands, refs, cands_plain, refs_plain, reps, examples = [], [], [], [], [], []
    fields = [f for s in out if s.get("text") for f in field_sentences(s)]
    for r, s in zip(rows, out):
        v = truth_by_uri[r["uri"]]
        reps.append(max_ngram_repeats(s["text"]))
        ev = max(v.events, key=lambda e: _overlap(r["start_s"], r["end_s"], e.start_s, e.end_s), default=None)
        if ev is not None and _overlap(r["start_s"], r["end_s"], ev.start_s, ev.end_s) > 0:
            kind_n += 1
            kind_hits += s["label"] == ev.kind
            cands.append(s.get("description") or "")
            refs.append(ev.caption)
            cands_plain.append(s["text"])
            refs_plain.append(plain_reference(ev.kind))
            truth_kind = ev.kind
        elif not v.events:
            normal_n += 1
            normal_hits += s["label"] == NORMAL
            cands_plain.append(s["text"])
            refs_plain.append(plain_reference(None))
            truth_kind = NORMAL
        else:
            truth_kind = "(no event overlaps)"
        if truth_kind in (NORMAL, "(no event overlaps)"):
            false_n += 1
            false_hits += s["label"] == NORMAL
        if len(examples) < 8:
            examples.append({"truth": truth_kind, "text": s["text"]})
    return {
        "intervals": len(out),
        "matched": kind_n,
        "kind_acc": kind_hits / kind_n if kind_n else None,
        "on_normal_videos": normal_n,
        "normal_ok": normal_hits / normal_n if normal_n else None,
        "false_intervals": false_n,
        "false_judged_normal": false_hits / false_n if false_n else None,
        "max_4gram": max(reps, default=0),
        "summaries_with_repeat": sum(x > 1 for x in reps),
        "bleu": bleu(cands, refs) if cands else None,
        "rouge_l": rouge_l(cands, refs) if cands else None,
        "bleu_plain": bleu(cands_plain, refs_plain) if cands_plain else None,
        "rouge_l_plain": rouge_l(cands_plain, refs_plain) if cands_plain else None,
        "fields": len(fields),
        "whole_fields": sum(f in PLAIN_SENTENCES for f in fields),
        "missing_fields": sum(f is None for f in fields),
        "names_judgement": names_judgement(out),
        "contradicting": sum(
            bool(contradictions(_after_judgement(s["text"]), s["label"] or NORMAL)) for s in out
        ),
        "examples": examples,
    }


def _after_judgement(text: str) -> str:
    return text.split("Description:", 1)[1] if "Description:" in text else ""


def names_judgement(out: list[dict]) -> float | None:
    """Share of summaries whose description or analysis names the judgement's own kind (for a
    "normal" judgement: says "normal" / "nothing abnormal" or names no kind at all)."""
    hits = []
    for s in out:
        if not s.get("text"):
            continue
        kind = s["label"] or NORMAL
        named = {k for k, _ in kind_mentions(_after_judgement(s["text"]))}
        hits.append(kind in named or (kind == NORMAL and not named))
    return sum(hits) / len(hits) if hits else None


def _truth_kind(r: dict, v) -> str | None:
    ev = max(v.events, key=lambda e: _overlap(r["start_s"], r["end_s"], e.start_s, e.end_s), default=None)
    if ev is not None and _overlap(r["start_s"], r["end_s"], ev.start_s, ev.end_s) > 0:
        return ev.kind
    return None if v.events else NORMAL


def prior_sweep(
    stage: Describe, rows: list[dict], truth_by_uri: dict, weights=(0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 1e6)
) -> dict:
    """Judgement accuracy (matched events and normal videos together) per prior weight, from one
    pass of option likelihoods: 0 = the LLM alone, 1e6 = the kind head's prior alone (where
    given); each with the kind head's normal share (normal_p) in the prior and without it."""
    kinds = stage.kinds
    scored = []
    for r in rows:
        want = _truth_kind(r, truth_by_uri[r["uri"]])
        if want is None:
            continue
        lp = option_logprobs(stage.model, stage.sample(r), [display(k) for k in kinds])
        label = r.get("label") if isinstance(r.get("label"), str) else None
        scored.append((want, lp, label, r.get("label_p"), r.get("normal_p")))
    out = {"n": len(scored), "with_label": sum(x[2] is not None for x in scored)}
    for w in weights:
        for name, use_normal in (("", True), (" without normal_p", False)):
            hits = sum(
                choose_kind(lp, kinds, label, p, w, q if use_normal else None)[0] == want
                for want, lp, label, p, q in scored
            )
            out[f"w={w:g}{name}"] = hits / len(scored) if scored else None
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--archive", required=True, help="local synthetic archive folder (vagpt synth)")
    p.add_argument("--checkpoint", required=True, help="VA-GPT checkpoint folder")
    p.add_argument("--classifier", required=True, help="anomaly classifier folder")
    p.add_argument("--preset", default="demo")
    p.add_argument("--out", default=None, help="write the report as JSON here")
    p.add_argument(
        "--num-beams", type=int, default=None, help="beams of generation (default: the describe stage's)"
    )
    p.add_argument(
        "--no-repeat-ngram-size",
        type=int,
        default=None,
        help="token n-grams generation never repeats (default: the describe stage's)",
    )
    p.add_argument("--repetition-penalty", type=float, default=None, help="default: the describe stage's")
    a = p.parse_args(argv)
    preset = load_preset(a.preset)
    truth = load_truth(a.archive)
    root = a.archive.rstrip("/")
    truth_by_uri = {f"{root}/{v.key}": v for v in truth.videos}
    t0 = time.monotonic()
    job = Job(preset=preset, classifier_dir=a.classifier, checkpoint_url=a.checkpoint, describe=False)
    results, _ = run_local([{"video_id": video_id_for(u), "uri": u} for u in truth_by_uri], job)
    rows = interval_rows(results)
    report: dict = {
        "videos": len(truth_by_uri),
        "intervals": len(rows),
        "scan_seconds": round(time.monotonic() - t0, 1),
    }
    given = {
        "num_beams": a.num_beams,
        "no_repeat_ngram_size": a.no_repeat_ngram_size,
        "repetition_penalty": a.repetition_penalty,
    }
    beams = {k: v for k, v in given.items() if v is not None}

    def measure(mode: str, structured: bool, hold: bool) -> Describe:
        t0 = time.monotonic()
        stage = Describe(
            preset, checkpoint_url=a.checkpoint, structured=structured, hold_answers=hold, **beams
        )
        out = []
        for i in range(0, len(rows), 4):
            out += _rows(stage(_batch(rows[i : i + 4])))
        report[mode] = {
            **evaluate(rows, out, truth_by_uri),
            "prompt_version": stage.prompt_version,
            "seconds": round(time.monotonic() - t0, 1),
        }
        return stage

    measure("free_greedy_v1", False, True)
    stage = measure("structured_v2", True, True)
    report["judgement_by_prior_weight"] = prior_sweep(stage, rows, truth_by_uri)
    if stage.answers:  # held fields: measure the free ones beside them
        measure("structured_free_fields", True, False)
    text = json.dumps(report, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

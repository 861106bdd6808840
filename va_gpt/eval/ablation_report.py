"""The ablation's report: a Markdown table (`ablation_markdown`) and a PNG (`ablation_plot`;
matplotlib, from the ``eval`` extra, is imported there)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def ablation_markdown(rows: list[dict], steps: int, interval_recall: dict | None = None) -> str:
    lines = [
        "| setting | SETS top-K | TETG | total acc (%) | temporal acc (%) | answers given "
        "| stated interval (%) | options stated | held to the options (%) | options written | scored total (%) | scored temporal (%) | by interval (%) "
        "| held-out NLL | visual tokens | compute (x of 100%) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        given = " ".join(f"{k}:{v}" for k, v in r.get("answers", {}).items())
        stated = " ".join(f"{k}:{v}" for k, v in r.get("stated_answers", {}).items())
        held = " ".join(f"{k}:{v}" for k, v in r.get("options_greedy_answers", {}).items())
        nll = r.get("heldout_nll", {}).get("all")
        top = f"{100 * r['top_k']:.0f}%" if r.get("video", True) else "no video"
        lines.append(
            f"| {r['setting']} | {top} | {r['tetg']} | {_pct(r['total_acc'])} | "
            f"{_pct(r['temporal_acc'])} | {given} | {_pct(r.get('stated_temporal_acc'))} | {stated} | "
            f"{_pct(r.get('options_greedy_temporal_acc'))} | {held} | "
            f"{_pct(r.get('scored_total_acc'))} | "
            f"{_pct(r.get('scored_temporal_acc'))} | {_pct(r.get('interval_temporal_acc'))} | "
            f"{'n/a' if nll is None else f'{nll:.3f}'} | "
            f"{r['visual_tokens']} | {r['compute_ratio']:.2f} |"
        )
    notes = [
        "",
        f"Each setting: the same starting checkpoint, {steps} stage-2 steps under its own token budget, "
        f"{rows[0]['frames'] if rows else '?'} frames per question, then {rows[0]['n'] if rows else '?'} "
        "multiple-choice test questions answered greedily (acc: the letter written; stated interval: the "
        "option overlapping most the interval the answer states; held to the options: greedy decoding that "
        "may write only an option's answer), by option likelihood (scored) and by "
        "each option's interval as the answer to the plain temporal question (by interval), "
        "and the mean answer NLL per token of held-out judgement / temporal / description records. "
        "Compute: LLM prefill FLOPs of one question (visual_token_flops) relative to 100% of the patches.",
    ]
    if interval_recall:
        r = interval_recall["by_iou"]
        notes.append(
            "Interval recall of the run (classifier intervals; independent of SETS/TETG in the LLM): "
            + ", ".join(f"R@{k} {_pct(v['recall'])}%" for k, v in r.items())
        )
    else:
        notes.append("Interval recall: skipped (no results folder with annotations was given).")
    return "\n".join(lines + notes) + "\n"


def ablation_plot(rows: list[dict], path: str | os.PathLike) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["setting"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 4))
    ax.bar(x - 0.27, [100 * r["total_acc"] for r in rows], 0.27, label="total acc (greedy)")
    ax.bar(x, [100 * (r["temporal_acc"] or 0) for r in rows], 0.27, label="temporal acc (greedy)")
    ax.bar(x + 0.27, [100 * (r.get("scored_temporal_acc") or 0) for r in rows], 0.27,
           label="temporal acc (scored)")  # fmt: skip
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, [r["compute_ratio"] for r in rows], "ko-", label="compute ratio")
    ax2.set_ylabel("LLM compute (x of 100% tokens)")
    ax2.set_ylim(0, 1.1)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
    ax.set_title("VA-GPT ablation (synthetic, small scale)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

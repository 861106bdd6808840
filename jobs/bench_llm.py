"""LLM-side cost of SETS: prefill time and FLOPs at K = 100%, 50%, 25%, 10%.

Builds the demo preset's VA-GPT (random weights: speed does not depend on the
values), makes one full question (projector.max_frames frames, TETG scores,
question) at each top-K ratio, and times the LLM prefill on that exact
sequence. Printed beside the paper's computation column (Chen et al. 2025:
1.0x / 0.65x / 0.45x / 0.30x; theirs is end-to-end with a 7B LLM, ours is the
LLM prefill alone, so ours falls faster with K).

    python -m jobs.bench_llm [--preset demo] [--device cpu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch

from va_gpt.checkpoints.build import from_preset
from va_gpt.config import load_preset
from va_gpt.models.vagpt import (
    KIND_VISUAL,
    VAGPT,
    Sample,
    llm_prefill_flops,
    visual_token_count,
)

PAPER_COMPUTE = {1.0: 1.0, 0.5: 0.65, 0.25: 0.45, 0.1: 0.30}
RATIOS = (1.0, 0.5, 0.25, 0.1)


def run(preset: str = "demo", device: str | None = None, repeats: int = 3, ratios=RATIOS) -> list[dict]:
    """One row per ratio: k, visual/total tokens, prefill seconds, FLOPs and both relative to K=100%."""
    p = load_preset(preset)
    if device is not None:
        p = dataclasses.replace(p, runtime=dataclasses.replace(p.runtime, device=device))
    # RoPE has no learned positions: raising max_position changes no weight and no compute,
    # it only lets the K = 100% sequence (max_frames * all patches) through the length check.
    need = visual_token_count(p, 1.0) + 1024
    p = dataclasses.replace(p, llm=dataclasses.replace(p.llm, max_position=max(p.llm.max_position, need)))
    model = from_preset(p).eval()
    T, S = p.projector.max_frames, p.encoder.image_size
    rng = np.random.default_rng(0)
    sample = Sample(
        frames=rng.integers(0, 256, (T, S, S, 3), dtype=np.uint8),
        t=np.arange(T) / p.decode.fps,
        question="Is there an anomaly? When does it start and end, and what is it?",
        scores=rng.uniform(0, 1, T),
    )
    dev = torch.device(p.runtime.device)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    rows = []
    for k in ratios:
        cfg = dataclasses.replace(p, sets=dataclasses.replace(p.sets, top_k=k))
        m = VAGPT(model.vision, model.projector, model.llm, model.tokenizer, cfg)
        with torch.inference_mode():
            batch = m.prepare([sample], padding_side="left")
            times = []
            for i in range(repeats + 1):
                sync()
                t0 = time.perf_counter()
                m.llm(
                    inputs_embeds=batch.inputs_embeds,
                    attention_mask=batch.attention_mask,
                    position_ids=batch.position_ids,
                    use_cache=True,
                    logits_to_keep=1,
                )
                sync()
                if i:  # the first run is warm-up
                    times.append(time.perf_counter() - t0)
        total = int(batch.attention_mask.sum())
        rows.append(
            {
                "k": k,
                "visual_tokens": int((batch.kinds == KIND_VISUAL).sum()),
                "total_tokens": total,
                "prefill_s": statistics.median(times),
                "flops": llm_prefill_flops(total, p.llm),
                "paper_compute": PAPER_COMPUTE.get(k),
            }
        )
    base = rows[0]
    for r in rows:
        r["flops_rel"] = r["flops"] / base["flops"]
        r["time_rel"] = r["prefill_s"] / base["prefill_s"]
    return rows


def print_table(rows: list[dict]) -> None:
    print(
        f"{'K':>5} {'visual':>7} {'total':>6} {'prefill ms':>11} {'GFLOPs':>8} {'FLOPs':>6} {'time':>6} {'paper':>6}"
    )
    for r in rows:
        paper = f"{r['paper_compute']:.2f}x" if r["paper_compute"] is not None else "-"
        print(
            f"{r['k'] * 100:>4.0f}% {r['visual_tokens']:>7} {r['total_tokens']:>6} {r['prefill_s'] * 1e3:>11.1f} "
            f"{r['flops'] / 1e9:>8.2f} {r['flops_rel']:>5.2f}x {r['time_rel']:>5.2f}x {paper:>6}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print_table(run(args.preset, args.device, args.repeats))


if __name__ == "__main__":
    main()

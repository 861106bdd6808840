"""The demo's instruction set: a small synthetic archive per split, rendered and turned into records."""

from __future__ import annotations

import json
from collections.abc import Sequence

from va_gpt.data.instruct.build import BUILDER_VERSION
from va_gpt.data.instruct.make import STYLES, synthetic_records
from va_gpt.data.records import MC_INSTRUCTION, TASKS, write_records
from va_gpt.io.filesystem import filesystem
from va_gpt.synthetic.archive import generate_archive
from va_gpt.synthetic.truth import load_truth

# Events start anywhere in 5-60% of a question set's videos: with the scene default (25-45%) the
# right multiple-choice interval could be picked from its position alone, without the video
# (a demo model scored 91% that way with and without TETG).
EVENT_START = (0.05, 0.6)


def synthetic_instruction_set(
    url: str,
    *,
    train_videos: int = 18,
    test_videos: int = 6,
    duration_s: float = 16.0,
    width: int = 320,
    height: int = 240,
    fps: float = 10.0,
    seed: int = 0,
    tasks: Sequence[str] = TASKS,
    style: str = "plain",
    videos_url: str | None = None,
    storage_options: dict | None = None,
    mc_variants: int = 1,
) -> dict[str, str]:
    """Render a small synthetic archive per split (under `videos_url`, default `url`/videos/{split})
    and write ``url/{split}/records.jsonl``; returns {split: records file URL}. Reuses what is there.

    style: see `synthetic_records` (``plain``: learnable by a small model in minutes; ``varied``:
    the builder's defaults). One archive per split keeps every kind in both splits (the builder's
    own split is by video hash). `mc_variants`: multiple-choice questions per event. Records
    written with other settings (``{split}/params.json``) are rebuilt; rendered videos are reused.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    base = url.rstrip("/")
    vbase = (videos_url or f"{base}/videos").rstrip("/")
    fs, root = filesystem(base, storage_options)
    vfs, vroot = filesystem(vbase, storage_options)
    files = {}
    for split, n, s in (("train", train_videos, seed), ("test", test_videos, seed + 1000)):
        if n <= 0:
            continue
        rec_url = f"{base}/{split}/records.jsonl"
        # the answer format and the builder's version too: records of another one (letter-only
        # "(B)", or drawn before records followed the archive rather than its folder) are rebuilt
        params = json.dumps(
            {
                "style": style,
                "tasks": list(tasks),
                "seed": s,
                "mc_variants": mc_variants,
                "mc": MC_INSTRUCTION,
                "builder": BUILDER_VERSION,
            }
        )
        params_path = f"{root.rstrip('/')}/{split}/params.json"
        if fs.exists(f"{root.rstrip('/')}/{split}/records.jsonl") and (
            fs.exists(params_path) and fs.cat_file(params_path).decode() == params
        ):
            files[split] = rec_url
            continue
        archive = f"{vbase}/{split}"
        cams = 3 if n >= 3 else 1
        if vfs.exists(f"{vroot.rstrip('/')}/{split}/_truth/events.json"):
            truth = load_truth(archive, storage_options)
        else:
            truth = generate_archive(
                archive, cameras=cams, videos_per_camera=max(1, -(-n // cams)), duration_s=duration_s,
                width=width, height=height, fps=fps, seed=s, storage_options=storage_options,
                event_start=EVENT_START,
            )  # fmt: skip
        recs = synthetic_records(truth, split, seed=s, tasks=tasks, style=style, mc_variants=mc_variants)
        write_records(recs, rec_url, storage_options)
        fs.pipe_file(params_path, params.encode())
        files[split] = rec_url
    return files

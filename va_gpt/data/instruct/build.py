"""Building an instruction set: sources -> items -> records (in process or as a Ray Data job) ->
``{out}/{split}/records.*``, ``card.json``, ``README.md`` and optionally per-video features."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ray

from va_gpt.config import load_preset
from va_gpt.data.instruct.card import write_dataset
from va_gpt.data.instruct.make import SPLIT_SALT, RecordConfig, make_records, skipped_records
from va_gpt.data.instruct.sources import (
    DEFAULT_FILES,
    VideoItem,
    default_annotations,
    find_missing,
    hivau_durations,
    items_from_annotations,
    items_from_synthetic,
)
from va_gpt.data.records import FIELDS, SOURCES, TASKS
from va_gpt.io.filesystem import join, write_bytes
from va_gpt.pipeline.raylocal import start_ray, stop_ray
from va_gpt.pipeline.run import Job, run_local, run_ray
from va_gpt.synthetic.truth import load_truth

log = logging.getLogger(__name__)

# 2: synthetic records follow the archive seed and path of a video, not the folder it is in
BUILDER_VERSION = "va-instruction/2"


def _records_row(row: dict, cfg: RecordConfig) -> list[dict]:
    """Ray flat_map: one item row -> its records as JSON (Arrow need not infer the nested schema)."""
    item = VideoItem.from_dict(json.loads(row["item"]))
    recs = make_records(item, cfg)
    out = [{"order": int(row["order"]), "n": n, "record": json.dumps(r)} for n, r in enumerate(recs)]
    return out or [{"order": int(row["order"]), "n": -1, "record": ""}]


def build_records(items: Sequence[VideoItem], cfg: RecordConfig, *, local: bool = True) -> list[dict]:
    """Records of all items, in item order. local=False runs ``make_records`` as a Ray Data
    ``flat_map`` over ``from_items`` on the connected Ray cluster (same records)."""
    if local:
        return [json.loads(json.dumps(r)) for it in items for r in make_records(it, cfg)]
    rows = [{"order": i, "item": json.dumps(it.to_dict())} for i, it in enumerate(items)]
    if not rows:
        return []
    cpus = int(ray.cluster_resources().get("CPU", 1))
    ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * cpus)))
    ds = ds.flat_map(_records_row, fn_kwargs={"cfg": cfg})
    out = sorted(ds.take_all(), key=lambda r: (int(r["order"]), int(r["n"])))
    return [json.loads(r["record"]) for r in out if int(r["n"]) >= 0]


def compute_features(
    items: Sequence[VideoItem],
    out_url: str,
    *,
    preset: str = "demo",
    classifier_dir: str | None = None,
    storage_options: dict | None = None,
    local: bool = True,
) -> dict:
    """Per-frame classifier scores (and SETS difference energy) for every item with a readable video,
    through the pipeline's decode + visual stages (no describe), stored as
    ``{out}/features/{video_id}.npz`` with arrays t (s), score, diff_energy, so training needs no
    second decode for TETG. Returns the card's ``features`` entry; a video that fails is listed
    there with its error, not raised."""
    p = load_preset(preset)
    rows, seen = [], set()
    for it in items:
        if it.uri and it.video_id not in seen:
            seen.add(it.video_id)
            rows.append({"video_id": it.video_id, "uri": it.uri})
    job = Job(preset=p, classifier_dir=classifier_dir, storage_options=storage_options, describe=False)
    results, _ = (run_local if local else run_ray)(rows, job)
    errors, written = [], 0
    for r in sorted(results, key=lambda r: str(r["video_id"])):
        if r["status"] not in ("ok", "partial"):
            errors.append({"video": str(r["uri"]), "error": f"{r['status']}: {r['error_message']}"})
            continue
        buf = io.BytesIO()
        np.savez(
            buf,
            t=np.asarray(r["t"], np.float64),
            score=np.asarray(r["score"], np.float32),
            diff_energy=np.asarray(r["diff_energy"], np.float32),
        )
        write_bytes(join(out_url, "features", f"{r['video_id']}.npz"), buf.getvalue(), storage_options)
        written += 1
    for e in errors:
        log.warning("features: %s: %s", e["video"], e["error"])
    return {
        "dir": "features",
        "preset": p.name,
        "classifier": classifier_dir,
        "fps": p.decode.fps,
        "written": written,
        "without_video": sum(1 for it in items if not it.uri),
        "errors": errors,
    }


@dataclass
class BuildArgs:
    """One build. sources: synthetic | ucf_crime | xd_violence | hivau (any number, in order).

    annotations: per benchmark source, its file (default: DEFAULT_FILES under
    `annotations_dir`, the shared benchmarks folder). video_root: where the benchmark
    videos are (then missing ones are reported and skipped, and with `with_scores`
    present ones get features).
    """

    sources: Sequence[str]
    out: str
    archive: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    annotations_dir: str | None = None
    seed: int = 0
    test_fraction: float = 0.2
    pad_s: float = 1.0
    video_root: str | None = None
    storage_options: dict | None = None
    local: bool = True
    with_scores: bool = False
    classifier_dir: str | None = None
    preset: str = "demo"
    durations_from_hivau: bool = True  # UCF-Crime video lengths from HIVAU's n_frames where it has them
    ray_address: str | None = None
    ray_temp_dir: str | None = None
    num_cpus: int | None = None


def build(args: BuildArgs) -> dict:
    """Read the sources, make and write the records (and features); returns the card.

    Raises the parsers' AnnotationError for a malformed file, StorageError for an unreadable
    archive or video root, ValueError for bad arguments.
    """
    cfg = RecordConfig(seed=args.seed, test_fraction=args.test_fraction, pad_s=args.pad_s)
    bad = [s for s in args.sources if s not in SOURCES]
    if bad or not args.sources:
        raise ValueError(f"sources must be among {SOURCES}, got {list(args.sources)}")
    if len(set(args.sources)) != len(args.sources):
        raise ValueError(f"a source is given twice: {list(args.sources)}")
    ann_dir = Path(args.annotations_dir) if args.annotations_dir else default_annotations()
    items: list[VideoItem] = []
    sources: list[dict] = []
    missing: list[VideoItem] = []
    for src in args.sources:
        durations_from = None
        if src == "synthetic":
            if not args.archive:
                raise ValueError("the synthetic source needs an archive URL")
            origin = args.archive
            got = items_from_synthetic(load_truth(args.archive, args.storage_options))
            root = args.archive
        else:
            origin = str(args.annotations.get(src) or ann_dir / DEFAULT_FILES[src])
            durations, durations_from = None, None
            hivau = str(args.annotations.get("hivau") or ann_dir / DEFAULT_FILES["hivau"])
            if src == "ucf_crime" and args.durations_from_hivau and os.path.exists(hivau):
                durations, durations_from = hivau_durations(hivau), hivau
            got = items_from_annotations(src, origin, durations)
            root = args.video_root
            if root:
                got = [dataclasses.replace(it, uri=join(root, it.video)) for it in got]
        lost = find_missing(got, root, args.storage_options) if root else []
        if lost:
            names = [it.video for it in lost]
            log.warning(
                "%s: %d of %d videos missing under %s, skipped: %s%s",
                src,
                len(lost),
                len(got),
                root,
                ", ".join(names[:10]),
                " ..." if len(names) > 10 else "",
            )
        lost_ids = {id(it) for it in lost}
        sources.append(
            {
                "source": src,
                "origin": origin,
                "videos": len(got),
                "anomalous": sum(it.anomalous for it in got),
                "normal": sum(not it.anomalous for it in got),
                "events": sum(len(it.truth) for it in got),
                "checked": bool(root),
                "missing": len(lost),
                "with_duration": sum(it.duration_s is not None for it in got),
                "durations_from": durations_from,
            }
        )
        missing += lost
        items += [it for it in got if id(it) not in lost_ids]

    started = False if args.local else start_ray(args.ray_address, args.ray_temp_dir, args.num_cpus)
    try:
        records = build_records(items, cfg, local=args.local)
        features = None
        if args.with_scores:
            features = compute_features(
                items,
                args.out,
                preset=args.preset,
                classifier_dir=args.classifier_dir,
                storage_options=args.storage_options,
                local=args.local,
            )
    finally:
        if started:
            stop_ray()
    by_video: dict[tuple, list[dict]] = {}
    for r in records:
        by_video.setdefault((r["source"], r["video"]), []).append(r)
    skipped = [s for it in items for s in skipped_records(it, by_video.get((it.source, it.video), []))]
    card = {
        "format": BUILDER_VERSION,
        "out": args.out,
        "seed": cfg.seed,
        "test_fraction": cfg.test_fraction,
        "split_salt": SPLIT_SALT,
        "pad_s": cfg.pad_s,
        "schema": list(FIELDS),
        "tasks": list(TASKS),
        "sources": sources,
        "video_root": args.video_root,
        "missing_videos": {"count": len(missing), "names": [it.video for it in missing]},
        "skipped": skipped,
        "features": features,
        "built_with": "ray" if not args.local else "local",
    }
    return write_dataset(records, args.out, card, args.storage_options)

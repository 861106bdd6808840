"""`make run`: the nightly job end to end on the embedded defaults.

1. start the embedded object store (SeaweedFS, 127.0.0.1 only) with its data in WORK/objectstore;
2. write a synthetic archive into it unless one is there (3 cameras, one night);
3. train the demo anomaly classifier with jobs/train_classifier.py unless cached in WORK/models;
4. train the demo VA-GPT with jobs/train.py --demo unless cached in WORK/models (about 4 minutes
   here; ``--vagpt auto`` only uses one that is there, ``off`` skips summaries) and turn the
   describe stage on: summaries land in the results;
5. run the nightly job on a local Ray; a rerun adds nothing (the manifest);
6. print the example queries' results and how the intervals match the injected events;
7. stop the store.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

ARCHIVE = "archive"
RESULTS = "results"


def _overlap_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def has_checkpoint(folder: Path) -> bool:
    """Whether `folder` holds a complete VA-GPT checkpoint: its checkpoint.json (checkpoints/load.py's
    META) is written last, so a save that was cut off has none."""
    from va_gpt.checkpoints.load import META

    return (Path(folder) / META).is_file()


def match_report(truth, archive: str, intervals_by_uri: dict[str, list[tuple[float, float]]]) -> str:
    """How well the found intervals match the injected events (ground truth in seconds)."""
    lines, matched, events, ious, false_normal, normal = [], 0, 0, [], 0, 0
    for v in truth.videos:
        found = intervals_by_uri.get(f"{archive.rstrip('/')}/{v.key}", [])
        if not v.events:
            normal += 1
            false_normal += bool(found)
            lines.append(f"  {v.key:<32} normal           found {len(found)} interval(s)")
            continue
        for e in v.events:
            events += 1
            best = max((_overlap_iou((e.start_s, e.end_s), f) for f in found), default=0.0)
            matched += best > 0
            ious.append(best)
            got = ", ".join(f"{a:.1f}-{b:.1f}s" for a, b in found) or "none"
            lines.append(
                f"  {v.key:<32} {e.kind:<16} truth {e.start_s:.1f}-{e.end_s:.1f}s  found {got}  IoU {best:.2f}"
            )
    mean_iou = sum(ious) / len(ious) if ious else 0.0
    head = (
        f"matched events: {matched}/{events} (an interval overlaps the event), mean IoU {mean_iou:.2f}; "
        f"normal videos with an interval: {false_normal}/{normal}"
    )
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="work", help="working folder (store data, models, Ray temp)")
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--videos-per-camera", type=int, default=2)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--preset", default="demo")
    p.add_argument(
        "--vagpt",
        choices=("auto", "train", "off"),
        default="train",
        help="summaries: train = train WORK/models/<preset>/vagpt first when missing (jobs/train.py --demo, "
        "the default); auto = describe only when it exists; off = no summaries",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    from jobs import train_classifier
    from va_gpt.config import load_preset
    from va_gpt.io import storage
    from va_gpt.io.objectstore import ObjectStore
    from va_gpt.lake.query import query
    from va_gpt.pipeline.nightly import NightlyArgs, run_nightly
    from va_gpt.query_cli import format_table
    from va_gpt.synthetic import generate as synthetic

    work = Path(args.work).resolve()
    t_start = time.monotonic()
    store = ObjectStore(work / "objectstore")
    endpoint = store.start()
    print(
        f"object store: SeaweedFS S3 at {endpoint.endpoint_url}, bucket {endpoint.bucket} (data in {store.data_dir})"
    )
    try:
        so = endpoint.storage_options()
        archive, results = endpoint.url(ARCHIVE), endpoint.url(RESULTS)
        if storage.exists(storage.join(archive, "_truth", "events.json"), so):
            truth = synthetic.load_truth(archive, so)
            print(f"archive: {archive} ({len(truth.videos)} videos, already there)")
        else:
            t0 = time.monotonic()
            truth = synthetic.generate_archive(
                archive,
                cameras=args.cameras,
                videos_per_camera=args.videos_per_camera,
                duration_s=args.duration,
                width=640,
                height=480,
                seed=2026,
                storage_options=so,
            )
            print(
                f"archive: wrote {len(truth.videos)} synthetic videos to {archive} in {time.monotonic() - t0:.0f} s"
            )

        preset = load_preset(args.preset)
        classifier = work / "models" / preset.name / "classifier"
        if not (classifier / "config.json").exists():
            print(f"classifier: training the {preset.name} anomaly classifier (jobs/train_classifier.py) ...")
            t0 = time.monotonic()
            rc = train_classifier.main(
                ["--preset", args.preset, "--out", str(classifier), "--train-videos", "36", "--test-videos", "12",
                 "--duration", "16", "--steps", "300"]
            )  # fmt: skip
            if rc:
                return rc
            print(f"classifier: trained in {time.monotonic() - t0:.0f} s -> {classifier}")
        else:
            print(f"classifier: {classifier} (cached)")

        # Summaries need a trained VA-GPT checkpoint (a random LLM writes noise).
        vagpt = work / "models" / preset.name / "vagpt"
        if args.vagpt == "train" and not has_checkpoint(vagpt):
            from jobs.train import train_demo

            print(f"VA-GPT: training the {preset.name} VA-GPT (jobs/train.py --demo) ...")
            t0 = time.monotonic()
            train_demo(work / "vagpt-data", str(classifier), out=str(vagpt), preset_name=args.preset)
            print(f"VA-GPT: trained in {time.monotonic() - t0:.0f} s -> {vagpt}")
        describe = args.vagpt != "off" and has_checkpoint(vagpt)
        summary = run_nightly(
            NightlyArgs(
                archive=archive,
                results=results,
                preset=preset,
                classifier_dir=str(classifier),
                checkpoint_url=str(vagpt) if describe else None,
                storage_options=so,
                describe=describe,
                ray_temp_dir=str(work / "ray"),
            )
        )
        print("\n" + summary.render())
        if describe:
            print(f"summaries: written by the demo VA-GPT at {vagpt}\n")
        else:
            print(
                "summaries: skipped (--vagpt off, or no trained VA-GPT checkpoint with --vagpt auto; "
                "`python jobs/run_demo.py --vagpt train` makes one)\n"
            )

        for sql_file in sorted(Path(__file__).resolve().parents[1].glob("schemas/queries/*.sql")):
            print(f"-- {sql_file.name}")
            print(format_table(query(results, sql_file.read_text(), so)) + "\n")

        rows = query(
            results, "SELECT v.uri, i.start_s, i.end_s FROM intervals i JOIN videos v USING (video_id)", so
        )
        found: dict[str, list[tuple[float, float]]] = {}
        for r in rows.to_pylist():
            found.setdefault(r["uri"], []).append((r["start_s"], r["end_s"]))
        print(match_report(truth, archive, found))
        print(f"\nmake run: done in {time.monotonic() - t_start:.0f} s (results stay in {store.data_dir})")
    finally:
        store.stop()
        print("object store stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

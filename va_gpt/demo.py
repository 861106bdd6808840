"""`make run` (`vagpt demo`): the nightly job end to end on the embedded defaults.

1. start the embedded object store (SeaweedFS, 127.0.0.1 only) with its data in WORK/objectstore;
2. write a synthetic archive into it unless one is there (3 cameras, one night);
3. the demo models: the committed checkpoint models/<preset>/vagpt (`make models` builds it; the
   VA-GPT bundles its classifier) when its card verifies and its classifier's features are this
   code's (va_gpt/train/demo_models.py); else train the demo anomaly classifier
   (va_gpt/train/demo.py) and the demo VA-GPT unless cached in WORK/models (about 4 minutes here;
   ``vagpt="auto"`` only uses one that is there, ``"off"`` skips summaries);
4. turn the describe stage on: summaries land in the results;
5. run the nightly job on a local Ray; a rerun adds nothing (the manifest);
6. print the example queries' results and how the intervals match the injected events;
7. write the night's HTML report (vagpt report) to WORK/report and print its path;
8. stop the store.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import schemas
from va_gpt.checkpoints.vagpt import META
from va_gpt.cli.query import format_table
from va_gpt.config import load_preset
from va_gpt.eval.match import match_report
from va_gpt.io.filesystem import exists, join
from va_gpt.io.objectstore import ObjectStore
from va_gpt.lake.query import query
from va_gpt.pipeline.nightly import NightlyArgs, run_nightly
from va_gpt.report.build import write_report
from va_gpt.synthetic.archive import generate_archive
from va_gpt.synthetic.truth import load_truth
from va_gpt.train.demo import train_demo, train_synthetic_classifier
from va_gpt.train.demo_models import (
    CLASSIFIER_RECIPE,
    DATA_CACHE,
    DATA_WORKERS,
    VAGPT_RECIPE,
    committed_models,
)

ARCHIVE = "archive"
RESULTS = "results"
QUERIES = Path(schemas.__file__).parent / "queries"


def has_checkpoint(folder: Path) -> bool:
    """Whether `folder` holds a complete VA-GPT checkpoint: its checkpoint.json (checkpoints/vagpt.py's
    META) is written last, so a save that was cut off has none."""
    return (Path(folder) / META).is_file()


def _archive(archive: str, so: dict, cameras: int, videos_per_camera: int, duration_s: float):
    """The demo archive's ground truth, writing the archive first unless it is there."""
    if exists(join(archive, "_truth", "events.json"), so):
        truth = load_truth(archive, so)
        print(f"archive: {archive} ({len(truth.videos)} videos, already there)")
        return truth
    t0 = time.monotonic()
    truth = generate_archive(
        archive, cameras=cameras, videos_per_camera=videos_per_camera, duration_s=duration_s,
        width=640, height=480, seed=2026, storage_options=so,
    )  # fmt: skip
    print(
        f"archive: wrote {len(truth.videos)} synthetic videos to {archive} in {time.monotonic() - t0:.0f} s"
    )
    return truth


def _classifier(preset_name: str, folder: Path) -> None:
    """Train the demo anomaly classifier into `folder` unless it is there."""
    if (folder / "config.json").exists():
        print(f"classifier: {folder} (cached)")
        return
    print(f"classifier: training the {preset_name} anomaly classifier (va_gpt/train/demo.py) ...")
    t0 = time.monotonic()
    # make models' recipe (va_gpt/train/demo_models.py): only when the committed checkpoint is not
    # usable; about ten minutes here, the rendering and the encoder pass dominate.
    # the rendered videos are kept beside it: a `make run` cut off while training resumes there
    report = train_synthetic_classifier(
        preset_name, str(folder), workers=DATA_WORKERS, data_cache=folder.parent / DATA_CACHE, **CLASSIFIER_RECIPE
    )  # fmt: skip
    print(json.dumps(report, indent=2))
    print(f"classifier: trained in {time.monotonic() - t0:.0f} s -> {folder}")


def write_reports(results: str, out: str, so: dict | None = None) -> list[str]:
    """Step 7: the HTML report of every night under `results` (its cards show the stills the
    nightly keyframe stage stored); the index pages' URLs."""
    nights = query(results, "SELECT DISTINCT date FROM videos ORDER BY date", so).column("date").to_pylist()
    return [write_report(results, day, out, storage_options=so) for day in nights]


def run_demo(
    work: str | Path,
    *,
    cameras: int = 3,
    videos_per_camera: int = 2,
    duration_s: float = 30.0,
    preset_name: str = "demo",
    vagpt: str = "train",
    committed: bool = True,
) -> int:
    """Steps 1-8 above. `vagpt`: train | auto | off (see the module docstring); `committed`:
    False ignores the committed checkpoint (step 3)."""
    work = Path(work).resolve()
    t_start = time.monotonic()
    store = ObjectStore(work / "objectstore")
    endpoint = store.start()
    print(
        f"object store: SeaweedFS S3 at {endpoint.endpoint_url}, bucket {endpoint.bucket} (data in {store.data_dir})"
    )
    try:
        so = endpoint.storage_options()
        archive, results = endpoint.url(ARCHIVE), endpoint.url(RESULTS)
        truth = _archive(archive, so, cameras, videos_per_camera, duration_s)
        preset = load_preset(preset_name)
        ready = committed_models(preset) if committed else None
        if ready:
            classifier = model = Path(ready)
            print(f"models: the committed {ready} (classifier bundled; its card beside it; no training)")
        else:
            classifier = work / "models" / preset.name / "classifier"
            _classifier(preset_name, classifier)
            # Summaries need a trained VA-GPT checkpoint (a random LLM writes noise).
            model = work / "models" / preset.name / "vagpt"
        if vagpt == "train" and not has_checkpoint(model):
            print(f"VA-GPT: training the {preset.name} VA-GPT (vagpt train --demo) ...")
            t0 = time.monotonic()
            # The committed build's recipe, so a run that trains its own models gets the same ones.
            train_demo(
                work / "vagpt-data", str(classifier), out=str(model), preset_name=preset_name, **VAGPT_RECIPE
            )
            print(f"VA-GPT: trained in {time.monotonic() - t0:.0f} s -> {model}")
        describe = vagpt != "off" and has_checkpoint(model)
        summary = run_nightly(
            NightlyArgs(
                archive=archive,
                results=results,
                preset=preset,
                classifier_dir=str(classifier),
                checkpoint_url=str(model) if describe else None,
                storage_options=so,
                describe=describe,
                ray_temp_dir=str(work / "ray"),
            )
        )
        print("\n" + summary.render())
        if describe:
            print(f"summaries: written by the demo VA-GPT at {model}\n")
        else:
            print(
                "summaries: skipped (--vagpt off, or no trained VA-GPT checkpoint with --vagpt auto; "
                "`vagpt demo --vagpt train` makes one)\n"
            )
        for sql_file in sorted(QUERIES.glob("*.sql")):
            print(f"-- {sql_file.name}")
            print(format_table(query(results, sql_file.read_text(), so)) + "\n")
        rows = query(
            results, "SELECT v.uri, i.start_s, i.end_s FROM intervals i JOIN videos v USING (video_id)", so
        )
        found: dict[str, list[tuple[float, float]]] = {}
        for r in rows.to_pylist():
            found.setdefault(r["uri"], []).append((r["start_s"], r["end_s"]))
        print(match_report(truth, archive, found))
        for index in write_reports(results, str(work / "report"), so):
            print(f"\nreport: {index} (open it in a browser; `vagpt report` writes one for any night)")
        print(f"\nmake run: done in {time.monotonic() - t_start:.0f} s (results stay in {store.data_dir})")
    finally:
        store.stop()
        print("object store stopped")
    return 0

"""Train VA-GPT on VA-Instruction records, one stage per run, and save a checkpoint.

    # stage 1: align the projector (vision tower and LLM frozen)
    python jobs/train.py --preset demo --records s3://data/va-instruct --stage 1 \
        --classifier s3://models/classifier/demo --out s3://models/vagpt/demo-s1 --steps 300
    # stage 2: instruction tuning from stage 1 (full LLM, or --lora)
    python jobs/train.py --preset demo --records s3://data/va-instruct --stage 2 \
        --init s3://models/vagpt/demo-s1 --classifier s3://models/classifier/demo \
        --out s3://models/vagpt/demo --steps 600 [--lora] [--deepspeed infra/deepspeed/zero2.json]
    # continue an interrupted run
    python jobs/train.py ... --out s3://models/vagpt/demo --resume
    # the small demo VA-GPT (synthetic footage, both stages, a few minutes on CPU)
    python jobs/train.py --demo --work work --classifier work/models/demo/classifier

--records: a builder output folder (its train/records.jsonl), or a .jsonl /
.parquet file. Per-frame TETG scores come from --scores (a nightly results
folder or a JSON cache) where they cover a video, else the --classifier runs on
the decoded clip. Losses are printed as training goes; the checkpoint (and
trainer_state.pt for --resume) goes to --out, any fsspec URL (s3:// credentials
from the AWS_* environment variables, or --endpoint).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger("jobs.train")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="demo")
    p.add_argument("--records", help="VA-Instruction records: builder output folder or .jsonl/.parquet file")
    p.add_argument("--split", default="train")
    p.add_argument("--source", default=None, help="keep only records of this source (e.g. ucf_crime)")
    p.add_argument(
        "--video-root", default=None, help="folder (URL) the benchmark records' video names are under"
    )
    p.add_argument("--stage", type=int, choices=(1, 2), default=1)
    p.add_argument("--init", default=None, help="checkpoint to start from (stage 2: stage 1's output)")
    p.add_argument("--out", help="checkpoint folder URL to write")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: 1 epoch)")
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--lr", type=float, default=None, help="default 1e-3 (stage 1) / 2e-4 (stage 2)")
    p.add_argument("--warmup", type=int, default=0, help="warmup steps")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lora", action="store_true", help="stage 2: LoRA adapters instead of the full LLM")
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--deepspeed", default=None, help="DeepSpeed JSON config (infra/deepspeed/zero2.json)")
    p.add_argument("--classifier", default=None, help="TETG anomaly classifier folder / checkpoint URL")
    p.add_argument("--scores", default=None, help="per-frame scores: nightly results folder or .json cache")
    p.add_argument("--resume", action="store_true", help="continue the run saved at --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--save-every", type=int, default=0)
    p.add_argument("--endpoint", default=None, help="S3 endpoint URL (default: AWS_ENDPOINT_URL)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: auto, see cpu_threads)"
    )
    p.add_argument("--demo", action="store_true", help="train the small demo VA-GPT (see train_demo)")
    p.add_argument("--work", default="work", help="--demo: working folder")
    p.add_argument(
        "--test-videos", type=int, default=6, help="--demo: held-out videos (the ablation's questions)"
    )
    p.add_argument("--mc-variants", type=int, default=4, help="--demo: multiple-choice questions per event")
    return p


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("va_gpt.train.vagpt", "va_gpt.train.data", "jobs.train"):
        logging.getLogger(name).setLevel(logging.INFO)


def cpu_threads(requested: int | None = None) -> int:
    """Set torch's CPU threads: `requested`, else 1 when the CPUs are already busy, else torch's default.

    Measured on the 2-core dev machine with another process busy: a demo-preset training step
    took 0.34 s with 1 thread and 2.2 s with 2 (OpenMP threads wait on a core they do not get).
    """
    import torch

    if requested:
        torch.set_num_threads(requested)
    elif hasattr(os, "getloadavg") and os.getloadavg()[0] >= (os.cpu_count() or 1):
        torch.set_num_threads(1)
    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _setup_logging()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.demo or args.threads:
        log.info("torch CPU threads: %d", cpu_threads(args.threads))
    if args.demo:
        if not args.classifier:
            print(
                "--demo needs --classifier DIR (jobs/train_classifier.py --preset demo --out DIR)",
                file=sys.stderr,
            )
            return 2
        report = train_demo(
            args.work, args.classifier, deepspeed=args.deepspeed, threads=args.threads,
            test_videos=args.test_videos, mc_variants=args.mc_variants,
        )  # fmt: skip
        print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
        return 0
    if not args.records or not args.out:
        print("train: --records and --out are required (or --demo)", file=sys.stderr)
        return 2

    from va_gpt.checkpoints.load import CheckpointError
    from va_gpt.config import ConfigError, load_preset
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.train.data import DatasetError, SampleBuilder, read_records, record_texts, scores_for_records
    from va_gpt.train.vagpt import (
        TrainConfig,
        TrainError,
        classifier_parts,
        initial_model,
        resume_training,
        train,
    )

    try:
        preset = load_preset(args.preset)
        so = storage_options_for(args.out, args.endpoint)
        rso = storage_options_for(args.records, args.endpoint)
        records = read_records(args.records, args.split, rso, video_root=args.video_root)
        if args.source:
            records = [r for r in records if r.get("source") == args.source]
        scores = scores_for_records(
            args.records, args.scores, storage_options_for(args.scores or args.records, args.endpoint)
        )
        builder = SampleBuilder(preset, classifier_dir=args.classifier, scores=scores, storage_options=rso)
        t0 = time.monotonic()
        data = builder.build(records)
        print(
            f"data: {len(data)} samples from {len(records)} records in {time.monotonic() - t0:.0f} s"
            + (f"; skipped {data.skipped_counts()}" if data.skipped else ""),
            flush=True,
        )
        lr = args.lr if args.lr is not None else (1e-3 if args.stage == 1 else 2e-4)
        cfg = TrainConfig(
            stage=args.stage,
            steps=args.steps if args.steps or args.epochs else None,
            epochs=args.epochs if args.epochs else (None if args.steps else 1.0),
            lr=lr,
            warmup_steps=args.warmup,
            schedule=args.schedule,
            batch_size=args.batch_size,
            grad_accum=args.grad_accum,
            lora=args.lora,
            lora_r=args.lora_r,
            seed=args.seed,
            log_every=args.log_every,
            save_every=args.save_every,
            deepspeed=args.deepspeed,
        )
        cs, cc = (
            classifier_parts(args.classifier, storage_options_for(args.classifier, args.endpoint))
            if (args.classifier)
            else (None, None)
        )
        if args.resume:
            result = resume_training(
                preset, data, cfg, args.out, storage_options=so, tokenizer_texts=record_texts(records),
                classifier_state=cs, classifier_config=cc,
            )  # fmt: skip
        else:
            if args.stage == 2 and not args.init:
                log.warning("stage 2 without --init: starting from the preset's (untrained) projector")
            model = initial_model(
                preset, init=args.init, tokenizer_texts=record_texts(records), seed=args.seed,
                storage_options=storage_options_for(args.init, args.endpoint) if args.init else None,
            )  # fmt: skip
            result = train(
                model, data, cfg, out=args.out, storage_options=so, init=args.init,
                classifier_state=cs, classifier_config=cc,
            )  # fmt: skip
    except (DatasetError, TrainError, ConfigError, CheckpointError) as e:
        print(f"train: {e}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "stage": args.stage,
                "backend": result.backend,
                "steps": result.step,
                "first_loss": result.losses[0] if result.losses else None,
                "last_loss": result.losses[-1] if result.losses else None,
                "seconds": round(result.seconds, 1),
                "checkpoint": result.checkpoint,
                "model_version": result.model_version,
            },
            indent=2,
        )
    )
    return 0


# -- the demo VA-GPT -------------------------------------------------------------------------------


def demo_records(work: str | Path, builder: str = "auto", **kwargs) -> dict[str, str]:
    """The demo's VA-Instruction set under WORK (videos in WORK/synthetic, records in
    WORK/instruct-<builder>): see va_gpt.train.data.synthetic_instruction_set. Returns {split: URL}."""
    from va_gpt.train.data import synthetic_instruction_set

    if builder == "auto":
        try:
            from va_gpt.data import instruct  # noqa: F401

            builder = "instruct"
        except ImportError:
            builder = "minimal"
    return synthetic_instruction_set(
        str(Path(work) / f"instruct-{builder}"),
        videos_url=str(Path(work) / "synthetic"),
        builder=builder,
        **kwargs,
    )


def train_demo(
    work_dir: str | Path,
    classifier_dir: str,
    *,
    preset_name: str = "demo",
    out: str | None = None,
    train_videos: int = 24,
    test_videos: int = 6,
    stage0_steps: int = 150,
    stage0_batch_size: int = 8,
    stage1_steps: int = 10,
    stage2_steps: int = 60,
    builder: str = "minimal",
    batch_size: int = 2,
    stage0_lr: float = 3e-3,
    stage1_lr: float = 1e-3,
    stage2_lr: float = 5e-4,
    deepspeed: str | None = None,
    seed: int = 0,
    generate: int = 4,
    threads: int | None = None,
    mc_variants: int = 4,
) -> dict:
    """Train the small demo VA-GPT on synthetic footage: stages 0, 1 and 2 (full LLM), briefly.

    Renders a small synthetic archive with ground truth under WORK/instruct,
    builds VA-Instruction records from it (describe-stage questions answered
    "Judgement: <kind>. Description: ... Analysis: ...", judgements, temporal and
    multiple-choice temporal questions), trains (stage 0: the random-init LLM
    learns the answer language from the text alone (frame times, TETG scores, question): it stands in for
    the pretrained LLM the paper starts from; stage 1: projector; stage 2: projector
    + LLM on the visual samples), and saves the checkpoint (with
    the classifier bundled) to `out` (default WORK/models/<preset>/vagpt). The
    stage-1 checkpoint goes beside it. Returns timings, losses and the text the
    trained model writes for a few held-out describe questions.
    """
    from va_gpt.config import load_preset
    from va_gpt.train.data import SampleBuilder, read_records, record_answer, record_question, record_texts
    from va_gpt.train.vagpt import TrainConfig, classifier_parts, evaluate_loss, initial_model, train

    t_all = time.monotonic()
    threads = cpu_threads(threads)
    work = Path(work_dir)
    preset = load_preset(preset_name)
    out = out or str(work / "models" / preset.name / "vagpt")
    report: dict = {"preset": preset.name, "checkpoint": out, "torch_threads": threads, "builder": builder}

    t0 = time.monotonic()
    files = demo_records(
        work, builder, train_videos=train_videos, test_videos=test_videos, seed=seed, mc_variants=mc_variants
    )
    train_recs = read_records(files["train"])
    test_recs = read_records(files["test"]) if "test" in files else []
    report["records"] = {"train": len(train_recs), "test": len(test_recs), "files": files}
    report["data_seconds"] = round(time.monotonic() - t0, 1)

    t0 = time.monotonic()
    builder = SampleBuilder(preset, classifier_dir=classifier_dir)
    data = builder.build(train_recs)
    report["samples_seconds"] = round(time.monotonic() - t0, 1)
    print(
        f"demo: {len(data)} training samples ({report['samples_seconds']} s to decode and score)", flush=True
    )

    model = initial_model(preset, init=None, tokenizer_texts=record_texts(train_recs), seed=seed)
    cs, cc = classifier_parts(classifier_dir)
    s0 = train(
        model, data,
        TrainConfig(stage=0, steps=stage0_steps, lr=stage0_lr, batch_size=stage0_batch_size, seed=seed, warmup_steps=5,
                    schedule="cosine", log_every=10, deepspeed=deepspeed),
    )  # fmt: skip
    s1 = train(
        s0.model, data,
        TrainConfig(stage=1, steps=stage1_steps, lr=stage1_lr, batch_size=batch_size, seed=seed, log_every=10,
                    deepspeed=deepspeed),
        out=out + "-stage1", classifier_state=cs, classifier_config=cc,
    )  # fmt: skip
    s2 = train(
        s1.model, data,
        TrainConfig(stage=2, steps=stage2_steps, lr=stage2_lr, batch_size=batch_size, seed=seed + 1,
                    warmup_steps=3, schedule="cosine", log_every=10, deepspeed=deepspeed),
        out=out, init=out + "-stage1", classifier_state=cs, classifier_config=cc,
    )  # fmt: skip
    model = s2.model
    report["stage0"] = {
        "steps": s0.step, "seconds": round(s0.seconds, 1), "first_loss": s0.losses[0],
        "last_loss": s0.losses[-1], "backend": s0.backend,
    }  # fmt: skip
    report["stage1"] = {
        "steps": s1.step, "seconds": round(s1.seconds, 1), "first_loss": s1.losses[0],
        "last_loss": s1.losses[-1], "backend": s1.backend,
    }  # fmt: skip
    report["stage2"] = {
        "steps": s2.step, "seconds": round(s2.seconds, 1), "first_loss": s2.losses[0],
        "last_loss": s2.losses[-1], "backend": s2.backend, "model_version": s2.model_version,
    }  # fmt: skip

    samples = []
    if test_recs and generate:
        describe = [r for r in test_recs if r["task"] == "description"][:generate]
        test = builder.build(describe, what="test records")
        report["test_loss"] = round(evaluate_loss(model, [builder.sample(r) for r in test.records]), 4)
        t0 = time.monotonic()
        texts = model.generate_batch([builder.sample(r, with_answer=False) for r in test.records], 96)
        report["generate_seconds"] = round(time.monotonic() - t0, 1)
        for r, text in zip(test.records, texts):
            samples.append(
                {
                    "kind": r["kind"],
                    "question": record_question(r),
                    "reference": record_answer(r),
                    "generated": text,
                }
            )
    report["samples"] = samples
    report["total_seconds"] = round(time.monotonic() - t_all, 1)
    for s in samples:
        print(
            f"\n[{s['kind']}] {s['question']}\n  reference: {s['reference']}\n  generated: {s['generated']}"
        )
    print(
        f"\ndemo VA-GPT: {report['total_seconds']} s in all (data {report['data_seconds']} s, samples "
        f"{report['samples_seconds']} s, stage 0 {report['stage0']['seconds']} s, stage 1 {report['stage1']['seconds']} s, stage 2 "
        f"{report['stage2']['seconds']} s) -> {out}",
        flush=True,
    )
    return report


if __name__ == "__main__":
    sys.exit(main())

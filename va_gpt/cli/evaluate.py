"""`vagpt eval`: frame AUC/AP, interval P/R, QA accuracy, BLEU/ROUGE, ablations."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from va_gpt.cli.common import add_command, add_endpoint, setup_logging

DESCRIPTION = """Evaluate the pipeline and VA-GPT: frame AUC/AP, interval P/R, QA accuracy, BLEU/ROUGE, ablations.

    # (a)+(b) frame-level AUC / AP (both readings) and interval P/R of a nightly results folder,
    # and the detection table (per kind: recall and frame AUC; false intervals per normal video,
    # kind accuracy; the raw motion energy as the baseline row, calibrated as the --classifier was)
    vagpt eval --results s3://bucket/results --annotations Temporal_Anomaly_Annotation.txt \
        [--classifier s3://models/classifier/demo]
    # a synthetic archive (vagpt synth): also the false intervals per normal video by the hard
    # negative its scene shows (a person lying down, a crowd, a fast car, ...)
    vagpt eval --results work/r-a2 --annotations /tmp/a2/_truth/Temporal_Anomaly_Annotation.txt \
        --truth-events /tmp/a2/_truth/events.json
    # (c)+(d) QA accuracy (total / temporal) and BLEU-4 / ROUGE-L of a checkpoint on test records
    vagpt eval --checkpoint s3://models/vagpt/demo --records s3://data/va-instruct --split test \\
        --classifier s3://models/classifier/demo
    # cross-domain: a model trained on one source, records of another (or --source to filter)
    vagpt eval --checkpoint ... --records s3://data/va-instruct-xd --source xd_violence
    # (e) the paper's ablations at small scale (SETS 100/50/25/10%, TETG on/off/embedding)
    vagpt eval --ablation --checkpoint work/models/demo/vagpt --records work/instruct \\
        --classifier work/models/demo/classifier --out work/ablation [--steps 10]

The annotation format (UCF-Crime, XD-Violence, XD multiclass, HIVAU JSON) is
detected from the file; videos are matched to annotation names by the file
name at the end of their URI. Prints one JSON report; with --out it is also
written to OUT/report.json (and the ablation's table and plot to OUT/).
"""


def register(sub) -> None:
    p = add_command(
        sub, "eval", "frame AUC/AP, interval P/R, QA accuracy, BLEU/ROUGE, ablations", DESCRIPTION
    )
    p.add_argument(
        "--results",
        default=None,
        help="nightly results folder URL: frame_scores, videos, intervals (default: none)",
    )
    p.add_argument(
        "--annotations",
        default=None,
        help="benchmark annotation file, UCF / XD / HIVAU format (default: none)",
    )
    p.add_argument(
        "--format", default="auto", help="annotation format: auto | ucf | xd | xd_multiclass | hivau"
    )
    p.add_argument(
        "--truth-events",
        default=None,
        help="a synthetic archive's _truth/events.json (vagpt synth): false intervals per normal video "
        "by the hard negative its scene shows, a person lying down, a crowd, ... (default: none)",
    )
    p.add_argument(
        "--baseline-results",
        default=None,
        help="results folder of the same archive from another classifier: the frame AUC difference "
        "with its paired 95%% bootstrap interval (default: none)",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="VA-GPT checkpoint URL for QA / summary metrics and the ablation (default: none)",
    )
    p.add_argument(
        "--records", default=None, help="VA-Instruction records: folder or .jsonl / .parquet (default: none)"
    )
    p.add_argument("--split", default="test", help="records split to evaluate on")
    p.add_argument(
        "--source", default=None, help="keep only records of this source, cross-domain (default: all)"
    )
    p.add_argument(
        "--video-root",
        default=None,
        help="folder (URL) the benchmark records' video names are under (default: none)",
    )
    p.add_argument("--classifier", default=None, help="TETG classifier folder (default: the checkpoint's)")
    p.add_argument(
        "--scores", default=None, help="per-frame scores: results folder or .json cache (default: none)"
    )
    p.add_argument("--max-questions", type=int, default=None, help="QA questions to ask (default: all)")
    p.add_argument("--max-summaries", type=int, default=None, help="summaries to write (default: all)")
    p.add_argument("--ablation", action="store_true", help="run the SETS / TETG ablation")
    p.add_argument("--steps", type=int, default=10, help="ablation: stage-2 steps per setting")
    p.add_argument(
        "--settings",
        default=None,
        help='ablation: comma list of setting names, e.g. "SETS 100%%,SETS 25%%, no TETG" (default: all seven, '
        "the prior row included)",
    )
    p.add_argument("--train-split", default="train", help="ablation: records split to fine-tune on")
    p.add_argument(
        "--max-frames", type=int, default=None, help="ablation: frames per question (default: fit)"
    )
    p.add_argument(
        "--out", default=None, help="folder for report.json and the ablation's files (default: print only)"
    )
    add_endpoint(p)
    p.set_defaults(run=run)


def _records(args, split: str, so):
    from va_gpt.data.records import DatasetError, read_records

    recs = read_records(args.records, split, so, video_root=args.video_root)
    if args.source:
        recs = [r for r in recs if r.get("source") == args.source]
        if not recs:
            raise DatasetError(f"no {split} records of source {args.source!r} in {args.records}")
    return recs


def _classifier_dir(args) -> str | None:
    """--classifier, else the checkpoint itself when it bundles one."""
    if args.classifier:
        return args.classifier
    if args.checkpoint:
        from va_gpt.checkpoints.classifier import has_classifier

        if has_classifier(args.checkpoint, _so(args.checkpoint, args)):
            return args.checkpoint
    return None


def _so(url: str | None, args):
    from va_gpt.io.credentials import storage_options_for

    return storage_options_for(url, args.endpoint) if url else None


def evaluate(args) -> dict:
    from va_gpt.eval.annotations import load_annotations, load_hard_negatives
    from va_gpt.eval.detection import detection_report
    from va_gpt.eval.errors import EvaluationError
    from va_gpt.eval.frames import frame_metrics
    from va_gpt.eval.intervals import interval_metrics

    report: dict = {}
    if args.results or args.annotations:
        if not (args.results and args.annotations):
            raise EvaluationError("frame / interval metrics need both --results and --annotations")
        ann = load_annotations(args.annotations, args.format)
        negatives = load_hard_negatives(args.truth_events) if args.truth_events else None
        # The detection table: per kind, false intervals per normal video, kind accuracy, and the
        # raw motion energy as the baseline row, calibrated as the classifier was (its checkpoint,
        # read first: a wrong --classifier fails before the results are read).
        clf = _classifier_dir(args)
        baseline = None
        if clf:
            from va_gpt.checkpoints.classifier import read_classifier_config

            baseline = (
                read_classifier_config(clf, _so(clf, args)).get("features", {}).get("diff_energy_calibration")
            )
        so = _so(args.results, args)
        report["frame"] = frame_metrics(args.results, ann, so).to_dict()
        report["intervals"] = interval_metrics(args.results, ann, so)
        report["detection"] = detection_report(args.results, ann, so, baseline, negatives)
        if args.baseline_results:
            from va_gpt.eval.detection import paired_frame_auc

            report["paired"] = paired_frame_auc(
                args.results, args.baseline_results, ann, so, _so(args.baseline_results, args)
            )
    elif getattr(args, "baseline_results", None) or getattr(args, "truth_events", None):
        raise EvaluationError(
            "--baseline-results and --truth-events read --results: give --results and --annotations"
        )
    if args.checkpoint or args.records or args.ablation:
        if not (args.checkpoint and args.records):
            raise EvaluationError("QA / summary metrics and the ablation need --checkpoint and --records")
        from va_gpt.checkpoints.vagpt import load_checkpoint
        from va_gpt.eval.ablation import default_settings, run_ablation, select_settings
        from va_gpt.eval.qa import evaluate_model, qa_records
        from va_gpt.train.samples import SampleBuilder, scores_for_records

        # a misspelt setting is named before the checkpoint and the records are read
        settings = select_settings(args.settings) if args.settings else default_settings()

        cso, rso = _so(args.checkpoint, args), _so(args.records, args)
        ck = load_checkpoint(args.checkpoint, cso)
        scores = scores_for_records(args.records, args.scores, _so(args.scores or args.records, args))
        builder = SampleBuilder(
            ck.preset, classifier_dir=_classifier_dir(args), scores=scores, storage_options=rso
        )
        test = _records(args, args.split, rso)
        report["model"] = {"checkpoint": args.checkpoint, "model_version": ck.model_version}
        if not args.ablation:
            report.update(
                evaluate_model(
                    ck.model,
                    builder,
                    test,
                    max_questions=args.max_questions,
                    max_summaries=args.max_summaries,
                )
            )
        else:
            out = Path(args.out or "ablation")
            train_recs = _records(args, args.train_split, rso)
            data = builder.build(train_recs) if args.steps > 0 else None
            interval_recall = report.get("intervals")
            test = test if args.max_questions is None else qa_records(test)[: args.max_questions]
            res = run_ablation(
                lambda: load_checkpoint(args.checkpoint, cso).model, data, test, builder, out,
                settings=settings, steps=args.steps, interval_recall=interval_recall, max_frames=args.max_frames,
            )  # fmt: skip
            report["ablation"] = {k: v for k, v in res.items() if k != "table"}
            print(res["table"])
    if not report:
        raise EvaluationError(
            "nothing to evaluate: give --results + --annotations and/or --checkpoint + --records"
        )
    return report


def run(args) -> int:
    setup_logging(logging.WARNING, "%(levelname)s %(name)s: %(message)s")
    logging.getLogger("va_gpt.eval").setLevel(logging.INFO)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # a bad input (annotations, results, checkpoint) is one of the project's known errors:
    # cli.main says it in one line, `vagpt eval: error: ...`, exit 1, as every command does
    report = evaluate(args)
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "report.json").write_text(text + "\n")
    return 0

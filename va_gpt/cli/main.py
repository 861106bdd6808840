"""`vagpt`: the one command line, a single argparse tree.

    vagpt synth URL ...                 write a synthetic camera archive with ground truth
    vagpt nightly --archive --results   run the nightly pipeline over an archive
    vagpt query "SQL" --results URL     read-only SQL over a results folder (--format table|csv|json|parquet)
    vagpt report --results --date --out  static HTML report of one night (index + a page per camera)
    vagpt train-classifier --out DIR    train the TETG anomaly classifier on synthetic footage
    vagpt instruct --source ... --out   build the VA-Instruction dataset
    vagpt train ... | vagpt eval ...    train VA-GPT / evaluate results and checkpoints
    vagpt store start|stop|status DIR   the embedded SeaweedFS store
    vagpt demo --work work              what `make run` runs: store, archive, models, nightly, queries

Each subcommand's module (va_gpt/cli/<group>.py) registers its options and runs by calling
library functions; it imports its library only when it runs, so `vagpt nightly` never loads
the train or eval extras (peft, deepspeed, scikit-learn, matplotlib, sacrebleu).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from va_gpt.cli import demo, evaluate, instruct, nightly, query, report, store, synth, train
from va_gpt.cli.common import HelpFormatter

GROUPS = (synth, nightly, query, report, train, instruct, evaluate, store, demo)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vagpt", description=__doc__.split("\n\nEach")[0], formatter_class=HelpFormatter
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an error (also VAGPT_DEBUG=1); may follow any command",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return p


# The project's error types: a bad input or setting, said in one line, never a traceback.
# Looked up by name in modules already imported (a raised error's module is loaded), so
# `vagpt nightly` still never imports the train or eval code. (module, class, exit status)
KNOWN_ERRORS = (
    ("va_gpt.config", "ConfigError", 2),
    ("va_gpt.pipeline.breaker", "StorageOutage", 3),  # before StorageError, its base class
    ("va_gpt.io.errors", "StorageError", 1),
    ("va_gpt.lake.query", "QueryError", 1),
    ("va_gpt.checkpoints.fetch", "CheckpointError", 1),
    ("va_gpt.data.records", "DatasetError", 1),
    ("va_gpt.data.benchmarks.common", "AnnotationError", 1),
    ("va_gpt.eval.errors", "EvaluationError", 1),
    ("va_gpt.train.config", "TrainError", 1),
    ("va_gpt.video.errors", "DecodeError", 1),
    ("va_gpt.io.objectstore", "ObjectStoreError", 1),
)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("VAGPT_DEBUG", "") not in ("", "0")


def known_error_status(exc: BaseException) -> int | None:
    """The exit status for one of the project's known errors, or None for anything else (a bug).

    A ValueError counts when our own code raised it (argument validation), not a library."""
    for module, name, status in KNOWN_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return status
    if isinstance(exc, ValueError) and exc.__traceback__ is not None:
        frames = traceback.extract_tb(exc.__traceback__)
        if frames and os.path.abspath(frames[-1].filename).startswith(_PACKAGE_DIR + os.sep):
            return 2
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = _debug(argv)
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        return int(args.run(args) or 0)
    except Exception as e:
        status = known_error_status(e)
        if status is None or debug:
            raise
        print(f"vagpt {args.command}: error: {e}", file=sys.stderr)
        print("(run with --debug or VAGPT_DEBUG=1 for the traceback)", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())

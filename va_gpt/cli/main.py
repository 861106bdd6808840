"""`vagpt`: the one command line, a single argparse tree.

    vagpt synth URL ...                 write a synthetic camera archive with ground truth
    vagpt nightly --archive --results   run the nightly pipeline over an archive
    vagpt query "SQL" --results URL     read-only SQL over a results folder
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
import sys

from va_gpt.cli import demo, evaluate, instruct, nightly, query, store, synth, train
from va_gpt.cli.common import HelpFormatter

GROUPS = (synth, nightly, query, train, instruct, evaluate, store, demo)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vagpt", description=__doc__.split("\n\nEach")[0], formatter_class=HelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""`vagpt` command: one entry point over the jobs.

    vagpt synth URL ...          write a synthetic camera archive with ground truth
    vagpt nightly ...            run the nightly pipeline over an archive
    vagpt query "SQL" --results URL
    vagpt train-classifier ...   train the TETG anomaly classifier
    vagpt instruct ...           build the VA-Instruction dataset
    vagpt train ... / vagpt eval ...   train VA-GPT / evaluate results and checkpoints
    vagpt store start|stop|status DIR   the embedded SeaweedFS store

Each subcommand hands its remaining arguments to the module that owns them,
so `vagpt X --help` shows that module's own options.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "synth": ("va_gpt.synthetic.generate", "write a synthetic camera archive with ground truth"),
    "nightly": ("jobs.nightly", "run the nightly pipeline over an archive"),
    "query": ("va_gpt.query_cli", "read-only SQL over a results folder"),
    "train-classifier": ("jobs.train_classifier", "train the TETG anomaly classifier"),
    "instruct": ("jobs.build_instructions", "build the VA-Instruction dataset (synthetic, UCF, XD, HIVAU)"),
    "train": ("jobs.train", "train VA-GPT (stage 1 projector alignment, stage 2 instruction tuning)"),
    "eval": ("jobs.evaluate", "frame AUC/AP, interval P/R, QA accuracy, BLEU/ROUGE, ablations"),
    "store": ("va_gpt.io.objectstore", "start|stop|status the embedded object store"),
}


def usage() -> str:
    lines = ["usage: vagpt COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<18} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"vagpt: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())

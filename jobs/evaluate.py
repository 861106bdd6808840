"""`vagpt eval` as a script: `python jobs/evaluate.py --help` (va_gpt/cli/ holds the options)."""

import sys

from va_gpt.cli import main as vagpt


def main(argv: list[str] | None = None) -> int:
    return vagpt(["eval", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())

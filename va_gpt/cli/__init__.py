"""The `vagpt` command line (va_gpt/cli/main.py builds it)."""

from va_gpt.cli.main import build_parser, main

__all__ = ["build_parser", "main"]

"""What every `vagpt` subcommand shares: the help format and the argument grammar.

One meaning per option name across the whole CLI:
  --date       one date: YYYY-MM-DD, `today` or `yesterday` (nightly also takes A..B and A,B,C)
  --cameras    a comma-separated list of camera ids
  --endpoint   the S3 endpoint URL; credentials always come from AWS_* environment variables
  --preset     a preset name (va_gpt/presets) or a YAML path
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and shows every option's default.

    An option whose help already says "(default ..." keeps its own wording (a None default
    usually means something, e.g. "the preset's"); flags (store_true) have no default to show.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "(default" in text
            or action.default is argparse.SUPPRESS
            or isinstance(action, argparse._StoreTrueAction | argparse._HelpAction)
            or (not action.option_strings and action.default is None)
            or action.required
        ):
            return text
        return f"{text} (default: %(default)s)"


def add_command(sub, name: str, help_: str, description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand parser with the CLI's formatter; `description` defaults to `help_`."""
    return sub.add_parser(name, help=help_, description=description or help_, formatter_class=HelpFormatter)


def parse_date(text: str) -> str:
    """`today`, `yesterday` or `YYYY-MM-DD` -> an ISO date."""
    today = dt.date.today()
    named = {"today": today, "yesterday": today - dt.timedelta(days=1)}
    if text in named:
        return named[text].isoformat()
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not YYYY-MM-DD, today or yesterday") from None


def parse_dates(text: str | None) -> list[str] | tuple[str, str] | None:
    """One date (see parse_date), `A..B` (inclusive), `A,B,C`, or `all`/None (every date)."""
    if text is None or text == "all":
        return None
    if ".." in text:
        a, b = (parse_date(s) for s in text.split("..", 1))
        if b < a:
            raise argparse.ArgumentTypeError(f"range {text!r} ends before it starts")
        return (a, b)
    return [parse_date(s) for s in text.split(",")]


def camera_list(text: str) -> list[str]:
    """`cam01,cam02` -> ["cam01", "cam02"]."""
    cams = [c.strip() for c in text.split(",") if c.strip()]
    if not cams:
        raise argparse.ArgumentTypeError("expected comma-separated camera ids, e.g. cam01,cam02")
    return cams


def add_endpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--endpoint",
        default=None,
        help="S3 endpoint URL for s3:// URLs (default: $AWS_ENDPOINT_URL, else AWS); "
        "credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
    )


def add_preset(p: argparse.ArgumentParser, default: str = "demo") -> None:
    p.add_argument("--preset", default=default, help="preset name (va_gpt/presets) or YAML path")


def setup_logging(
    level: int = logging.INFO, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s"
) -> None:
    """Configure the root logger (a no-op when the caller already did)."""
    logging.basicConfig(level=level, format=fmt)


# Folders a results root holds once a nightly run wrote to it.
RESULT_ROOT_TABLES = ("runs", "videos")


def read_sql_arg(text: str) -> str:
    """A SQL argument: the text itself, or `@file.sql` for a file's content (ConfigError naming a missing file)."""
    from va_gpt.config import ConfigError

    if not text.startswith("@"):
        return text
    try:
        with open(text[1:], encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"{text}: cannot read the SQL file ({e.strerror or type(e).__name__})") from None


def check_results_root(url: str, endpoint: str | None = None) -> None:
    """Before a query: credentials for `url`, and a result table there (a typo in --results
    is an error naming the root, not empty tables with exit 0)."""
    from va_gpt.io.credentials import require_credentials, storage_options_for
    from va_gpt.io.errors import StorageError
    from va_gpt.io.filesystem import exists, join

    require_credentials(url, endpoint)
    so = storage_options_for(url, endpoint)
    if not any(exists(join(url, table), so) for table in RESULT_ROOT_TABLES):
        raise StorageError(
            url,
            "the results root has no tables (no runs or videos table there: check --results, or run vagpt nightly)",
        )

"""`vagpt report` and `vagpt query --format/--out` on the fixture night."""

from __future__ import annotations

import argparse
import os

import pytest

from tests.report.night_fixture import DATE
from va_gpt.cli import report


def vagpt_report(argv: list[str]) -> int:
    """`vagpt report ...` through the subcommand's own parser (the module as cli/main.py registers it)."""
    p = argparse.ArgumentParser(prog="vagpt")
    report.register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["report", *argv])
    return int(args.run(args) or 0)


def test_vagpt_report_prints_the_index_path(local_night, tmp_path, capsys):
    out = tmp_path / "site"
    assert vagpt_report(["--results", local_night.results, "--date", DATE, "--out", str(out)]) == 0
    index = capsys.readouterr().out.strip()
    assert index == str(out / DATE / "index.html") and os.path.getsize(index) > 0
    assert vagpt_report(["--results", local_night.results, "--date", DATE, "--cameras", "cam02",
                 "--out", str(tmp_path / "one"), "--no-store-media"]) == 0  # fmt: skip
    assert sorted(os.listdir(tmp_path / "one" / DATE)) == ["camera-cam02.html", "index.html"]


def test_vagpt_report_without_results_is_a_clear_error(tmp_path, capsys):
    rc = vagpt_report(["--results", str(tmp_path / "nothing"), "--date", DATE, "--out", str(tmp_path / "o")])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("vagpt report: ") and "no committed results" in err and "Traceback" not in err


def test_vagpt_report_bad_date_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as e:
        vagpt_report(["--results", str(tmp_path), "--date", "soon", "--out", str(tmp_path)])
    assert e.value.code == 2

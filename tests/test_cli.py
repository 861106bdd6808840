"""The `vagpt` command: one argparse tree, consistent options, usage errors, the query subcommand."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from va_gpt.cli import build_parser, main
from va_gpt.cli.common import parse_date, parse_dates
from va_gpt.synthetic.truth import load_truth

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    "synth",
    "nightly",
    "query",
    "report",
    "train-classifier",
    "train",
    "instruct",
    "eval",
    "store",
    "demo",
)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_one_tree_with_every_command():
    assert set(_subparsers(build_parser())) == set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_help_names_itself_and_exits_0(name, capsys):
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: vagpt {name} ")


def test_every_option_has_help_and_shows_its_default():
    for name, p in _subparsers(build_parser()).items():
        for a in p._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            assert a.help, f"vagpt {name} {a.dest}: no help text"
            if a.required or isinstance(a, argparse._StoreTrueAction):
                continue
            if a.option_strings or a.default is not None:
                shown = p.formatter_class(prog="x")._get_help_string(a)
                assert "(default" in shown, f"vagpt {name} {a.option_strings}: default not shown"


def test_option_names_mean_the_same_everywhere():
    """--cameras is a list of camera ids, --date/--start-date one grammar, credentials never a flag."""
    for name, p in _subparsers(build_parser()).items():
        opts = {o: a for a in p._actions for o in a.option_strings}
        assert "--storage-options" not in opts, name
        if "--cameras" in opts:
            assert opts["--cameras"].type("cam01,cam02") == ["cam01", "cam02"], name
        for flag in ("--date", "--start-date"):
            if flag in opts:
                assert opts[flag].type("2026-11-21") in ("2026-11-21", ["2026-11-21"]), (name, flag)
        if name not in ("store", "demo"):  # every command that reads or writes URLs
            assert "--endpoint" in opts, f"vagpt {name}: no --endpoint"


def test_date_grammar():
    assert parse_date("2026-01-02") == "2026-01-02"
    assert len(parse_date("today")) == 10 and parse_date("yesterday") < parse_date("today")
    assert parse_dates("2026-01-02..2026-01-04") == ("2026-01-02", "2026-01-04")
    assert parse_dates("2026-01-02,2026-01-05") == ["2026-01-02", "2026-01-05"]
    assert parse_dates(None) is None and parse_dates("all") is None
    with pytest.raises(argparse.ArgumentTypeError, match="YYYY-MM-DD"):
        parse_date("21/11/2026")
    with pytest.raises(argparse.ArgumentTypeError, match="ends before"):
        parse_dates("2026-01-04..2026-01-02")


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        main(["frobnicate"])
    assert done.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_query_prints_a_table_and_names_bad_sql(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    # A root without tables (a typo in --results) is an error, not empty tables.
    assert main(["query", "SELECT count(*) AS n FROM videos", "--results", str(results)]) == 1
    assert "has no tables" in capsys.readouterr().err
    (results / "videos").mkdir()
    assert main(["query", "SELECT count(*) AS n FROM videos", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "n" in out and "(1 row)" in out
    assert main(["query", "DELETE FROM videos", "--results", str(results)]) == 1
    assert "read-only" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_synth_writes_an_archive_and_names_bad_kinds(tmp_path, capsys):
    out = tmp_path / "arch"
    args = ["--num-cameras", "1", "--videos-per-camera", "2", "--duration", "2", "--width", "160"]
    args += ["--height", "120", "--fps", "10", "--seed", "4", "--start-date", "2026-11-21"]
    assert main(["synth", str(out), *args]) == 0
    truth = load_truth(str(out))
    assert [v.key for v in truth.videos] == sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4"))
    assert all(v.date == "2026-11-21" for v in truth.videos)
    assert (out / "_truth" / "Temporal_Anomaly_Annotation.txt").read_text().count("\n") == 2
    assert "ground truth" in capsys.readouterr().out
    assert main(["synth", str(out), "--kinds", "fighting,teleport"]) == 2
    assert "teleport" in capsys.readouterr().err
    early = tmp_path / "early"
    assert main(["synth", str(early), *args, "--normal-fraction", "0", "--event-start", "0.05", "0.1"]) == 0
    assert all(0.1 <= e.start_s <= 0.2 for v in load_truth(str(early)).videos for e in v.events)
    assert main(["synth", str(early), "--event-start", "0.5", "1.5"]) == 2
    assert "event_start must be fractions" in capsys.readouterr().err
    assert main(["synth", str(early), "--out-of-range", "darkness"]) == 2  # without the split
    assert "--out-of-range needs --domain-split out_of_range" in capsys.readouterr().err
    assert main(["synth", str(early), "--domain-split", "out_of_range", "--out-of-range", "dark"]) == 2
    assert "['dark']" in capsys.readouterr().err and not (early / "cam02").exists()
    assert main(["synth", str(early), "--event-hard-negative-p", "0.5"]) == 2  # plain renders have none
    assert "event_hard_negative_p needs a domain_split" in capsys.readouterr().err
    hard = tmp_path / "hard"
    assert main(["synth", str(hard), *args, "--domain-split", "test", "--event-hard-negative-p", "1"]) == 0
    events = [v for v in load_truth(str(hard)).videos if v.label != "normal"]
    assert events and all(v.domain.event_hard_negative_p == 1.0 and len(v.distractors) == 6 for v in events)


@pytest.mark.timeout(60)
def test_eval_names_an_unknown_ablation_setting_before_reading_anything(tmp_path, capsys):
    missing = tmp_path / "no-checkpoint"  # never read: the settings are checked first
    args = ["eval", "--ablation", "--checkpoint", str(missing), "--records", str(tmp_path / "no-records")]
    assert main([*args, "--settings", "SETS 100%,SETS 30%"]) == 1
    err = capsys.readouterr().err
    assert "no ablation setting named 'SETS 30%'" in err and "'SETS 25%, no TETG'" in err


def test_store_status_of_a_folder_with_no_store(tmp_path, capsys):
    assert main(["store", "status", str(tmp_path)]) == 1
    assert capsys.readouterr().out.strip() == "down"


@pytest.mark.timeout(120)
def test_console_script_and_jobs_scripts_run():
    done = subprocess.run(
        [sys.executable, "-m", "va_gpt.cli", "--help"], capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0 and "nightly" in done.stdout
    done = subprocess.run(
        [sys.executable, str(ROOT / "jobs" / "nightly.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: vagpt nightly ")

"""The `vagpt` command: dispatch, usage errors, and the query subcommand's messages."""

import subprocess
import sys

import pytest

from va_gpt.cli import COMMANDS, main


@pytest.mark.timeout(60)
def test_help_lists_every_command_and_each_module_has_main(capsys):
    import importlib

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, (module, _) in COMMANDS.items():
        assert name in out
        assert callable(importlib.import_module(module).main), module


@pytest.mark.timeout(60)
def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_query_prints_a_table_and_names_bad_sql(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    assert main(["query", "SELECT count(*) AS n FROM videos", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "n" in out and "(1 row)" in out
    assert main(["query", "DELETE FROM videos", "--results", str(results)]) == 1
    assert "read-only" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_console_script_runs():
    exe = [sys.executable, "-m", "va_gpt.cli", "--help"]
    done = subprocess.run(exe, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0 and "nightly" in done.stdout

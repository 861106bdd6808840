"""`vagpt query --format table|csv|json|parquet [--out FILE]` on the report's fixture night."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from va_gpt.cli.main import main

SQL = "SELECT camera_id, label, start_s FROM intervals ORDER BY camera_id, start_s"


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "parquet"])
def test_vagpt_query_formats_to_a_file(local_night, tmp_path, fmt, capsys):
    out = tmp_path / f"q.{fmt}"
    assert main(["query", SQL, "--results", local_night.results, "--format", fmt, "--out", str(out)]) == 0
    assert "3 rows -> " in capsys.readouterr().err
    if fmt == "parquet":
        assert pq.read_table(out).column("label").to_pylist() == ["fight", "fall", "abandoned_object"]
    elif fmt == "json":
        rows = json.loads(out.read_text())
        assert rows[0] == {"camera_id": "cam01", "label": "fight", "start_s": 3.0} and len(rows) == 3
    elif fmt == "csv":
        lines = out.read_text().splitlines()
        assert lines[0] == '"camera_id","label","start_s"' and len(lines) == 4
    else:
        assert out.read_text().rstrip().endswith("(3 rows)")


def test_vagpt_query_stdout_and_parquet_needs_out(local_night, capsys):
    assert main(["query", SQL, "--results", local_night.results, "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["query", SQL, "--results", local_night.results]) == 0
    assert "(3 rows)" in capsys.readouterr().out
    assert main(["query", SQL, "--results", local_night.results, "--format", "parquet"]) == 2
    assert "needs --out" in capsys.readouterr().err

"""jobs/bench_gpu.py runs end to end on CPU, every section (the smoke test; a lent GPU machine runs it for real)."""

from __future__ import annotations

import json

import pytest

from jobs import bench_gpu


@pytest.mark.timeout(300)
def test_bench_gpu_quick_on_cpu(tmp_path, capsys):
    assert bench_gpu.main(["--device", "cpu", "--quick", "--work", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["device"] == "cpu" and report["quick"]
    assert {r["model"] for r in report["encoder"]} == {"dinov2-s14", "dinov2-b14"}
    assert all(r["frames_per_s"] > 0 and r["camera_h_per_gpu_h"] > 0 for r in report["encoder"])
    dec = report["decode"]
    assert dec["software_x"] > 0
    assert ("nvdec_x" in dec) != ("nvdec" in dec)  # a rate, or why there is none
    # the stages themselves: every setup ran (a bench that swallowed an error would say so here)
    assert [r["stage"] for r in report["visual"]] == [
        "demo",
        "va-gpt-7b (SETS side)",
        "va-gpt-7b (SETS side), clip_len 16",
    ]
    assert all("error" not in r and r["frames_per_s"] > 0 for r in report["visual"]), report["visual"]
    assert all(r["prepare_frames_per_core_s"] > 0 for r in report["visual"])
    for key in ("describe", "describe_demo"):
        d = report[key]
        assert "error" not in d and not d["errors"] and d["s_per_summary"] > 0, d
        assert d["first_text"].startswith("Judgement:")

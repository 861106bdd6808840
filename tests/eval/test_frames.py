"""Frame AUC/AP of a results folder against sklearn on the same arrays; the eval command's report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from jobs import evaluate as job
from tests.eval.results_fixtures import FPS, VIDEOS, write_results, write_ucf
from va_gpt.data.benchmarks import to_frame_labels
from va_gpt.eval.annotations import load_annotations
from va_gpt.eval.frames import frame_metrics
from va_gpt.ops.metrics import expand_scores_to_frames


@pytest.mark.timeout(60)
def test_frame_auc_ap_match_sklearn(tmp_path):
    results = str(tmp_path / "results")
    curves = write_results(results)
    ann = load_annotations(write_ucf(tmp_path / "Temporal_Anomaly_Annotation.txt"))
    got = frame_metrics(results, ann)
    # the same arrays by hand: scores held on every native frame, labels [s, e)
    ys, ss = [], []
    for name, _, _, dur in VIDEOS:
        n = int(dur * FPS)
        t, s = curves[name]
        ss.append(expand_scores_to_frames(t, s, n, FPS))
        ys.append(to_frame_labels(ann[name], n))
    y, s = np.concatenate(ys), np.concatenate(ss)
    assert got.n_videos == 3 and got.n_frames == len(y) == 900 and got.n_positive == 90 + 60 + 60
    assert got.auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert got.ap_sklearn == pytest.approx(average_precision_score(y, s), abs=1e-12)
    p, r, _ = precision_recall_curve(y, s)
    assert got.ap_trapezoid == pytest.approx(auc(r, p), abs=1e-12)
    assert got.unmatched == [] and got.missing == []


@pytest.mark.timeout(60)
def test_eval_job_reports_frame_and_interval_metrics(tmp_path, capsys):
    results = str(tmp_path / "results")
    write_results(results, intervals={"Abuse001_x264": [(2.0, 5.0)]})
    ann = write_ucf(tmp_path / "ann.txt")
    assert job.main(["--results", results, "--annotations", ann, "--out", str(tmp_path / "rep")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"frame", "intervals", "detection"}
    assert (
        0 <= report["frame"]["auc"] <= 1
        and "ap_sklearn" in report["frame"]
        and "ap_trapezoid" in report["frame"]
    )
    assert json.loads((tmp_path / "rep" / "report.json").read_text()) == report
    assert job.main(["--results", results]) == 1
    assert "need both --results and --annotations" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_frame_and_interval_evaluation_import_neither_torch_nor_train():
    code = (
        "import sys, va_gpt.eval.frames, va_gpt.eval.intervals, va_gpt.eval.match; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('va_gpt.train')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

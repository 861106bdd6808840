"""Interval precision / recall of a results folder's `intervals` table at tIoU 0.3 / 0.5 / 0.7."""

from __future__ import annotations

import pytest

from tests.eval.results_fixtures import write_results, write_ucf
from va_gpt.eval.annotations import load_annotations
from va_gpt.eval.intervals import interval_metrics


@pytest.mark.timeout(60)
def test_interval_precision_recall_on_crafted_intervals(tmp_path):
    results = str(tmp_path / "results")
    # Abuse001: truth 2.0-5.0 s; Arson002: truth 1.0-3.0 s and 6.667-8.667 s; Normal: none
    write_results(
        results,
        intervals={
            "Abuse001_x264": [(2.2, 5.0)],  # IoU 0.933: a hit at every threshold
            "Arson002_x264": [(1.0, 2.0), (7.5, 9.5)],  # IoU 0.5 and ~0.41
            "Normal_Videos_003_x264": [(4.0, 5.0)],  # a false positive
        },
    )
    ann = load_annotations(write_ucf(tmp_path / "ann.txt"))
    res = interval_metrics(results, ann)
    assert res["n_pred"] == 4 and res["n_gt"] == 3
    r3, r5, r7 = res["by_iou"]["0.3"], res["by_iou"]["0.5"], res["by_iou"]["0.7"]
    assert (r3["tp"], r3["fp"], r3["fn"]) == (3, 1, 0)
    assert (r5["tp"], r5["fp"], r5["fn"]) == (2, 2, 1)
    assert (r7["tp"], r7["fp"], r7["fn"]) == (1, 3, 2)
    assert r5["precision"] == pytest.approx(0.5) and r5["recall"] == pytest.approx(2 / 3)

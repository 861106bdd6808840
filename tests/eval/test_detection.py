"""The detection table of a results folder: per kind, false intervals per normal video, kind accuracy,
and the raw motion energy as the calibrated baseline row."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.eval.results_fixtures import VIDEOS, write_results, write_ucf
from va_gpt.cli.main import main
from va_gpt.eval.annotations import load_annotations, load_hard_negatives
from va_gpt.eval.detection import (
    RunsAuc,
    detection_report,
    detector_metrics,
    false_by_hard_negative,
    frame_auc_by_kind,
    frame_auc_ci,
    paired_frame_auc,
    recall_ci,
    runs,
)
from va_gpt.eval.errors import EvaluationError
from va_gpt.ops.metrics import frame_auc


def test_detector_metrics_per_kind_false_intervals_and_kind_accuracy():
    gt = {"a": [(2.0, 5.0)], "b": [(1.0, 3.0)], "n1": [], "n2": []}
    kinds = {"a": "fighting", "b": "road accident", "n1": None, "n2": None}
    pred = {
        "a": [(2.2, 5.0, "fighting")],  # a hit, kind right
        "b": [(1.0, 2.0, "collision")],  # IoU 0.5, the synthetic collision is UCF RoadAccidents: right
        "n1": [(4.0, 5.0, "running"), (6.0, 7.0, "running")],  # two false intervals
    }
    row = detector_metrics(pred, gt, kinds)
    assert row["by_iou"]["0.5"]["recall"] == 1.0 and row["by_iou"]["0.7"]["recall"] == 0.5
    assert row["recall_0.5_by_kind"] == {"fighting": 1.0, "road accident": 1.0}
    assert row["false_per_normal"] == 1.0  # 2 false intervals over 2 normal videos
    assert row["kind_accuracy"] == 1.0 and row["kind_intervals"] == 2
    pred["a"] = [(2.2, 5.0, "running")]
    assert detector_metrics(pred, gt, kinds)["kind_accuracy"] == 0.5


def test_false_intervals_by_the_hard_negative_each_normal_video_shows():
    gt = {"a": [(2.0, 5.0)], "n1": [], "n2": [], "n3": []}
    pred = {"a": [(9.0, 10.0)], "n1": [(12.0, 20.0)], "n2": [(1.0, 2.0), (13.0, 20.0)]}
    negatives = {"a": (), "n1": ("rest",), "n2": ("crowd", "rest"), "n3": ()}
    rows = false_by_hard_negative(pred, gt, negatives)
    # the anomalous video's stray interval is not a false interval on a normal video
    assert rows == {
        "crowd": {"normal_videos": 1, "false_intervals": 2, "per_video": 2.0},
        "none": {"normal_videos": 1, "false_intervals": 0, "per_video": 0.0},
        "rest": {"normal_videos": 2, "false_intervals": 3, "per_video": 1.5},
    }
    none = {"none": {"normal_videos": 3, "false_intervals": 0, "per_video": 0.0}}
    assert false_by_hard_negative({}, gt, {}) == none


def test_boundaries_tell_an_event_missed_from_one_found_but_cut_wrong():
    gt = {"f1": [(5.0, 10.0)], "f2": [(4.0, 9.0)], "f3": [(6.0, 11.0)], "r": [(2.0, 4.0)], "n": []}
    kinds = {"f1": "falling", "f2": "falling", "f3": "falling", "r": "running", "n": None}
    pred = {
        "f1": [(5.5, 17.0, "falling")],  # found, held 7 s past the end: fails tIoU 0.5
        "f2": [(1.0, 2.0, "falling"), (4.0, 12.0, "falling")],  # the second overlaps it: 0 and +3 s
        "f3": [(12.0, 14.0, "falling")],  # after the event: missed
        "n": [(1.0, 3.0, "running")],
    }
    row = detector_metrics(pred, gt, kinds)
    assert row["boundaries_by_kind"] == {
        "falling": {"events": 3, "missed": 1, "start_s": 0.25, "end_s": 5.0},
        "running": {"events": 1, "missed": 1, "start_s": None, "end_s": None},
    }
    assert row["recall_0.5_by_kind"]["falling"] == 1 / 3  # f2 only (IoU 5/8); f1 is 4.5/12


def test_frame_auc_by_kind_holds_each_kind_against_the_normal_videos_only():
    normal = np.array([0.1, 0.2, 0.3, 0.4])
    fight = (np.array([0.9, 0.8, 0.05, 0.95]), np.array([0, 1, 1, 0]))  # frames 0, 3: outside the event
    bag = (np.array([0.25, 0.15]), np.array([1, 1]))
    got = frame_auc_by_kind(
        [normal, fight[0], bag[0]], [np.zeros(4), fight[1], bag[1]], [None, "fighting", "abandoned"]
    )
    # fighting: 0.8 beats all four normal frames, 0.05 none -> 0.5; the 0.9 and 0.95 outside the
    # event count for nothing. abandoned: 0.25 beats 2 of 4, 0.15 1 of 4 -> 3/8
    assert got == {"fighting": 0.5, "abandoned": 0.375}
    assert frame_auc_by_kind([fight[0]], [fight[1]], ["fighting"]) == {}  # no normal video: no figure


@pytest.mark.timeout(60)
def test_detection_report_of_a_results_folder_with_the_energy_baseline(tmp_path):
    results = str(tmp_path / "results")
    write_results(results, intervals={"Abuse001_x264": [(2.2, 5.0)], "Normal_Videos_003_x264": [(4.0, 5.0)]})
    ann = load_annotations(write_ucf(tmp_path / "ann.txt"))
    cal = {"smooth_s": 0.0, "high": 0.5, "low": 0.5, "min_len_s": 0.5, "merge_gap_s": 0.5}
    rep = detection_report(results, ann, baseline_calibration=cal)
    assert rep["n_videos"] == 3 and rep["n_events"] == 3
    clf, base = rep["classifier"], rep["diff_energy"]
    assert clf["frame_auc"] > 0.6 and clf["false_per_normal"] == 1.0
    assert clf["recall_0.5_by_kind"] == {"abuse": 1.0, "arson": 0.0}
    by_kind = clf["frame_auc_by_kind"]  # the fixture scores every event higher than the normal video
    assert set(by_kind) == {"abuse", "arson"} and min(by_kind.values()) > 0.9
    assert base["frame_auc_by_kind"] == {"abuse": 0.5, "arson": 0.5}  # flat energy: chance per kind
    assert base["frame_auc"] == 0.5 and base["false_per_normal"] == 0.0  # the fixture's energy is flat 0
    assert base["calibration"] == cal and base["by_iou"]["0.5"]["recall"] == 0.0
    assert "by_iou" not in detection_report(results, ann)["diff_energy"]  # no calibration: AUC only
    # each figure with the range an archive of the same size could give; the fixture's videos
    # share one camera, too few to draw cameras: the bootstrap draws videos
    assert rep["ci_unit"] == "video" and rep["n_cameras"] is None
    lo, hi = clf["frame_auc_ci95"]
    assert lo <= clf["frame_auc"] <= hi and base["frame_auc_ci95"] == [0.5, 0.5]
    lo, hi = clf["recall_0.5_ci95"]
    assert lo <= clf["by_iou"]["0.5"]["recall"] <= hi and base["recall_0.5_ci95"] == [0.0, 0.0]


@pytest.mark.timeout(120)
def test_the_detection_table_splits_false_intervals_by_the_archives_hard_negatives(tmp_path, capsys):
    results = str(tmp_path / "results")
    write_results(results, intervals={"Abuse001_x264": [(2.2, 5.0)], "Normal_Videos_003_x264": [(4.0, 5.0)]})
    ann_path = write_ucf(tmp_path / "ann.txt")
    truth = tmp_path / "events.json"
    videos = [
        {"key": "Abuse001_x264.mp4", "events": [{"start_frame": 60}], "distractors": []},
        {"key": "Arson002_x264.mp4", "events": [{"start_frame": 30}]},  # older archives: no field
        {"key": "Normal_Videos_003_x264.mp4", "events": [], "distractors": ["rest", "door"]},
    ]
    truth.write_text(json.dumps({"videos": videos}))
    negatives = load_hard_negatives(truth)
    assert negatives == {"Abuse001_x264": (), "Arson002_x264": (), "Normal_Videos_003_x264": ("rest", "door")}
    ann = load_annotations(ann_path)
    cal = {"smooth_s": 0.0, "high": 0.5, "low": 0.5, "min_len_s": 0.5, "merge_gap_s": 0.5}
    rep = detection_report(results, ann, baseline_calibration=cal, hard_negatives=negatives)
    one = {"normal_videos": 1, "false_intervals": 1, "per_video": 1.0}
    assert rep["classifier"]["false_per_normal_by_hard_negative"] == {"door": one, "rest": one}
    none = {"normal_videos": 1, "false_intervals": 0, "per_video": 0.0}  # the flat energy cuts nothing
    assert rep["diff_energy"]["false_per_normal_by_hard_negative"] == {"door": none, "rest": none}
    assert "false_per_normal_by_hard_negative" not in detection_report(results, ann)["classifier"]
    # through the CLI
    args = ["eval", "--results", results, "--annotations", ann_path]
    assert main([*args, "--truth-events", str(truth)]) == 0
    assert '"false_per_normal_by_hard_negative"' in capsys.readouterr().out
    # a bad truth file is named, before any result is read
    bad = [
        ("{", "not valid JSON"),
        ('{"videos": []}', 'no "videos" list'),
        ('{"videos": [{"events": []}]}', 'video 0 lacks its "key"'),
    ]
    for text, msg in bad:
        truth.write_text(text)
        assert main([*args, "--truth-events", str(truth)]) == 1
        assert msg in capsys.readouterr().err
    assert main([*args, "--truth-events", str(tmp_path / "missing.json")]) == 1
    assert "cannot read the archive's truth" in capsys.readouterr().err
    assert main(["eval", "--truth-events", str(truth)]) == 1
    # another archive's truth: named, not read as scenes without hard negatives
    truth.write_text(json.dumps({"videos": videos[:2]}))
    assert main([*args, "--truth-events", str(truth)]) == 1
    assert "1 of the 3 annotated videos are not in the archive's truth" in capsys.readouterr().err


def test_recall_ci_resamples_whole_videos():
    gt = {f"v{i}": [(1.0, 2.0)] for i in range(10)} | {"n": []}
    found = {f"v{i}": [(1.0, 2.0, "x")] for i in range(5)}
    lo, hi = recall_ci(found, gt)
    assert 0.1 <= lo < 0.5 < hi <= 0.9  # half the events found: a wide range over 10 videos
    assert recall_ci({v: [(1.0, 2.0)] for v in gt}, gt) == [1.0, 1.0]
    assert recall_ci({}, {"n": []}) is None  # no events in any draw


def test_the_frame_auc_interval_scores_runs_of_held_scores_as_every_frame():
    rng = np.random.default_rng(1)
    scores, labels = [], []
    for v in range(12):  # 12 videos: 40 samples each held over 15 native frames, events in half
        y = np.zeros(600, np.int64)
        if v % 2:
            y[200:320] = 1
        s = np.repeat(rng.random(40), 15) + 0.5 * y
        scores.append(s), labels.append(y)
    s, y, w = runs(scores[1], labels[1])
    assert w.sum() == 600 and len(s) < 50 and np.array_equal(np.repeat(s, w), scores[1])
    # the identity draw: the runs' weighted AUC is the frame AUC of all frames
    lo, hi = frame_auc_ci(scores, labels)
    assert lo <= frame_auc(np.concatenate(scores), np.concatenate(labels)) <= hi
    r = [runs(a, b) for a, b in zip(scores, labels)]
    weighted = roc_auc_score(np.concatenate([x[1] for x in r]), np.concatenate([x[0] for x in r]),
                             sample_weight=np.concatenate([x[2] for x in r]))  # fmt: skip
    assert weighted == pytest.approx(frame_auc(np.concatenate(scores), np.concatenate(labels)), abs=1e-12)


def test_the_runs_auc_of_any_draw_is_sklearns_frame_auc_of_those_videos():
    """A bootstrap draw (videos repeated or left out) scored from the runs, sorted once, equals
    roc_auc_score over the drawn videos' frames, ties (held scores, equal values across videos)
    counting half; a draw without both classes gives None."""
    rng = np.random.default_rng(4)
    scores, labels = [], []
    for v in range(9):
        y = np.zeros(300, np.int64)
        if v % 3:
            y[100 + 10 * v : 180 + 10 * v] = 1
        s = np.repeat(np.round(rng.random(30), 1), 10) + 0.3 * y  # few distinct values: many ties
        scores.append(s), labels.append(y)
    auc = RunsAuc([runs(s, y) for s, y in zip(scores, labels)])
    for idx in ([0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 1, 0, 8], [2, 0, 0, 5, 5, 5, 7]):
        want = roc_auc_score(
            np.concatenate([labels[i] for i in idx]), np.concatenate([scores[i] for i in idx])
        )
        assert auc(idx) == pytest.approx(want, abs=1e-12)
    assert auc([0, 3, 6]) is None  # the normal videos only
    assert auc([1, 2]) is not None
    scores[4][7] = np.nan  # refused, as frame_auc refuses it, not sorted as a value
    with pytest.raises(ValueError, match=r"NaN or inf \(videos \[4\]"):
        RunsAuc([runs(s, y) for s, y in zip(scores, labels)])


@pytest.mark.timeout(120)
def test_two_classifiers_on_one_archive_get_a_paired_difference(tmp_path, capsys):
    ann_path = write_ucf(tmp_path / "ann.txt")
    ann = load_annotations(ann_path)
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    write_results(ours), write_results(theirs, score_seed=7)  # the same videos, other scores
    p = paired_frame_auc(ours, theirs, ann)
    assert p["n_videos"] == 3 and p["only_in_results"] == p["only_in_baseline"] == 0
    assert p["difference"] == pytest.approx(p["frame_auc"] - p["baseline_frame_auc"])
    assert p["frame_auc"] == pytest.approx(detection_report(ours, ann)["classifier"]["frame_auc"])
    lo, hi = p["difference_ci95"]
    assert lo <= p["difference"] <= hi and p["ci_unit"] == "video"
    assert paired_frame_auc(ours, ours, ann)["difference_ci95"] == [0.0, 0.0]
    # through the CLI: a "paired" section beside the detection table
    assert main(["eval", "--results", ours, "--baseline-results", theirs, "--annotations", ann_path]) == 0
    assert '"difference_ci95"' in capsys.readouterr().out
    assert main(["eval", "--baseline-results", theirs]) == 1
    assert "--baseline-results and --truth-events read --results" in capsys.readouterr().err
    # bad pairs are named: no video in common, or the same names from another archive
    abuse, arson = str(tmp_path / "abuse"), str(tmp_path / "arson")
    write_results(abuse, videos=VIDEOS[:1]), write_results(arson, videos=VIDEOS[1:2])
    with pytest.raises(EvaluationError, match="no scored video in common"):
        paired_frame_auc(abuse, arson, ann)
    longer = str(tmp_path / "longer")
    write_results(longer, videos=[(n, c, e, 12.0) for n, c, e, _ in VIDEOS])
    with pytest.raises(EvaluationError, match="Abuse001_x264.*not the same archive"):
        paired_frame_auc(ours, longer, ann)

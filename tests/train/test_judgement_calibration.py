"""How far the judgement believes the kind head's "normal" share: tuned on validation intervals,
stored with the interval calibration, applied by the interval stage to the describe rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.train.test_calibrate import _one_clip_row
from va_gpt.checkpoints.classifier import save_classifier
from va_gpt.config import IntervalConfig, load_preset
from va_gpt.models.classifier import KINDS, AnomalyClassifier
from va_gpt.ops.intervals import calibrated_normal_share
from va_gpt.pipeline.describe import ALLOWED_KINDS, choose_kind
from va_gpt.pipeline.run import Job, interval_settings, summarize_video
from va_gpt.taxonomy import NORMAL
from va_gpt.train.calibrate import calibrate_judgement, judged_right, judgement_items

TINY = load_preset("tiny")
CUT = IntervalConfig(smooth_s=0.0, high=0.5, low=0.5, min_len_s=0.5, merge_gap_s=0.5)
T = np.arange(40) / 2.0


def _video(span: tuple[int, int], p_normal: float, kind: str):
    """Scores 0.9 over frames span (0.05 elsewhere); the kind head gives p_normal to normal and
    the rest to `kind` there, and says normal elsewhere."""
    score = np.full(40, 0.05)
    score[span[0] : span[1]] = 0.9
    kp = np.zeros((40, len(KINDS)))
    kp[:, 0] = 1.0
    kp[span[0] : span[1]] = 0.0
    kp[span[0] : span[1], 0] = p_normal
    kp[span[0] : span[1], KINDS.index(kind)] = 1.0 - p_normal
    return (T, score), kp


def test_the_calibrated_bias_calls_events_by_their_kind_and_keeps_false_intervals_normal():
    # a fight the kind head under-reads (0.55 normal), and a false interval on a normal video
    # that it reads as mostly normal (0.7): at bias 0 both are judged "normal", one of them wrongly
    fight, fight_kp = _video((10, 20), 0.55, "fighting")
    calm, calm_kp = _video((24, 30), 0.7, "running")
    truth = [[(5.0, 10.0)], []]
    items = judgement_items([fight, calm], [fight_kp, calm_kp], truth, ["fighting", None], CUT, KINDS)
    assert [(want, label) for want, label, *_ in items] == [("fighting", "fighting"), (NORMAL, "running")]
    bias, report = calibrate_judgement(items)
    assert report["right_without_bias"] == 1 and report["right"] == 2
    assert report["intervals"] == 2 and report["false_intervals"] == 1
    assert -1.0 < bias < 0.0  # enough to call the fight a fight, not so much the false one flips
    assert judged_right(items, bias - 1.0) == 1  # further, the false interval is called running


def test_without_false_intervals_or_wrong_normals_the_kind_head_s_share_stays_as_it_is():
    fight, fight_kp = _video((10, 20), 0.1, "fighting")
    items = judgement_items([fight], [fight_kp], [[(5.0, 10.0)]], ["fighting"], CUT, KINDS)
    assert calibrate_judgement(items) == (0.0, {
        "intervals": 1, "false_intervals": 0, "normal_bias": 0.0, "right": 1, "right_without_bias": 1,
    })  # fmt: skip
    assert calibrate_judgement([]) == (0.0, {
        "intervals": 0, "false_intervals": 0, "normal_bias": 0.0, "right": 0, "right_without_bias": 0,
    })  # fmt: skip


def test_the_normal_share_moves_by_its_log_odds():
    assert calibrated_normal_share(0.5, 0.0) == pytest.approx(0.5)
    assert calibrated_normal_share(0.5, np.log(3.0)) == pytest.approx(0.75)
    assert calibrated_normal_share(0.9, -np.log(9.0)) == pytest.approx(0.5)
    assert 0.0 < calibrated_normal_share(1.0, -2.0) < 1.0 and 0.0 < calibrated_normal_share(0.0, 2.0) < 1.0


@pytest.mark.timeout(60)
def test_the_interval_stage_passes_the_calibrated_share_to_the_judgement(tmp_path):
    """A checkpoint whose calibration carries normal_bias: its intervals' normal_p is the kind
    head's share shifted by it, and the describe stage's prior then names the event, where the
    same classifier without the setting (calibrated before it existed) is judged normal."""
    stage_preset = load_preset("demo")
    clf = AnomalyClassifier(10, TINY.classifier, patch_features=7, grid=(4, 4))
    (_, score), kp = _video((6, 12), 0.55, "fighting")
    t, score, kp = T[:20], score[:20].astype(np.float32), kp[:20].astype(np.float32)
    normal_ps = []
    for name, extra in (("old", {}), ("new", {"normal_bias": -0.5})):
        cal = {"smooth_s": 0.0, "high": 0.5, "low": 0.5, "min_len_s": 0.5, "merge_gap_s": 0.5, **extra}
        save_classifier(clf, str(tmp_path / name), {"recipe": "x"}, calibration=cal)
        job = Job(preset=stage_preset, classifier_dir=str(tmp_path / name), describe=False)
        assert interval_settings(job).intervals.normal_bias == extra.get("normal_bias", 0.0)
        (iv,) = json.loads(summarize_video(_one_clip_row(t, score, kp), job)["intervals"][0])
        assert iv["label"] == "fighting"
        normal_ps.append(iv["normal_p"])
        judged, _ = choose_kind(np.zeros(len(ALLOWED_KINDS)), ALLOWED_KINDS, iv["label"], iv["label_p"], 16.0,
                                iv["normal_p"])  # fmt: skip
        assert judged == ("normal" if name == "old" else "fighting")
    assert normal_ps[0] == pytest.approx(0.55) and normal_ps[1] == pytest.approx(
        calibrated_normal_share(0.55, -0.5)
    )


@pytest.mark.timeout(60)
def test_a_calibration_value_that_is_not_a_finite_number_is_refused_naming_the_classifier(tmp_path):
    clf = AnomalyClassifier(10, TINY.classifier, patch_features=7, grid=(4, 4))
    url = str(tmp_path / "clf")
    good = {"smooth_s": 0.0, "high": 0.5, "low": 0.5, "min_len_s": 0.5, "merge_gap_s": 0.5}
    job = Job(preset=load_preset("demo"), classifier_dir=url, describe=False)
    for key, bad in (
        ("normal_bias", "strong"),
        ("normal_bias", float("nan")),
        ("high", True),
        ("low", [0.1]),
    ):
        save_classifier(clf, url, {"recipe": "x"}, calibration={**good, key: bad})
        with pytest.raises(ValueError, match=rf"classifier {url}: calibration {key} must be a finite number"):
            interval_settings(job)

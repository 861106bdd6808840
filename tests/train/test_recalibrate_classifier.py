"""Recalibrating a trained classifier (recalibrate_synthetic_classifier): on the build's own
validation videos it gives the build's calibration and test figures; on more of them only the
calibration and the baseline's settings in config.json change, the weights never."""

from __future__ import annotations

import json

import pytest

from va_gpt.train.synthetic_classifier import recalibrate_synthetic_classifier, train_synthetic_classifier

RECIPE = dict(val_videos=4, test_videos=2, duration_s=4.0, seed=3, width=160, height=120)


def _without_calibrations(config: dict) -> dict:
    features = {**config["features"], "diff_energy_calibration": None}
    return {**config, "calibration": None, "features": features}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("recal") / "clf"
    report = train_synthetic_classifier("tiny", str(out), train_videos=4, steps=2, **RECIPE)
    return out, report


@pytest.mark.timeout(120)
def test_the_build_s_own_validation_videos_give_the_build_s_calibration(built, tmp_path):
    out, report = built
    weights = (out / "model.safetensors").read_bytes()
    config = json.loads((out / "config.json").read_text())
    again = recalibrate_synthetic_classifier(str(out), "tiny", **RECIPE)
    assert again["calibration"] == report["calibration"]
    assert again["classifier"]["by_iou"] == report["classifier"]["by_iou"]
    assert again["classifier"]["frame_auc"] == report["classifier"]["frame_auc"]
    assert again["validation"]["before"] == again["validation"]["after"]
    assert (out / "model.safetensors").read_bytes() == weights
    assert json.loads((out / "config.json").read_text()) == config


@pytest.mark.timeout(120)
def test_more_validation_videos_replace_only_the_calibrations(built, tmp_path):
    out, _ = built
    copy = tmp_path / "clf"
    copy.mkdir()
    for name in ("model.safetensors", "config.json"):
        (copy / name).write_bytes((out / name).read_bytes())
    before = json.loads((copy / "config.json").read_text())
    result = recalibrate_synthetic_classifier(str(copy), "tiny", **{**RECIPE, "val_videos": 8})
    after = json.loads((copy / "config.json").read_text())
    assert (copy / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
    assert after["calibration"] == result["calibration"]
    assert set(after["calibration"]) == {
        "smooth_s", "high", "low", "min_len_s", "merge_gap_s", "low_by_kind", "normal_bias"
    }  # fmt: skip
    assert after["features"]["diff_energy_calibration"] == result["diff_energy_calibration"]
    assert _without_calibrations(after) == _without_calibrations(before)
    assert result["validation"]["videos"] == 8


def test_a_classifier_without_a_calibration_is_refused_by_name_untouched(built, tmp_path):
    out, _ = built
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    config = {k: v for k, v in json.loads((out / "config.json").read_text()).items() if k != "calibration"}
    (raw / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"raw: no calibration to replace"):
        recalibrate_synthetic_classifier(str(raw), "tiny", **RECIPE)
    assert json.loads((raw / "config.json").read_text()) == config

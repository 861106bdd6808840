"""`make models RECALIBRATE=1`: the committed classifier gains the interval settings added since
its build, calibrated on its recipe's validation videos; weights untouched, card and
model_version follow the new content; a folder whose card does not verify is refused."""

from __future__ import annotations

import json
import shutil

import pytest

from va_gpt.checkpoints.card import read_card, verify_card, write_card
from va_gpt.checkpoints.vagpt import _content_hash
from va_gpt.cli import main as vagpt
from va_gpt.train.demo_models import CHECKPOINT, MODELS
from va_gpt.train.demo_recalibrate import recalibrate_demo_models

FOLDER = MODELS / "demo"


def _small_copy(tmp_path):
    """models/demo with its card's recipe cut to 4 validation videos of 4 s (the card re-signed)."""
    out = tmp_path / "demo"
    shutil.copytree(FOLDER, out)
    card = read_card(out)
    args = card["checkpoints"]["classifier"]["recipe"]["args"]
    args.update(val_videos=4, duration_s=4.0)
    write_card(out, {k: v for k, v in card.items() if k not in ("files", "files_bytes", "card_format")})
    return out


@pytest.mark.timeout(300)
def test_recalibration_adds_low_by_kind_and_keeps_the_rest(tmp_path):
    out = _small_copy(tmp_path)
    clf = out / CHECKPOINT / "classifier"
    weights, before = (clf / "model.safetensors").read_bytes(), json.loads((clf / "config.json").read_text())
    version = read_card(out)["model_version"]
    card = recalibrate_demo_models(out, workers=1)
    after = json.loads((clf / "config.json").read_text())
    assert (clf / "model.safetensors").read_bytes() == weights
    assert isinstance(after["calibration"]["low_by_kind"], dict)
    kept = [{k: v for k, v in c["calibration"].items() if k != "low_by_kind"} for c in (after, before)]
    assert kept[0] == kept[1]  # the thresholds the build calibrated stay
    assert {k: v for k, v in after.items() if k != "calibration"} == {
        k: v for k, v in before.items() if k != "calibration"
    }
    assert verify_card(out) == []
    # the model_version names the content: it changes exactly when the config did
    meta = json.loads((out / CHECKPOINT / "checkpoint.json").read_text())
    assert (
        meta["model_version"]
        == card["model_version"]
        == f"demo-{_content_hash(out / CHECKPOINT, meta['files'])}"
    )
    assert (card["model_version"] != version) == (after != before)
    rec = card["checkpoints"]["classifier"]["recalibrated"]
    assert rec["model_version_before"] == version and set(rec["validation"]) == {"before", "after"}
    assert card["checkpoints"]["classifier"]["eval"]["calibration"] == after["calibration"]


@pytest.mark.timeout(60)
def test_a_folder_whose_card_does_not_verify_is_refused_untouched(tmp_path, capsys):
    out = tmp_path / "demo"
    shutil.copytree(FOLDER, out)
    config = out / CHECKPOINT / "classifier" / "config.json"
    config.write_text(config.read_text() + " ")
    with pytest.raises(ValueError, match="card does not verify, nothing recalibrated"):
        recalibrate_demo_models(out, workers=1)
    assert config.read_text().endswith(" ")
    assert vagpt(["demo", "--recalibrate"]) == 2
    assert "--recalibrate needs --build-models" in capsys.readouterr().err

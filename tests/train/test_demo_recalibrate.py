"""`make models RECALIBRATE=1`: the committed classifier's interval settings calibrated again on
the code's recipe's count of validation videos; weights untouched, the card's recipe, test
figures and model_version follow the new content; a folder whose card does not verify is refused."""

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
    """models/demo with its card's recipe cut to 4 validation and 2 test videos of 4 s (the card re-signed)."""
    out = tmp_path / "demo"
    shutil.copytree(FOLDER, out)
    card = read_card(out)
    args = card["checkpoints"]["classifier"]["recipe"]["args"]
    args.update(val_videos=4, test_videos=2, duration_s=4.0)
    write_card(out, {k: v for k, v in card.items() if k not in ("files", "files_bytes", "card_format")})
    return out


@pytest.mark.timeout(300)
def test_recalibration_replaces_the_calibration_and_the_card_s_figures(tmp_path):
    out = _small_copy(tmp_path)
    clf = out / CHECKPOINT / "classifier"
    weights, before = (clf / "model.safetensors").read_bytes(), json.loads((clf / "config.json").read_text())
    version = read_card(out)["model_version"]
    card = recalibrate_demo_models(out, workers=1, val_videos=6)
    after = json.loads((clf / "config.json").read_text())
    assert (clf / "model.safetensors").read_bytes() == weights
    assert set(after["calibration"]) >= {"high", "low", "smooth_s", "low_by_kind", "normal_bias"}
    assert {k: v for k, v in after.items() if k not in ("calibration", "features")} == {
        k: v for k, v in before.items() if k not in ("calibration", "features")
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
    part = card["checkpoints"]["classifier"]
    rec = part["recalibrated"]
    assert rec["model_version_before"] == version and set(rec["validation"]) == {"videos", "before", "after"}
    assert rec["before"]["val_videos"] == 4 and rec["before"]["calibration"] == before["calibration"]
    assert part["recipe"]["args"]["val_videos"] == 6 == part["data"]["videos"]["val"]
    assert part["eval"]["calibration"] == after["calibration"]
    assert part["eval"]["classifier"]["by_iou"]  # the test videos measured with the new settings
    assert "### Recalibrated" in (out / "MODEL_CARD.md").read_text()


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

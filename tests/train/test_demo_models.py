"""The committed demo checkpoint (models/demo, `make models`): its card's hashes and recipe hold,
it loads, it fits in 25 MB, and `make run` would use it (or says in one line why not)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import yaml

from va_gpt.checkpoints.card import CARD_JSON, read_card, verify_card, write_card
from va_gpt.checkpoints.classifier import load_classifier
from va_gpt.checkpoints.vagpt import load_checkpoint
from va_gpt.config import load_preset
from va_gpt.train.demo import train_demo, train_synthetic_classifier
from va_gpt.train.demo_models import (
    CHECKPOINT,
    CLASSIFIER_RECIPE,
    ENCODER,
    ENCODER_RECIPE,
    MODELS,
    THREADS,
    VAGPT_RECIPE,
    _defaults,
    _finish_stage,
    _finished_stage,
    _reused_classifier,
    _reused_encoder,
    committed_models,
    same_recipe,
)

FOLDER = MODELS / "demo"
REBUILD = "rebuild it with `make models` and commit models/demo"


@pytest.fixture(scope="module")
def card():
    found = read_card(FOLDER)
    assert found is not None, f"{FOLDER}/{CARD_JSON} missing: {REBUILD}"
    return found


def test_card_hashes_match_the_files(card):
    assert verify_card(FOLDER) == [], REBUILD
    assert card["files"], "the card lists no files"


def test_card_recipe_is_the_code_s_recipe(card):
    assert "make models" in card["command"] and "--build-models models/demo" in card["command"]
    parts = card["checkpoints"]
    cls, vag = parts["classifier"]["recipe"], parts["vagpt"]["recipe"]
    ours_cls = _defaults(train_synthetic_classifier, preset_name="demo", **CLASSIFIER_RECIPE)
    ours_vag = _defaults(train_demo, preset_name="demo", threads=THREADS, **VAGPT_RECIPE)
    assert same_recipe(cls["args"], json.loads(json.dumps(ours_cls))), REBUILD
    assert vag["args"] == json.loads(json.dumps(ours_vag)), REBUILD
    assert cls["seeds"]["videos_and_training"] == CLASSIFIER_RECIPE["seed"]
    assert vag["seeds"]["stage0_stage1"] == VAGPT_RECIPE["seed"] and "encoder" in vag["seeds"]
    # the trained encoder the preset points at, with its recipe
    assert load_preset("demo").encoder.source == f"models/demo/{ENCODER}"  # the checkpoint's own encoder/
    assert parts["encoder"]["path"] == ENCODER
    assert parts["encoder"]["recipe"]["args"] == json.loads(json.dumps(asdict(ENCODER_RECIPE))), REBUILD
    assert parts["encoder"]["eval"]["final_loss"] < parts["encoder"]["eval"]["first_loss"]
    for part in parts.values():
        assert part["training_seconds"] > 0 and part["eval"] and part["data"]
    assert 0.5 < parts["classifier"]["eval"]["classifier"]["frame_auc"] <= 1.0
    assert card["built"]["git_commit"] and card["built"]["torch_threads"] == THREADS


def test_at_most_25_mb_of_float16_weights():
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size <= 25_000_000, f"models/demo is {size / 1e6:.1f} MB"
    for weights in (
        FOLDER / CHECKPOINT / "llm" / "model.safetensors",
        FOLDER / ENCODER / "model.safetensors",
    ):
        header = weights.read_bytes()[:4096]
        assert b'"F16"' in header and b'"F32"' not in header, weights


@pytest.mark.timeout(120)
def test_loads_as_the_preset_dtype_and_make_run_uses_it():
    ck = load_checkpoint(str(FOLDER / CHECKPOINT))
    assert {p.dtype for p in ck.model.parameters()} == {torch.float32}
    assert ck.preset.name == "demo"
    model, config = load_classifier(str(FOLDER / CHECKPOINT))
    assert config["calibration"] and model.in_features == config["in_features"]
    assert committed_models(load_preset("demo")) == str(FOLDER / CHECKPOINT), (
        f"make run would not use models/demo (see the line above): {REBUILD}"
    )


def test_a_changed_file_is_refused_in_one_line(tmp_path, capsys):
    shutil.copytree(FOLDER, tmp_path / "demo")
    with open(tmp_path / "demo" / CHECKPOINT / "preset.yaml", "a") as f:
        f.write("\n# edited\n")
    assert committed_models(load_preset("demo"), root=tmp_path) is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "preset.yaml: sha256 differs" in out[0] and "training the demo models" in out[0]
    (tmp_path / "demo" / "extra.bin").write_bytes(b"x")
    (tmp_path / "demo" / CHECKPOINT / "projector.safetensors").unlink()
    problems = verify_card(tmp_path / "demo")
    assert any("projector.safetensors: missing" in p for p in problems)
    assert any("extra.bin: not on card.json" in p for p in problems)


def test_frame_preparation_a_build_recorded_is_compared_and_one_it_predates_is_served(tmp_path, capsys):
    """The committed build records the frame preparation it was trained with and is served with
    it; a build that recorded other values is refused, naming the section; one whose preset
    predates the keys is served with the preset's values."""
    built = yaml.safe_load((FOLDER / CHECKPOINT / "preset.yaml").read_text())
    ours = load_preset("demo").sets
    assert (built["sets"]["stabilise"], built["sets"]["min_brightness"]) == (
        ours.stabilise,
        ours.min_brightness,
    )
    for name, sets in (
        ("other", {**built["sets"], "stabilise": False}),
        ("older", {k: v for k, v in built["sets"].items() if k not in ("stabilise", "min_brightness")}),
    ):
        shutil.copytree(FOLDER, tmp_path / name / "demo")
        path = tmp_path / name / "demo" / CHECKPOINT / "preset.yaml"
        path.write_text(yaml.safe_dump({**built, "sets": sets}))
        write_card(tmp_path / name / "demo", {k: v for k, v in read_card(FOLDER).items() if k != "files"})
        assert verify_card(tmp_path / name / "demo") == []
    assert committed_models(load_preset("demo"), root=tmp_path / "other") is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "built for preset sets" in out[0] and "'stabilise': False" in out[0]
    assert committed_models(load_preset("demo"), root=tmp_path / "older") == str(
        tmp_path / "older" / "demo" / CHECKPOINT
    )


def test_classifier_views_are_a_serving_key_like_the_frame_preparation(tmp_path, capsys):
    """A build that predates classifier.views is served with a preset's views. A build that
    recorded its views (the committed one: null, one view; its VA-GPT trained on those scores)
    refuses a preset with others, naming the section."""
    built = yaml.safe_load((FOLDER / CHECKPOINT / "preset.yaml").read_text())
    assert built["classifier"]["views"] is None
    demo = load_preset("demo")
    fine = dataclasses.replace(demo, classifier=dataclasses.replace(demo.classifier, views=(224, 448)))
    assert committed_models(demo) == str(FOLDER / CHECKPOINT)
    assert committed_models(fine) is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "built for preset classifier" in out[0] and "'views': None" in out[0]
    older = {k: v for k, v in built["classifier"].items() if k != "views"}
    _copy_with_classifier(tmp_path / "older", built, older)
    assert committed_models(fine, root=tmp_path / "older") == str(tmp_path / "older" / "demo" / CHECKPOINT)


def test_a_build_before_pixel_maps_reads_as_built_without_them(tmp_path, capsys):
    """classifier.pixel_maps changes what the classifier reads: a build whose preset predates the
    key was trained without pixel maps, so the demo preset (pixel maps on) does not take it and
    make run says why in one line."""
    built = yaml.safe_load((FOLDER / CHECKPOINT / "preset.yaml").read_text())
    assert built["classifier"]["pixel_maps"] is True
    older = {k: v for k, v in built["classifier"].items() if k != "pixel_maps"}
    _copy_with_classifier(tmp_path, built, older)
    demo = load_preset("demo")
    assert demo.classifier.pixel_maps
    assert committed_models(demo, root=tmp_path) is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "built for preset classifier" in out[0] and "'pixel_maps': True" in out[0]


@pytest.mark.parametrize("key, recorded", [("match_gain", False), ("background_samples", 5)])
def test_a_newer_sets_key_is_served_to_a_build_that_predates_it_and_compared_when_recorded(
    tmp_path, capsys, key, recorded
):
    """sets.match_gain and sets.background_samples came after some builds: a build without the
    key is served with the demo preset's value of it; a build that recorded another value is
    refused, naming the section and the key."""
    built = yaml.safe_load((FOLDER / CHECKPOINT / "preset.yaml").read_text())
    demo = load_preset("demo")
    assert getattr(demo.sets, key) != recorded
    assert committed_models(demo) == str(FOLDER / CHECKPOINT)
    for name, sets in [
        ("older", {k: v for k, v in built["sets"].items() if k != key}),
        ("other", {**built["sets"], key: recorded}),
    ]:
        shutil.copytree(FOLDER, tmp_path / name / "demo")
        path = tmp_path / name / "demo" / CHECKPOINT / "preset.yaml"
        path.write_text(yaml.safe_dump({**built, "sets": sets}))
        write_card(tmp_path / name / "demo", {k: v for k, v in read_card(FOLDER).items() if k != "files"})
    assert committed_models(demo, root=tmp_path / "older") == str(tmp_path / "older" / "demo" / CHECKPOINT)
    assert committed_models(demo, root=tmp_path / "other") is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "built for preset sets" in out[0] and f"'{key}': {recorded}" in out[0]


def _copy_with_classifier(root: Path, built: dict, classifier: dict) -> None:
    """The committed models under root/demo with their preset's classifier section replaced."""
    shutil.copytree(FOLDER, root / "demo")
    path = root / "demo" / CHECKPOINT / "preset.yaml"
    path.write_text(yaml.safe_dump({**built, "classifier": classifier}))
    write_card(root / "demo", {k: v for k, v in read_card(FOLDER).items() if k != "files"})


def test_a_classifier_on_other_features_is_refused_in_one_line(tmp_path, capsys):
    """What happens when the visual stage's features change after the checkpoint was built."""
    shutil.copytree(FOLDER, tmp_path / "demo")
    config_path = tmp_path / "demo" / CHECKPOINT / "classifier" / "config.json"
    config = json.loads(config_path.read_text())
    config["features"]["recipe"] = "an older feature recipe"
    config_path.write_text(json.dumps(config))
    write_card(tmp_path / "demo", {k: v for k, v in read_card(FOLDER).items() if k != "files"})
    assert verify_card(tmp_path / "demo") == []
    assert committed_models(load_preset("demo"), root=tmp_path) is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "'an older feature recipe'" in out[0] and "training the demo models" in out[0]


def test_reuse_encoder_copies_the_built_encoder_or_says_why_not(tmp_path):
    """`make models --reuse-encoder`'s first step: the committed encoder, byte for byte, with its card
    section naming the build that trained it; a changed file or another recipe is refused."""
    shutil.copytree(FOLDER, tmp_path / "demo")
    part = _reused_encoder(tmp_path / "demo", tmp_path / "enc")
    for f in (FOLDER / ENCODER).iterdir():
        assert (tmp_path / "enc" / f.name).read_bytes() == f.read_bytes()
    card = read_card(FOLDER)
    first = card["checkpoints"]["encoder"].get("reused_from") or {"git_commit": card["built"]["git_commit"]}
    assert part["reused_from"]["git_commit"] == first["git_commit"]
    assert part["recipe"] == card["checkpoints"]["encoder"]["recipe"]

    other = {k: v for k, v in card.items() if k != "files"}
    other["checkpoints"]["encoder"]["recipe"]["args"]["steps"] += 1
    write_card(tmp_path / "demo", other)
    with pytest.raises(ValueError, match="trained with another recipe"):
        _reused_encoder(tmp_path / "demo", tmp_path / "enc2")
    (tmp_path / "demo" / ENCODER / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="config.json: sha256 differs"):
        _reused_encoder(tmp_path / "demo", tmp_path / "enc3")
    assert not (tmp_path / "enc2").exists() and not (tmp_path / "enc3").exists()


def test_reuse_classifier_copies_the_bundled_classifier_or_says_why_not(tmp_path):
    """`make models REUSE_CLASSIFIER=1`: the bundled classifier, byte for byte, with its card section
    naming the build that trained it; another recipe or another preset classifier section is refused."""
    shutil.copytree(FOLDER, tmp_path / "demo")
    preset = load_preset("demo")
    part = _reused_classifier(tmp_path / "demo", preset, tmp_path / "clf")
    for f in (FOLDER / CHECKPOINT / "classifier").iterdir():
        assert (tmp_path / "clf" / f.name).read_bytes() == f.read_bytes()
    card = read_card(FOLDER)
    first = card["checkpoints"]["classifier"].get("reused_from") or {
        "git_commit": card["built"]["git_commit"]
    }
    assert part["reused_from"]["git_commit"] == first["git_commit"]
    assert part["eval"] == card["checkpoints"]["classifier"]["eval"]

    wider = dataclasses.replace(preset, classifier=dataclasses.replace(preset.classifier, hidden_size=128))
    with pytest.raises(ValueError, match="classifier section .* is not preset demo's"):
        _reused_classifier(tmp_path / "demo", wider, tmp_path / "clf2")
    other = {k: v for k, v in card.items() if k != "files"}
    other["checkpoints"]["classifier"]["recipe"]["args"]["steps"] += 1
    write_card(tmp_path / "demo", other)
    with pytest.raises(ValueError, match="trained with another recipe"):
        _reused_classifier(tmp_path / "demo", preset, tmp_path / "clf3")
    assert not (tmp_path / "clf2").exists() and not (tmp_path / "clf3").exists()


def test_a_finished_classifier_stage_is_taken_again_only_when_nothing_it_depends_on_changed(tmp_path):
    """A kept work folder (`vagpt demo --build-models` keeps WORK/models-build/<preset>): the
    classifier stage's mark gives its card section back for the same recipe, preset section and
    encoder; another of any of them, a changed or missing file, an unmarked (cut-off) stage or a
    broken mark make it train again."""
    shutil.copytree(FOLDER / CHECKPOINT / "classifier", tmp_path / "classifier")
    key = {
        "recipe": {"steps": 2400, "event_start": (0.05, 0.7)},
        "classifier": {"members": 3},
        "encoder": "e",
    }
    part = {"path": "vagpt/classifier", "eval": {"frame_auc": 0.9}}
    assert _finished_stage(tmp_path, "classifier", key) is None  # cut off before its mark
    _finish_stage(tmp_path, "classifier", key, part)
    assert _finished_stage(tmp_path, "classifier", key) == part
    assert not list(tmp_path.glob("*.tmp"))
    for other in (
        {**key, "recipe": {**key["recipe"], "steps": 1200}},
        {**key, "classifier": {"members": 4}},
        {**key, "encoder": "f"},
    ):
        assert _finished_stage(tmp_path, "classifier", other) is None
    config = tmp_path / "classifier" / "config.json"
    config.write_text(config.read_text() + " ")
    assert _finished_stage(tmp_path, "classifier", key) is None
    _finish_stage(tmp_path, "classifier", key, part)
    next(p for p in (tmp_path / "classifier").iterdir() if p.name != "config.json").unlink()
    assert _finished_stage(tmp_path, "classifier", key) is None
    (tmp_path / "classifier.stage.json").write_text('{"key": ')
    assert _finished_stage(tmp_path, "classifier", key) is None


def test_a_recipe_option_added_after_a_build_is_the_same_recipe_only_when_off():
    card = {"steps": 2400, "ema": 0.995}
    assert same_recipe(card, {"steps": 2400, "ema": 0.995, "patch_dropout": 0.0})
    assert not same_recipe(card, {"steps": 2400, "ema": 0.995, "patch_dropout": 0.5})
    assert not same_recipe(card, {"steps": 1200, "ema": 0.995})
    assert not same_recipe({**card, "tail": False}, {"steps": 2400, "ema": 0.995})

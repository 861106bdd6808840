"""The project-trained encoder (va_gpt/train/encoder.py): labels from the synthetic truth, training
that learns, and a Hugging Face Dinov2 folder that the preset's loading code takes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml

from va_gpt.checkpoints.build import build_encoder
from va_gpt.checkpoints.fetch import REPO_ROOT, local_model_dir
from va_gpt.config import load_preset, to_dict
from va_gpt.models.classifier import KINDS
from va_gpt.models.dinov2 import DinoEncoder
from va_gpt.synthetic.scene import make_scene
from va_gpt.synthetic.training import NORMAL_ACTOR, patch_labels
from va_gpt.train.demo_models import build_demo_models
from va_gpt.train.encoder import EncoderRecipe, build_demo_encoder, train_encoder

GRID = (16, 16)


def _event_frame(scene):
    on = np.flatnonzero(scene.frame_labels())
    return int(on[len(on) // 2])


@pytest.mark.parametrize("kind", ["falling", "explosion"])
def test_patch_labels_mark_the_event_actor_with_its_kind_only_while_the_event_is_on(kind):
    scene = make_scene(3, kind, duration_s=12.0, width=320, height=240, fps=10.0)
    i = _event_frame(scene)
    during = patch_labels(scene, i, True, GRID)
    assert (during == 1 + KINDS.index(kind)).any(), "the event's actor is not labelled with its kind"
    assert set(np.unique(during)) <= {0, NORMAL_ACTOR, 1 + KINDS.index(kind)}
    # the same frame outside an event: every actor is just an actor
    assert set(np.unique(patch_labels(scene, i, False, GRID))) <= {0, NORMAL_ACTOR}
    normal = make_scene(3, None, duration_s=12.0, width=320, height=240, fps=10.0)
    assert set(np.unique(patch_labels(normal, i, True, GRID))) <= {0, NORMAL_ACTOR}


def _tiny_encoder():
    cfg = dataclasses.replace(load_preset("tiny").encoder, source=None)
    return cfg, DinoEncoder.random(cfg)


@pytest.mark.timeout(120)
def test_training_learns_the_patch_classes():
    """A few labelled frames: the per-patch loss falls well below where it starts."""
    cfg, enc = _tiny_encoder()
    g = cfg.image_size // cfg.patch_size
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 40, (6, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    labels = np.zeros((6, g, g), np.int8)
    for k in range(6):  # a bright square: the "event actor" of one kind, a grey one: a normal actor
        y, x = rng.integers(0, g - 1, 2)
        frames[
            k, y * cfg.patch_size : (y + 1) * cfg.patch_size, x * cfg.patch_size : (x + 1) * cfg.patch_size
        ] = 250
        labels[k, y, x] = 2
    recipe = EncoderRecipe(videos=0, steps=60, batch=8, crop=min(4, g), lr=1e-3, head_lr=1e-2)
    report = train_encoder(enc, frames, labels, recipe, log_every=0)
    assert report["final_loss"] < 0.6 * report["first_loss"], report
    assert report["patches_per_class"][2] == 6


def test_training_refuses_mismatched_data():
    _, enc = _tiny_encoder()
    with pytest.raises(ValueError, match="frames and labels"):
        train_encoder(enc, np.zeros((2, 28, 28, 3), np.uint8), np.zeros((1, 2, 2), np.int8), EncoderRecipe())


@pytest.mark.timeout(180)
def test_saved_encoder_loads_through_the_preset_as_the_same_weights(tmp_path):
    """The saved folder is a Hugging Face Dinov2 folder: `encoder.source` takes it (as it takes real
    DINOv2 weights), in float16 on disk, read back as the runtime dtype."""
    preset = load_preset("tiny")
    recipe = EncoderRecipe(videos=2, duration_s=4.0, steps=2, batch=2, crop=2)
    build_demo_encoder(preset, tmp_path / "encoder", recipe)
    assert (tmp_path / "encoder" / "config.json").is_file()
    loaded = build_encoder(dataclasses.replace(preset.encoder, source=str(tmp_path / "encoder")))
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    frames = np.random.default_rng(1).integers(
        0, 255, (2, preset.encoder.image_size, preset.encoder.image_size, 3), dtype=np.uint8
    )
    again = build_encoder(dataclasses.replace(preset.encoder, source=str(tmp_path / "encoder")))
    assert torch.equal(loaded.encode_frames(frames).patches, again.encode_frames(frames).patches)
    random = DinoEncoder.random(preset.encoder)
    assert not torch.allclose(
        loaded.encode_frames(frames).patches, random.encode_frames(frames).patches, atol=1e-3
    )


def test_a_relative_model_path_is_found_under_the_repository_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository
    assert local_model_dir("models/demo/vagpt/encoder") == str(REPO_ROOT / "models/demo/vagpt/encoder")
    # an image or a deployment points VAGPT_HOME at its own copy of models/
    (tmp_path / "home" / "models" / "x").mkdir(parents=True)
    monkeypatch.setenv("VAGPT_HOME", str(tmp_path / "home"))
    assert local_model_dir("models/x") == str(tmp_path / "home" / "models" / "x")


def test_build_refuses_a_folder_the_preset_s_encoder_does_not_point_at(tmp_path):
    data = to_dict(load_preset("demo"))
    data["encoder"]["source"] = str(tmp_path / "elsewhere" / "encoder")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="encoder.source .*elsewhere.* is not .*out/vagpt/encoder"):
        build_demo_models(tmp_path / "out", str(tmp_path / "demo.yaml"))
    assert not (tmp_path / "out").exists()

"""Checkpoints: round trip through the real S3 store, clear errors on broken folders, model dirs."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from va_gpt.checkpoints.load import (
    CheckpointError,
    from_pretrained_clear,
    load_checkpoint,
    load_classifier_state,
    local_model_dir,
    save_checkpoint,
)
from va_gpt.config import load_preset
from va_gpt.models.vagpt import Sample, from_preset

PRESET = load_preset("tiny")
S = PRESET.encoder.image_size


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAGPT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def model():
    return from_preset(PRESET, seed=3).eval()


def sample(answer=None):
    rng = np.random.default_rng(0)
    return Sample(
        frames=rng.integers(0, 256, (3, S, S, 3), dtype=np.uint8),
        t=np.array([4.0, 4.5, 5.0]),
        question="What happens?",
        scores=np.array([0.1, 0.7, 0.9]),
        answer=answer,
    )


@pytest.mark.timeout(120)
def test_round_trip_through_s3_gives_identical_outputs(model, s3_store):
    url = s3_store.url("test_load/ckpt")
    so = s3_store.storage_options()
    # the classifier is stored generically (state dict + JSON config): any module will do
    clf = torch.nn.Sequential(torch.nn.Linear(40, 16), torch.nn.GELU(), torch.nn.Linear(16, 1))
    clf.register_buffer("feature_mean", torch.randn(40))
    clf_cfg = {"in_features": 40, "classifier": dataclasses.asdict(PRESET.classifier)}
    version = save_checkpoint(model, url, so, classifier=clf, classifier_config=clf_cfg, overwrite=True)
    assert version.startswith("tiny-")
    fs = s3_store.filesystem()
    names = {p.split("test_load/ckpt/")[1] for p in fs.find(url)}
    assert {"checkpoint.json", "preset.yaml", "projector.safetensors", "classifier.safetensors"} <= names
    assert {"llm/config.json", "llm/model.safetensors", "encoder/model.safetensors"} <= names

    ck = load_checkpoint(url, so, device="cpu")
    assert ck.model_version == version and ck.preset == PRESET
    loaded = ck.model
    with torch.no_grad():
        a = model([sample("a fight")])
        b = loaded([sample("a fight")])
    assert torch.equal(a.batch.token_ids, b.batch.token_ids)
    assert torch.equal(a.logits, b.logits)
    assert torch.equal(a.loss, b.loss)
    assert model.generate_batch([sample()], 5) == loaded.generate_batch([sample()], 5)

    # the classifier comes back as a state dict + config, rebuildable by its owner
    assert ck.classifier_config == clf_cfg
    clf2 = torch.nn.Sequential(torch.nn.Linear(40, 16), torch.nn.GELU(), torch.nn.Linear(16, 1))
    clf2.register_buffer("feature_mean", torch.zeros(40))
    clf2.load_state_dict(ck.classifier_state)
    for k, v in clf.state_dict().items():
        assert torch.equal(v, clf2.state_dict()[k]), k
    state, cfg = load_classifier_state(url, so)
    assert cfg == clf_cfg and state.keys() == clf.state_dict().keys()

    # fetched once: a second load reuses the cached folder
    assert load_checkpoint(url, so).local_dir == ck.local_dir
    with pytest.raises(CheckpointError, match="already holds files"):
        save_checkpoint(model, url, so)


@pytest.mark.timeout(120)
def test_missing_file_is_named(model, s3_store, tmp_path):
    url = s3_store.url("test_load/missing")
    so = s3_store.storage_options()
    save_checkpoint(model, url, so, overwrite=True)
    fs = s3_store.filesystem()
    fs.rm(f"{url}/projector.safetensors")
    with pytest.raises(CheckpointError, match=r"test_load/missing: missing file projector.safetensors"):
        load_checkpoint(url, so)

    local = tmp_path / "ckpt"
    save_checkpoint(model, str(local))
    os.remove(local / "llm" / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"missing file llm/model.safetensors"):
        load_checkpoint(str(local))
    os.remove(local / "checkpoint.json")
    with pytest.raises(CheckpointError, match=r"missing checkpoint.json"):
        load_checkpoint(str(local))
    with pytest.raises(CheckpointError, match="no such folder"):
        load_checkpoint(str(tmp_path / "nothing-here"))


@pytest.mark.timeout(120)
def test_mismatched_shape_names_tensor_file_and_shapes(model, tmp_path):
    local = tmp_path / "ckpt"
    save_checkpoint(model, f"file://{local}")
    proj = local / "projector.safetensors"
    state = load_file(proj)
    good = dict(state)
    state["0.weight"] = torch.zeros(7, 5)
    save_file(state, proj)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(str(local))
    msg = str(e.value)
    assert "'0.weight'" in msg and "projector.safetensors" in msg
    assert "[7, 5]" in msg and str(list(good["0.weight"].shape)) in msg
    assert "Traceback" not in msg
    save_file(good, proj)

    llm_file = local / "llm" / "model.safetensors"
    llm_state = load_file(llm_file)
    name = "model.layers.1.mlp.up_proj.weight"
    shape = list(llm_state[name].shape)
    llm_state[name] = torch.zeros(shape[0] + 1, shape[1])
    save_file(llm_state, llm_file, metadata={"format": "pt"})
    with pytest.raises(
        CheckpointError,
        match=rf"'{name}' in model.safetensors has shape \[{shape[0] + 1}, {shape[1]}\], the model expects \[{shape[0]}, {shape[1]}\]",
    ):
        load_checkpoint(str(local))


@pytest.mark.timeout(120)
def test_local_model_dir_resolves_folders_urls_and_hub_ids(model, s3_store, tmp_path):
    folder = tmp_path / "enc"
    model.vision.model.save_pretrained(folder)
    assert local_model_dir(str(folder)) == str(folder)
    assert local_model_dir(f"file://{folder}") == str(folder)
    fs = s3_store.filesystem()
    url = s3_store.url("test_load/encoder")
    for name in os.listdir(folder):
        fs.put_file(str(folder / name), f"{url}/{name}")
    fetched = local_model_dir(url, s3_store.storage_options())
    assert fetched != str(folder) and sorted(os.listdir(fetched)) == sorted(os.listdir(folder))
    assert local_model_dir(url, s3_store.storage_options()) == fetched  # cached
    from transformers import Dinov2Model

    enc = Dinov2Model.from_pretrained(fetched)
    for k, v in model.vision.model.state_dict().items():
        assert torch.equal(v, enc.state_dict()[k]), k
    assert local_model_dir("facebook/dinov2-base") == "facebook/dinov2-base"
    with pytest.raises(CheckpointError, match="no such local model folder"):
        local_model_dir(str(tmp_path / "absent"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match=r"LLM: cannot load from folder .*empty"):
        from_pretrained_clear(Dinov2Model, str(empty), "LLM")


@pytest.mark.timeout(30)
def test_checkpoint_meta_lists_every_file(model, tmp_path):
    save_checkpoint(model, str(tmp_path / "c"), model_version="v-test")
    meta = json.loads((tmp_path / "c" / "checkpoint.json").read_text())
    on_disk = sorted(str(p.relative_to(tmp_path / "c")) for p in (tmp_path / "c").rglob("*") if p.is_file())
    assert meta["model_version"] == "v-test"
    assert sorted([*meta["files"], "checkpoint.json"]) == on_disk


def test_make_run_finds_a_demo_vagpt_only_when_its_save_finished(model, tmp_path):
    """`make run` turns summaries on when WORK/models/<preset>/vagpt holds a complete checkpoint."""
    from va_gpt.demo import has_checkpoint

    folder = tmp_path / "models" / "demo" / "vagpt"
    assert not has_checkpoint(folder)
    save_checkpoint(model, str(folder))
    assert has_checkpoint(folder)
    (folder / "checkpoint.json").unlink()  # a save cut off before its commit marker
    assert not has_checkpoint(folder)

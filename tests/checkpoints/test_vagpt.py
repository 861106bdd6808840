"""VA-GPT checkpoints: round trip through the real S3 store, clear errors on broken folders."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from va_gpt.checkpoints.classifier import checkpoint_config, has_classifier, load_classifier
from va_gpt.checkpoints.fetch import CheckpointError
from va_gpt.checkpoints.vagpt import load_checkpoint, save_checkpoint
from va_gpt.config import load_preset
from va_gpt.demo import has_checkpoint
from va_gpt.models.classifier import AnomalyClassifier
from va_gpt.models.vagpt import Sample

PRESET = load_preset("tiny")
S = PRESET.encoder.image_size


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
    # the classifier is bundled as its own checkpoint folder (checkpoints/classifier.py)
    clf = AnomalyClassifier(40, PRESET.classifier, patch_features=7, grid=(4, 4)).eval()
    clf.fit_normalisation(torch.randn(30, 40))
    clf_cfg = checkpoint_config(clf, {"top_k": PRESET.sets.top_k})
    version = save_checkpoint(model, url, so, classifier=clf, classifier_config=clf_cfg, overwrite=True)
    assert version.startswith("tiny-")
    fs = s3_store.filesystem()
    names = {p.split("test_load/ckpt/")[1] for p in fs.find(url)}
    assert {"checkpoint.json", "preset.yaml", "projector.safetensors", "classifier/config.json"} <= names
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

    # the bundled classifier loads from the checkpoint's URL
    assert has_classifier(url, so)
    clf2, cfg = load_classifier(url, so)
    assert cfg == clf_cfg
    for k, v in clf.state_dict().items():
        assert torch.equal(v, clf2.state_dict()[k]), k

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


@pytest.mark.timeout(30)
def test_checkpoint_meta_lists_every_file(model, tmp_path):
    save_checkpoint(model, str(tmp_path / "c"), model_version="v-test")
    meta = json.loads((tmp_path / "c" / "checkpoint.json").read_text())
    on_disk = sorted(str(p.relative_to(tmp_path / "c")) for p in (tmp_path / "c").rglob("*") if p.is_file())
    assert meta["model_version"] == "v-test"
    assert sorted([*meta["files"], "checkpoint.json"]) == on_disk


@pytest.mark.timeout(60)
def test_the_sentences_the_llm_was_trained_to_write_travel_with_the_checkpoint(model, tmp_path, monkeypatch):
    assert load_checkpoint(_saved(model, tmp_path / "plain")).model.answers is None  # a freely writing LLM
    bank = {"description": ["two people fight each other"], "analysis": ["violence is dangerous"]}
    monkeypatch.setattr(model, "answers", bank)
    url = _saved(model, tmp_path / "held")
    assert load_checkpoint(url).model.answers == bank
    (tmp_path / "held" / "answers.json").write_text('{"description": ["ok"], "analysis": [""]}')
    with pytest.raises(CheckpointError, match=r"held/answers.json: expected \{field: \[non-empty sentence"):
        load_checkpoint(url)
    (tmp_path / "held" / "answers.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="held/answers.json: not valid JSON"):
        load_checkpoint(url)


def _saved(model, folder) -> str:
    save_checkpoint(model, str(folder))
    return str(folder)


def test_make_run_finds_a_demo_vagpt_only_when_its_save_finished(model, tmp_path):
    """`make run` turns summaries on when WORK/models/<preset>/vagpt holds a complete checkpoint."""
    folder = tmp_path / "models" / "demo" / "vagpt"
    assert not has_checkpoint(folder)
    save_checkpoint(model, str(folder))
    assert has_checkpoint(folder)
    (folder / "checkpoint.json").unlink()  # a save cut off before its commit marker
    assert not has_checkpoint(folder)

"""The classifier checkpoint: one folder format, saved and loaded locally, through S3, and bundled
in a VA-GPT checkpoint; errors name the file and the tensor."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from va_gpt.checkpoints.classifier import (
    checkpoint_config,
    checkpoint_state,
    classifier_parts,
    has_classifier,
    load_classifier,
    save_classifier,
)
from va_gpt.checkpoints.fetch import CheckpointError
from va_gpt.config import ClassifierConfig
from va_gpt.models.classifier import AnomalyClassifier

CFG = ClassifierConfig(hidden_size=16, num_layers=2, kernel_size=3, dropout=0.0, use_cls=False)


def model(in_features=6, cfg=CFG, seed=0):
    torch.manual_seed(seed)
    return AnomalyClassifier(in_features, cfg).eval()


@pytest.mark.timeout(60)
def test_checkpoint_roundtrip_local(tmp_path):
    m = model()
    m.fit_normalisation(torch.randn(50, 6) * 3 + 1)
    url = str(tmp_path / "ckpt")
    save_classifier(m, url, features={"top_k": 0.25, "reference": "previous"})
    assert sorted(os.listdir(url)) == ["config.json", "model.safetensors"]
    loaded, config = load_classifier(url)
    assert config["in_features"] == 6 and config["features"]["reference"] == "previous"
    x = torch.randn(2, 9, 6)
    torch.testing.assert_close(loaded(x), m(x))
    assert not loaded.training


@pytest.mark.timeout(60)
def test_a_patch_classifier_roundtrips_with_its_patch_pooling(tmp_path):
    """A classifier that reads per-patch evidence saves its patch width, grid and the pooling's
    standardisation, and loads to the same scores."""
    cfg = ClassifierConfig(
        hidden_size=16,
        num_layers=2,
        kernel_size=3,
        dropout=0.0,
        use_cls=False,
        patch_hidden=8,
        patch_layers=2,
        patch_spatial=True,
    )
    torch.manual_seed(0)
    m = AnomalyClassifier(6, cfg, patch_features=5, grid=(2, 3)).eval()
    m.fit_normalisation(torch.randn(50, 6), torch.randn(300, 5) * 2 + 3)
    url = str(tmp_path / "ckpt")
    save_classifier(m, url)
    loaded, config = load_classifier(url)
    assert (
        config["patch_features"] == 5
        and config["grid"] == [2, 3]
        and config["classifier"]["patch_layers"] == 2
        and config["classifier"]["patch_spatial"]
    )
    assert loaded.receptive_field == m.receptive_field
    x, px = torch.randn(2, 9, 6), torch.randn(2, 9, 6, 5)
    torch.testing.assert_close(loaded(x, px), m(x, px))
    torch.testing.assert_close(loaded.patch.feature_std, m.patch.feature_std)
    del config["grid"]
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config.json: a patch classifier .* needs patch_features and grid"):
        load_classifier(url)


@pytest.mark.timeout(120)
def test_checkpoint_roundtrip_object_store(s3_store):
    m = model()
    url = s3_store.url("test_classifier/ckpt")
    save_classifier(m, url, storage_options=s3_store.storage_options())
    loaded, _ = load_classifier(url, storage_options=s3_store.storage_options())
    x = torch.randn(1, 9, 6)
    torch.testing.assert_close(loaded(x), m(x))


@pytest.mark.timeout(60)
def test_checkpoint_errors_name_file_and_tensor(tmp_path):
    url = str(tmp_path / "ckpt")
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_classifier(url)
    save_classifier(model(), url)
    os.remove(tmp_path / "ckpt" / "model.safetensors")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_classifier(url)
    # A weights file that is not safetensors (cut short, overwritten) is named, not a Rust error.
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(CheckpointError, match=r"ckpt/model.safetensors: not a readable safetensors file"):
        load_classifier(url)
    # Weights of a 6-feature model under a config that says 7 features.
    save_classifier(model(), url)
    cfg_path = tmp_path / "ckpt" / "config.json"
    config = json.loads(cfg_path.read_text())
    config["in_features"] = 7
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(
        ValueError,
        match=r"ckpt: tensor 'feature_mean' in model.safetensors has shape \[6\], the model expects \[7\]",
    ):
        load_classifier(url)
    # A config with a missing classifier key is a config error naming the file.
    del config["classifier"]["kernel_size"]
    config["in_features"] = 6
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config.json.*kernel_size"):
        load_classifier(url)
    # A deeper model's config over shallower weights: missing tensors named.
    config["classifier"] = {
        "hidden_size": 16,
        "num_layers": 3,
        "kernel_size": 3,
        "dropout": 0.0,
        "use_cls": False,
    }
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"missing tensor\(s\) \['blocks.2.conv.bias'"):
        load_classifier(url)


@pytest.mark.timeout(30)
def test_a_checkpoint_of_the_earlier_layout_still_loads(tmp_path):
    """VA-GPT checkpoints written before the bundled `classifier/` folder kept the same two parts
    at their root as classifier.json + classifier.safetensors."""
    m = model()
    m.fit_normalisation(torch.randn(50, 6))
    folder = tmp_path / "old-vagpt"
    folder.mkdir()
    (folder / "checkpoint.json").write_text(json.dumps({"format": 1, "model_version": "v", "files": []}))
    save_file(checkpoint_state(m), folder / "classifier.safetensors")
    (folder / "classifier.json").write_text(json.dumps(checkpoint_config(m, {"top_k": 0.25})))
    assert has_classifier(str(folder)) and not has_classifier(str(tmp_path))
    loaded, config = load_classifier(str(folder))
    x = torch.randn(1, 9, 6)
    torch.testing.assert_close(loaded(x), m(x))
    state, config2 = classifier_parts(str(folder))
    assert config2 == config and state.keys() == m.state_dict().keys()
    assert classifier_parts(None) == (None, None)

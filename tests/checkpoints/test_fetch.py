"""Model folders made local: folders, file:// and s3:// URLs, hub ids; clear errors."""

from __future__ import annotations

import os

import pytest
import torch
from transformers import Dinov2Model

from va_gpt.checkpoints.fetch import CheckpointError, from_pretrained_clear, local_model_dir
from va_gpt.config import load_preset

PRESET = load_preset("tiny")


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

"""Every YAML preset is loaded and built; bad keys are ConfigErrors naming the key."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
import yaml

from va_gpt.checkpoints.build import from_preset
from va_gpt.checkpoints.fetch import local_model_dir
from va_gpt.config import PRESET_DIR, ConfigError, load_preset, preset_from_dict, preset_names
from va_gpt.models.vagpt import Sample, visual_token_count


def has_sources(p) -> bool:
    """Whether the preset names weights that are not here: a hub id or a folder that does not
    resolve (the demo preset's encoder is the committed models/demo/vagpt/encoder: buildable)."""
    sources = (p.encoder.source, p.vision_tower.source, p.llm.source)
    return any(x is not None and not os.path.isdir(local_model_dir(x)) for x in sources)


def test_every_preset_is_covered():
    names = preset_names()
    assert {"tiny", "demo", "va-gpt-7b"} <= set(names)
    # presets with random-initialised or committed weights are built below; the rest name real
    # weights that are not here
    assert {n for n in names if not has_sources(load_preset(n))} >= {"tiny", "demo"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", [n for n in preset_names() if not has_sources(load_preset(n))])
def test_random_init_presets_build_and_run(name):
    p = load_preset(name)
    m = from_preset(p).eval()
    cfg = m.llm.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (
        p.llm.hidden_size,
        p.llm.num_layers,
        p.llm.num_heads,
    )
    assert (
        cfg.intermediate_size == p.llm.intermediate_size and cfg.max_position_embeddings == p.llm.max_position
    )
    assert cfg.vocab_size >= len(m.tokenizer) and cfg.vocab_size >= p.llm.vocab_size
    assert (
        m.vision.hidden_size == p.encoder.hidden_size
        and m.vision.grid == (p.encoder.image_size // p.encoder.patch_size,) * 2
    )
    assert m.projector[-1].out_features == p.llm.hidden_size
    assert (
        next(m.llm.parameters()).dtype
        == {"float32": torch.float32, "bfloat16": torch.bfloat16}[p.runtime.dtype]
    )
    # the whole sequence of a full question fits the LLM's positions at the preset's K
    assert visual_token_count(p) < p.llm.max_position
    S = p.encoder.image_size
    frames = np.random.default_rng(0).integers(0, 256, (2, S, S, 3), dtype=np.uint8)
    with torch.no_grad():
        out = m([Sample(frames, np.array([0.0, 0.5]), "What?", scores=np.array([0.1, 0.9]), answer="ok")])
    assert torch.isfinite(out.loss)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", [n for n in preset_names() if has_sources(load_preset(n))])
def test_presets_with_real_weights_validate(name):
    p = load_preset(name)  # validated by load_preset; not instantiated (no weights here)
    assert p.name == name
    assert p.llm.hidden_size % p.llm.num_heads == 0
    assert visual_token_count(p) + 512 <= p.llm.max_position  # room for prompt, TETG and answer
    if p.vision_tower.kind == "clip":
        assert p.vision_tower.source and p.encoder.source  # SETS still needs DINOv2 on the same grid


def raw(name="tiny"):
    with open(PRESET_DIR / f"{name}.yaml") as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize(
    "section,key",
    [
        ("tetg", "high"),
        ("tetg", "num_buckets"),
        ("vision_tower", "kind"),
        ("projector", "max_frames"),
        ("llm", "vocab_size"),
    ],
)
def test_missing_key_names_it(section, key):
    d = copy.deepcopy(raw())
    del d[section][key]
    with pytest.raises(ConfigError, match=rf"tiny\.{section}: missing key\(s\) \['{key}'\]"):
        preset_from_dict(d, "tiny")


@pytest.mark.parametrize("section", ["tetg", "vision_tower", "projector", "llm"])
def test_unknown_key_names_it(section):
    d = copy.deepcopy(raw())
    d[section]["surprise"] = 1
    with pytest.raises(ConfigError, match=rf"tiny\.{section}: unknown key\(s\) \['surprise'\]"):
        preset_from_dict(d, "tiny")


@pytest.mark.parametrize(
    "section,key,value,msg",
    [
        ("tetg", "high", 1.5, "tetg.high"),
        ("classifier", "members", 0, "classifier.members"),
        ("tetg", "encoding", "bits", "tetg.encoding"),
        ("tetg", "num_buckets", 1, "tetg.num_buckets"),
        ("projector", "kind", "qformer", "projector.kind"),
        ("vision_tower", "kind", "clip", "vision_tower.source"),  # clip without a source
        ("llm", "num_heads", 3, "llm.hidden_size"),
        ("llm", "hidden_size", "big", "llm.hidden_size"),
        ("sets", "min_brightness", 1.0, "sets.min_brightness"),
        ("sets", "stabilise", "yes", "sets.stabilise"),
        ("sets", "background_samples", 0, "sets.background_samples"),
        ("sets", "background_samples", 2.5, "sets.background_samples"),
        ("sets", "background_samples", 65, "sets.background_samples"),
        ("sets", "background_samples", True, "sets.background_samples"),
    ],
)
def test_bad_values_name_the_key(section, key, value, msg):
    d = copy.deepcopy(raw())
    d[section][key] = value
    with pytest.raises(ConfigError, match=msg.replace(".", r"\.")):
        preset_from_dict(d, "tiny")


def test_pixel_maps_need_a_classifier_that_reads_patches():
    d = copy.deepcopy(raw())
    d["classifier"]["pixel_maps"] = True
    assert preset_from_dict(d, "tiny").classifier.pixel_maps
    d["classifier"]["patch_hidden"] = 0
    with pytest.raises(ConfigError, match=r"classifier\.pixel_maps: needs classifier\.patch_hidden > 0"):
        preset_from_dict(d, "tiny")


def test_a_preset_object_is_taken_as_is():
    """Functions that take a preset name (trainers, jobs) also take a modified Preset."""
    p = load_preset("tiny")
    assert load_preset(p) is p

"""VA-GPT on the tiny preset: sequence layout, loss masking, gradients, generation, SETS token counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import CLIPVisionConfig, CLIPVisionModel

from va_gpt.checkpoints.build import from_preset
from va_gpt.config import load_preset
from va_gpt.models import vagpt
from va_gpt.models.projector import build_projector
from va_gpt.models.vagpt import (
    IGNORE,
    KIND_ANSWER,
    KIND_FRAME_MARKER,
    KIND_PAD,
    KIND_TETG,
    KIND_VISUAL,
    Sample,
)
from va_gpt.ops.sets import num_selected
from va_gpt.train.losses import text_only

PRESET = load_preset("tiny")
S = PRESET.encoder.image_size
N = (S // PRESET.encoder.patch_size) ** 2  # 16 patches


@pytest.fixture(scope="module")
def model():
    return from_preset(PRESET)


def frames(T, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (T, S, S, 3), dtype=np.uint8)


def samples():
    t4 = np.array([10.0, 10.5, 11.0, 11.5])
    return [
        Sample(
            frames(4), t4, "What happens?", scores=np.array([0.1, 0.2, 0.8, 0.9]), answer="a fight at 11.0s"
        ),
        Sample(frames(2, 1), t4[:2], "When?", scores=np.array([0.1, 0.9]), answer="at 10.5s"),
    ]


@pytest.mark.timeout(60)
def test_forward_backward_finite_loss_and_grads(model):
    model.zero_grad(set_to_none=True)
    out = model(samples())
    assert out.logits.shape[:2] == out.batch.labels.shape
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    out.loss.backward()
    for name, p in [*model.projector.named_parameters(), *model.llm.named_parameters()]:
        if name == "model.embed_tokens.weight":
            continue  # only rows of tokens in the batch get gradient
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    emb_grad = model.llm.get_input_embeddings().weight.grad
    assert emb_grad[model.tokenizer.bos_token_id].abs().sum() > 0
    assert emb_grad[model.tokenizer.eos_token_id].abs().sum() == 0  # last input, predicts nothing
    assert all(p.grad is None for p in model.vision.parameters())  # frozen tower


@pytest.mark.timeout(60)
def test_loss_only_on_answer_tokens(model):
    batch_samples = samples()
    out = model(batch_samples)
    b = out.batch
    tok = model.tokenizer
    for i, s in enumerate(batch_samples):
        answer_ids = tok(" " + s.answer, add_special_tokens=False).input_ids + [tok.eos_token_id]
        n = int(b.attention_mask[i].sum())
        # right padding: real tokens first; the answer is the last len(answer_ids) real tokens
        assert b.attention_mask[i, :n].all() and not b.attention_mask[i, n:].any()
        expected = torch.zeros_like(b.label_mask[i])
        expected[n - len(answer_ids) : n] = True
        assert torch.equal(b.label_mask[i], expected)
        assert b.labels[i, n - len(answer_ids) : n].tolist() == answer_ids
        assert (b.kinds[i, n:] == KIND_PAD).all()
        assert torch.equal(b.kinds[i] == KIND_ANSWER, expected)
    # the loss is the cross-entropy of exactly those positions, predicted one step earlier
    pos = b.label_mask.nonzero()
    pred = out.logits[pos[:, 0], pos[:, 1] - 1]
    manual = F.cross_entropy(pred.float(), b.labels[pos[:, 0], pos[:, 1]])
    torch.testing.assert_close(out.loss, manual)
    assert (b.labels[~b.label_mask] == IGNORE).all()


@pytest.mark.timeout(60)
def test_sequence_layout_frame_markers_visual_tetg(model):
    s = samples()[0]
    embeds, ids, kinds = model.sequence(s)
    k = num_selected(N, PRESET.sets.top_k)
    assert (kinds == KIND_VISUAL).sum() == 4 * k
    text = model.tokenizer.decode(ids[kinds == KIND_FRAME_MARKER].tolist())
    assert text == " <frame 10.0s> <frame 10.5s> <frame 11.0s> <frame 11.5s>"
    tetg_text = model.tokenizer.decode(ids[kinds == KIND_TETG].tolist())
    assert tetg_text == "\nanomaly scores: 10.0s:0.10 10.5s:0.20 11.0s:0.80 11.5s:0.90 ; high: 11.0-11.5s"
    # each frame's visual run follows its marker
    runs = torch.nonzero(kinds == KIND_VISUAL).flatten()
    assert (kinds[runs[0] - 1] == KIND_FRAME_MARKER).item()
    # ablation: no TETG tokens at all
    m2 = vagpt.VAGPT(
        model.vision,
        model.projector,
        model.llm,
        model.tokenizer,
        dataclasses.replace(PRESET, tetg=dataclasses.replace(PRESET.tetg, encoding="none")),
    )
    assert not (m2.sequence(s)[2] == KIND_TETG).any()


@pytest.mark.timeout(60)
def test_tetg_kind_carries_the_classifier_kind_into_the_prompt(model):
    cfg = dataclasses.replace(PRESET, tetg=dataclasses.replace(PRESET.tetg, kind=True))
    m = vagpt.VAGPT(model.vision, model.projector, model.llm, model.tokenizer, cfg)
    s = dataclasses.replace(samples()[0], kind="abandoned_object")
    _, ids, kinds = m.sequence(s)
    text = m.tokenizer.decode(ids[kinds == KIND_TETG].tolist())
    assert text.endswith("; high: 11.0-11.5s ; kind: abandoned object")
    # the training loss sees the same prompt (the kind survives the text-only copy of stage 0)
    assert text_only(s).kind == "abandoned_object"
    # off (the tiny and 7B presets): the sample's kind changes nothing
    assert torch.equal(model.sequence(s)[1], model.sequence(samples()[0])[1])


@pytest.mark.timeout(60)
def test_embedding_encoding_uses_score_bucket_tokens(model):
    cfg = dataclasses.replace(PRESET, tetg=dataclasses.replace(PRESET.tetg, encoding="embedding"))
    m = vagpt.VAGPT(model.vision, model.projector, model.llm, model.tokenizer, cfg)
    _, ids, kinds = m.sequence(samples()[0])
    tetg_ids = ids[kinds == KIND_TETG].tolist()
    score_ids = m.score_token_ids
    # scores 0.1 0.2 0.8 0.9 -> buckets 1 2 8 9, each one special token
    assert [i for i in tetg_ids if i in score_ids] == [score_ids[b] for b in (1, 2, 8, 9)]


@pytest.mark.timeout(60)
def test_fewer_tokens_at_k25_than_k100(model):
    lengths = {}
    for k in (1.0, 0.25):
        cfg = dataclasses.replace(PRESET, sets=dataclasses.replace(PRESET.sets, top_k=k))
        m = vagpt.VAGPT(model.vision, model.projector, model.llm, model.tokenizer, cfg)
        _, _, kinds = m.sequence(samples()[0])
        lengths[k] = (len(kinds), int((kinds == KIND_VISUAL).sum()))
    assert lengths[1.0][1] == 4 * N and lengths[0.25][1] == 4 * N // 4
    assert lengths[1.0][0] - lengths[0.25][0] == 4 * N - 4 * N // 4


@pytest.mark.timeout(60)
def test_sets_selects_the_changed_patches(model):
    base = frames(1, 5)[0]
    f = np.repeat(base[None], 3, axis=0)
    p = PRESET.encoder.patch_size
    f[1, 2 * p : 3 * p, p : 2 * p] = 255 - f[1, 2 * p : 3 * p, p : 2 * p]  # patch (2, 1) = index 9 changes
    f[2] = f[1]
    f[2, 0:p, 3 * p : 4 * p] = 0  # frame 2: patch (0, 3) = index 3 changes
    sel = model.sets_selection(torch.from_numpy(f), None)
    assert sel.shape == (3, num_selected(N, PRESET.sets.top_k))
    assert 9 in sel[1].tolist() and 3 in sel[2].tolist()
    assert torch.equal(sel[0], sel[1])  # frame 0 reuses frame 1's map
    assert (sel.diff(dim=-1) > 0).all()  # raster order


@pytest.mark.timeout(60)
def test_given_selection_is_used(model):
    f = frames(2)
    sel = torch.tensor([[0, 5, 6, 15], [1, 2, 3, 4]])
    tokens, used = model.visual_tokens(f, sel)
    patches = model.patch_features(torch.from_numpy(f))
    expected = model.projector(patches[torch.arange(2)[:, None], sel])
    assert torch.equal(used, sel)
    torch.testing.assert_close(tokens, expected)
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        model.visual_tokens(f, torch.tensor([[0, 1, 2, 16], [0, 1, 2, 3]]))


@pytest.mark.timeout(60)
def test_generate_returns_string_and_left_padding_is_exact(model):
    model.eval()
    s0, s1 = samples()
    s0 = dataclasses.replace(s0, answer=None)
    s1 = dataclasses.replace(s1, answer=None)
    text = model.generate(s0.frames, s0.t, s0.scores, s0.question, max_new_tokens=6)
    assert isinstance(text, str)
    both = model.generate_batch([s0, s1], max_new_tokens=6)
    assert both == [text, model.generate_batch([s1], max_new_tokens=6)[0]]
    b = model.prepare([s0, s1], padding_side="left")
    n1 = int(b.attention_mask[1].sum())
    assert not b.attention_mask[1, : b.attention_mask.shape[1] - n1].any()  # padding on the left
    assert b.position_ids[1, -n1] == 0 and b.position_ids[1, -1] == n1 - 1


@pytest.mark.timeout(60)
def test_too_many_frames_is_a_clear_error(model):
    T = PRESET.projector.max_frames + 1
    with pytest.raises(ValueError, match="max_frames"):
        model.sequence(Sample(frames(T), np.arange(T) * 0.5, "q"))
    idx = vagpt.uniform_indices(T, PRESET.projector.max_frames)
    assert len(idx) == PRESET.projector.max_frames and idx[0] == 0 and idx[-1] == T - 1


@pytest.mark.timeout(10)
def test_flops_helper():
    demo = load_preset("demo")
    assert vagpt.visual_token_count(demo, 1.0) == 16 * 256
    assert vagpt.visual_token_count(demo, 0.25) == 16 * 64
    assert vagpt.visual_token_count(demo, 0.1) == 16 * 26
    f = [vagpt.visual_token_flops(demo, k, text_tokens=100)["flops"] for k in (1.0, 0.5, 0.25, 0.1)]
    assert f == sorted(f, reverse=True)
    # one layer, known numbers: L=10, H=4, I=8, V=5 -> 8*10*16 + 6*10*4*8 + 2*100*4 + 2*4*5
    cfg = dataclasses.replace(demo.llm, hidden_size=4, num_layers=1, intermediate_size=8, vocab_size=5)
    assert vagpt.llm_prefill_flops(10, cfg) == 1280 + 1920 + 800 + 40


@pytest.mark.timeout(60)
def test_clip_tower_with_dino_selection(model):
    torch.manual_seed(0)
    clip_cfg = CLIPVisionConfig(
        image_size=S,
        patch_size=14,
        hidden_size=24,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
    )
    tower = vagpt.ClipVisionTower(CLIPVisionModel(clip_cfg).eval())
    assert tower.grid == model.vision.grid
    cfg = dataclasses.replace(
        PRESET, vision_tower=dataclasses.replace(PRESET.vision_tower, kind="clip", source="x")
    )
    proj = build_projector("linear", 24, PRESET.llm.hidden_size)
    m = vagpt.VAGPT(tower, proj, model.llm, model.tokenizer, cfg, sets_encoder=model.vision)
    f = frames(3)
    tokens, sel = m.visual_tokens(f)
    # the selection comes from the DINOv2 pass, the features from CLIP's penultimate layer
    assert torch.equal(sel, model.sets_selection(torch.from_numpy(f)))
    clip_patches = tower.patch_features(torch.from_numpy(f))
    assert clip_patches.shape == (3, N, 24)
    torch.testing.assert_close(tokens, proj(clip_patches[torch.arange(3)[:, None], sel]))
    out = m([dataclasses.replace(samples()[0], answer="ok")])
    assert torch.isfinite(out.loss)
    no_sets = vagpt.VAGPT(tower, proj, model.llm, model.tokenizer, cfg)
    with pytest.raises(ValueError, match="pass `selection`"):
        no_sets.visual_tokens(f)

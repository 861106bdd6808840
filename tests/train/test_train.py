"""VA-GPT training on the tiny preset: records -> samples, stages 0/1/2, checkpoints, resume, bad input."""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from jobs import train as job
from va_gpt.checkpoints.build import from_preset
from va_gpt.checkpoints.vagpt import load_checkpoint
from va_gpt.config import load_preset
from va_gpt.data.instruct.make import synthetic_records
from va_gpt.data.records import DatasetError, read_records, record_texts, write_records
from va_gpt.eval.ablation import heldout_nll
from va_gpt.models.classifier import KINDS
from va_gpt.models.vagpt import KIND_ANSWER, KIND_FRAME_MARKER, KIND_TETG, KIND_VISUAL
from va_gpt.synthetic.archive import generate_archive
from va_gpt.train.config import TrainConfig
from va_gpt.train.initial import with_settings
from va_gpt.train.losses import answer_loss, answer_nll, text_only
from va_gpt.train.samples import SampleBuilder, ScoreCache
from va_gpt.train.state import TRAINER_STATE
from va_gpt.train.trainable import export_model
from va_gpt.train.vagpt import evaluate_loss, resume_training, train

PRESET = load_preset("tiny")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Three 6 s synthetic videos (fighting, normal, explosion) at 96x64, with VA-Instruction records."""
    root = tmp_path_factory.mktemp("train_archive")
    truth = generate_archive(
        str(root / "videos"), cameras=1, videos_per_camera=3, duration_s=6.0, width=96, height=64, fps=10.0,
        anomaly_kinds=("fighting", "explosion"), seed=3,
    )  # fmt: skip
    records = synthetic_records(truth, "train", tasks=("description", "judgement", "mc_temporal"))
    path = write_records(records, str(root / "instruct" / "train" / "records.jsonl"))
    # a scores cache standing in for the classifier: high inside the events
    curves = {}
    for v in truth.videos:
        t = np.arange(0, v.duration_s, 0.5)
        s = np.full_like(t, 0.1)
        for e in v.events:
            s[(t >= e.start_s) & (t < e.end_s)] = 0.9
        curves[truth.video_url(v.key)] = (t, s)
    return {
        "root": root,
        "truth": truth,
        "records_url": str(root / "instruct"),
        "path": path,
        "scores": curves,
    }


@pytest.fixture(scope="module")
def dataset(archive):
    records = read_records(archive["records_url"], "train")
    builder = SampleBuilder(PRESET, scores=ScoreCache(archive["scores"]))
    return builder.build(records)


def fresh_model(dataset):
    return from_preset(PRESET, tokenizer_texts=record_texts(dataset.records), seed=0)


@pytest.mark.timeout(60)
def test_records_to_samples(archive, dataset):
    recs = read_records(archive["path"])
    assert len(recs) == len(dataset) > 0
    r0, s0 = dataset.records[0], dataset.samples[0]
    assert not s0.question.startswith("<video>") and s0.question == r0["conversations"][0]["value"][8:]
    assert s0.answer == r0["conversations"][1]["value"]
    S = PRESET.encoder.image_size
    assert s0.frames.dtype == np.uint8 and s0.frames.shape[1:] == (S, S, 3)
    assert 1 <= len(s0.t) <= PRESET.projector.max_frames
    # the TETG curve covers every decoded frame of the clip (2 fps), not only the LLM's frames
    assert s0.scores is not None and len(s0.score_t) >= len(s0.t)
    assert r0["clip_start_s"] - 1e-6 <= s0.score_t[0] and s0.score_t[-1] <= r0["clip_end_s"] + 1e-6
    # records on the same clip share one decode
    whole = [s for r, s in zip(dataset.records, dataset.samples) if r["task"] in ("judgement", "mc_temporal")]
    assert whole[0].frames is whole[1].frames
    # parquet reads the same
    pq.write_table(pa.Table.from_pylist(recs), archive["root"] / "records.parquet")
    assert [r["id"] for r in read_records(str(archive["root"] / "records.parquet"))] == [
        r["id"] for r in recs
    ]


@pytest.mark.timeout(60)
def test_answer_loss_is_the_models_loss(dataset):
    model = fresh_model(dataset)
    batch = dataset.samples[:3]
    with torch.no_grad():
        torch.testing.assert_close(answer_loss(model, batch), model(batch).loss, rtol=1e-5, atol=1e-6)


@pytest.mark.timeout(60)
def test_answer_nll_per_sample_pools_to_the_batch_loss(dataset):
    model = fresh_model(dataset)
    batch = dataset.samples[:3]
    nll = answer_nll(model, batch)
    assert nll.shape == (3,)
    for i, s in enumerate(batch):  # alone, each sample's NLL is its own loss
        torch.testing.assert_close(nll[i], answer_loss(model, [s]).detach(), rtol=1e-5, atol=1e-5)
    counts = torch.tensor([float((model.sequence(s)[2] == KIND_ANSWER).sum()) for s in batch])
    pooled = (nll * counts).sum() / counts.sum()
    torch.testing.assert_close(pooled, answer_loss(model, batch).detach(), rtol=1e-5, atol=1e-5)


def test_samples_without_an_answer_stop_with_a_clear_message(dataset):
    model = fresh_model(dataset)
    unanswered = dataclasses.replace(dataset.samples[0], answer=None)
    with pytest.raises(DatasetError, match="no answer tokens"):
        answer_loss(model, [unanswered])
    with pytest.raises(DatasetError, match="a sample has no answer tokens"):
        answer_nll(model, [dataset.samples[1], unanswered])


@pytest.mark.timeout(120)
def test_stage1_lowers_loss_and_trains_only_the_projector(dataset, caplog):
    model = fresh_model(dataset)
    llm0 = {k: v.clone() for k, v in model.llm.state_dict().items()}
    vis0 = {k: v.clone() for k, v in model.vision.state_dict().items()}
    proj0 = {k: v.clone() for k, v in model.projector.state_dict().items()}
    before = evaluate_loss(model, dataset.samples)
    with caplog.at_level(logging.INFO, logger="va_gpt.train.vagpt"):
        res = train(model, dataset, TrainConfig(stage=1, steps=8, lr=1e-2, batch_size=2, log_every=4))
    after = evaluate_loss(model, dataset.samples)
    assert after < before, (before, after, res.losses)
    assert res.backend == "plain torch (AdamW)" and "backend: plain torch" in caplog.text
    assert res.trainable_params == sum(p.numel() for p in model.projector.parameters())
    assert all(torch.equal(v, llm0[k]) for k, v in model.llm.state_dict().items())
    assert all(torch.equal(v, vis0[k]) for k, v in model.vision.state_dict().items())
    assert any(not torch.equal(v, proj0[k]) for k, v in model.projector.state_dict().items())


@pytest.mark.timeout(60)
def test_heldout_nll_splits_the_held_out_loss_by_question_kind(dataset):
    """How checkpoints are compared on the same questions (jobs/compare_vagpt.py): one entry per
    record task plus "all", each the mean over its records of the per-record answer NLL."""
    model = fresh_model(dataset).eval()
    res = heldout_nll(model, dataset.records, dataset.samples)
    tasks = {r["task"] for r in dataset.records}
    assert set(res) == tasks | {"all"} and len(tasks) > 1
    assert res["all"] == pytest.approx(evaluate_loss(model, dataset.samples, batch_size=1), rel=1e-4)
    only = [s for r, s in zip(dataset.records, dataset.samples) if r["task"] == "judgement"]
    assert res["judgement"] == pytest.approx(evaluate_loss(model, only, batch_size=1), rel=1e-4)


@pytest.mark.timeout(120)
def test_stage0_text_warmup_trains_the_llm_on_text_only(dataset):
    model = fresh_model(dataset)
    kinds = model.sequence(text_only(dataset.samples[0]))[2]
    assert (
        not (kinds == KIND_VISUAL).any() and (kinds == KIND_FRAME_MARKER).any() and (kinds == KIND_TETG).any()
    )
    proj0 = [p.detach().clone() for p in model.projector.parameters()]
    texts = [text_only(s) for s in dataset.samples]
    before = evaluate_loss(model, texts)
    train(model, dataset, TrainConfig(stage=0, steps=6, lr=1e-2, batch_size=4, log_every=0))
    assert evaluate_loss(model, texts) < before
    assert all(torch.equal(a, b) for a, b in zip(model.projector.parameters(), proj0))


@pytest.mark.timeout(120)
def test_stage1_embedding_encoding_trains_only_score_rows(dataset):
    model = fresh_model(dataset)
    model = with_settings(model, tetg=dataclasses.replace(PRESET.tetg, encoding="embedding"))
    emb0 = model.llm.get_input_embeddings().weight.detach().clone()
    train(model, dataset, TrainConfig(stage=1, steps=3, lr=1e-2, batch_size=2, log_every=0))
    emb = model.llm.get_input_embeddings().weight.detach()
    changed = (emb != emb0).any(1).nonzero().flatten().tolist()
    assert changed and set(changed) <= set(model.score_token_ids)


@pytest.mark.timeout(120)
def test_stage2_lowers_loss_and_checkpoint_reloads_to_identical_logits(dataset, tmp_path):
    model = fresh_model(dataset)
    before = evaluate_loss(model, dataset.samples)
    res = train(
        model,
        dataset,
        TrainConfig(stage=2, steps=6, lr=3e-3, batch_size=2, log_every=0),
        out=str(tmp_path / "ck"),
    )
    after = evaluate_loss(model, dataset.samples)
    assert after < before, (before, after)
    assert res.checkpoint == str(tmp_path / "ck") and (tmp_path / "ck" / TRAINER_STATE).exists()
    loaded = load_checkpoint(str(tmp_path / "ck")).model
    batch = dataset.samples[:3]
    with torch.no_grad():
        a, b = model(batch).logits, loaded(batch).logits
    assert torch.equal(a, b)


@pytest.mark.timeout(120)
def test_stage2_lora_keeps_base_weights_and_exports_merged(dataset, tmp_path):
    model = fresh_model(dataset)
    base0 = {k: v.clone() for k, v in model.llm.state_dict().items()}
    before = evaluate_loss(model, dataset.samples)
    res = train(
        model, dataset, TrainConfig(stage=2, steps=6, lr=1e-2, batch_size=2, lora=True, lora_r=4, log_every=0),
        out=str(tmp_path / "lora"),
    )  # fmt: skip
    assert evaluate_loss(model, dataset.samples) < before
    assert res.trainable_params < sum(p.numel() for p in base0.values())
    base = model.llm.get_base_model().state_dict()
    for k, v in base0.items():  # base weights untouched, wherever peft put them
        k2 = (
            k.replace(".weight", ".base_layer.weight")
            if k.replace(".weight", ".base_layer.weight") in base
            else k
        )
        assert torch.equal(base[k2], v), k
    merged = export_model(model)
    loaded = load_checkpoint(str(tmp_path / "lora")).model
    batch = dataset.samples[:2]
    with torch.no_grad():
        live = model(batch).logits
        torch.testing.assert_close(merged(batch).logits, live, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(loaded(batch).logits, live, rtol=1e-4, atol=1e-5)


@pytest.mark.timeout(120)
def test_resume_continues_from_the_saved_step(dataset, tmp_path):
    out = str(tmp_path / "run")
    cfg = dict(stage=1, lr=1e-2, batch_size=2, log_every=0, seed=5)
    first = train(fresh_model(dataset), dataset, TrainConfig(steps=2, **cfg), out=out)
    assert first.step == 2
    state = torch.load(tmp_path / "run" / TRAINER_STATE, weights_only=True)
    assert (
        state["step"] == 2
        and state["model_version"]
        == json.loads((tmp_path / "run" / "checkpoint.json").read_text())["model_version"]
    )
    resumed = resume_training(PRESET, dataset, TrainConfig(steps=4, **cfg), out)
    assert resumed.start_step == 2 and resumed.step == 4 and resumed.steps == [3, 4]
    straight = train(fresh_model(dataset), dataset, TrainConfig(steps=4, **cfg))
    np.testing.assert_allclose(resumed.losses, straight.losses[2:], rtol=1e-5)
    for a, b in zip(resumed.model.projector.parameters(), straight.model.projector.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.timeout(60)
def test_empty_and_all_missing_records_stop_with_a_clear_message(archive, tmp_path, capsys):
    builder = SampleBuilder(PRESET, scores=ScoreCache(archive["scores"]))
    with pytest.raises(DatasetError, match="empty"):
        builder.build([])
    recs = read_records(archive["path"])[:2]
    for r in recs:
        r["video"] = str(tmp_path / "gone" / "nothing.mp4")
    with pytest.raises(DatasetError, match=r"none of the 2 records is usable: 2 missing .*nothing\.mp4"):
        SampleBuilder(PRESET, random_classifier=True).build(recs)
    # one missing among good ones: reported, counted, skipped
    good = read_records(archive["path"])[:3]
    res = builder.build(good[:2] + recs[:1])
    assert (
        len(res) == 2 and res.skipped_counts() == {"missing": 1} and res.skipped[0].record_id == recs[0]["id"]
    )
    # TETG without any score source
    with pytest.raises(DatasetError, match="--classifier"):
        SampleBuilder(PRESET).build(good)
    # the job: a clear message, exit 1, no traceback
    empty = tmp_path / "empty" / "train"
    empty.mkdir(parents=True)
    (empty / "records.jsonl").write_text("")
    rc = job.main(["--preset", "tiny", "--records", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and "record set is empty" in err and "Traceback" not in err
    missing = tmp_path / "missing.jsonl"
    write_records(recs, str(missing))
    rc = job.main(
        ["--preset", "tiny", "--records", str(missing), "--out", str(tmp_path / "o"), "--classifier", "x"]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "none of the 2 records is usable: 2 missing" in err


@pytest.mark.timeout(60)
def test_visual_stage_scores_when_no_cache(archive):
    rec = read_records(archive["path"])[0]
    s = SampleBuilder(PRESET, random_classifier=True).sample(rec)
    assert s.scores is not None and s.score_t.shape == s.scores.shape and len(s.scores) >= len(s.t)
    assert np.all((s.scores >= 0) & (s.scores <= 1))
    # with tetg.kind the sample carries the kind head's call on its clip, as TETG will write it
    preset = dataclasses.replace(PRESET, tetg=dataclasses.replace(PRESET.tetg, kind=True, high=0.0))
    k = SampleBuilder(preset, random_classifier=True).sample(rec).kind
    assert k in KINDS and k != "normal"  # every frame is "high" at 0: some anomaly kind wins
    never = dataclasses.replace(preset, tetg=dataclasses.replace(preset.tetg, high=1.0 + 1e-9))
    assert SampleBuilder(never, random_classifier=True).sample(rec).kind is None
    # from a scores cache there is no kind head: no kind
    assert SampleBuilder(preset, scores=ScoreCache(archive["scores"])).sample(rec).kind is None


@pytest.mark.timeout(120)
def test_train_job_stage1_then_stage2_from_it(archive, tmp_path, capsys):
    s1, s2 = str(tmp_path / "s1"), str(tmp_path / "s2")
    scores = tmp_path / "scores.json"
    scores.write_text(
        json.dumps({u: {"t": t.tolist(), "score": s.tolist()} for u, (t, s) in archive["scores"].items()})
    )
    common = [
        "--preset",
        "tiny",
        "--records",
        archive["records_url"],
        "--scores",
        str(scores),
        "--steps",
        "2",
    ]
    assert job.main([*common, "--stage", "1", "--out", s1]) == 0
    assert job.main([*common, "--stage", "2", "--init", s1, "--out", s2, "--lora"]) == 0
    out = capsys.readouterr().out
    assert '"backend": "plain torch (AdamW)"' in out
    assert load_checkpoint(s2).model is not None
    assert (
        job.main([*common, "--stage", "2", "--init", s1, "--out", s2, "--lora", "--steps", "3", "--resume"])
        == 0
    )
    assert torch.load(tmp_path / "s2" / TRAINER_STATE, weights_only=True)["step"] == 3


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_deepspeed_two_steps_on_cpu(dataset, tmp_path):
    """Two stage-1 steps through deepspeed.initialize (ZeRO-2 config; CPU accelerator + gloo here).

    The first run on a machine builds DeepSpeed's shm comm op (minutes on 2 busy cores), hence slow."""
    pytest.importorskip("deepspeed")
    model = fresh_model(dataset)
    proj0 = [p.detach().clone() for p in model.projector.parameters()]
    res = train(
        model, dataset,
        TrainConfig(
            stage=1, steps=2, lr=1e-2, batch_size=2, log_every=1, deepspeed="infra/deepspeed/zero2.json",
            allow_plain_fallback=True,
        ),
        out=str(tmp_path / "ds"),
    )  # fmt: skip
    if not res.backend.startswith("DeepSpeed"):
        pytest.skip(f"DeepSpeed cannot initialise on this machine: {res.backend}")
    assert "ZeRO-2" in res.backend and len(res.losses) == 2 and all(np.isfinite(res.losses))
    assert any(not torch.equal(a, b) for a, b in zip(model.projector.parameters(), proj0))
    assert load_checkpoint(str(tmp_path / "ds")).model is not None
    # and --resume restores the ZeRO optimizer state
    cfg = TrainConfig(
        stage=1, steps=3, lr=1e-2, batch_size=2, log_every=1, deepspeed="infra/deepspeed/zero2.json",
        allow_plain_fallback=True,
    )  # fmt: skip
    more = resume_training(PRESET, dataset, cfg, str(tmp_path / "ds"))
    assert more.backend.startswith("DeepSpeed") and more.start_step == 2 and more.step == 3

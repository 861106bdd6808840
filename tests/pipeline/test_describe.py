"""Describe stage on a real video: one summary row per interval, errors as rows, parsing of the text."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from schemas.tables import conform
from tests.shared_paths import CAR_ACCIDENT
from va_gpt.checkpoints.build import from_preset
from va_gpt.checkpoints.vagpt import save_checkpoint
from va_gpt.config import load_preset
from va_gpt.data.instruct.templates import SHORT_ANALYSIS, SHORT_DESCRIPTION, SHORT_NORMAL, fields_answer
from va_gpt.models.structured import answer_bank, contradictions, max_ngram_repeats, when
from va_gpt.pipeline.describe import (
    ALLOWED_KINDS,
    PROMPT_VERSION,
    PROMPT_VERSION_HELD,
    Describe,
    choose_kind,
    parse_fields,
    parse_label,
    video_summaries,
)
from va_gpt.pipeline.tables import build_tables
from va_gpt.taxonomy import KINDS

VIDEO = str(CAR_ACCIDENT)  # 4.0 s, 30 fps, 640x480
PRESET = load_preset("tiny")


def interval_batch(uri=VIDEO, rows=((0, 1.0, 2.0), (1, 2.5, 3.5))):
    t = np.arange(0, 4.0, 0.5)  # the video's frame times at decode.fps = 2
    score = np.array([0.05, 0.1, 0.7, 0.9, 0.8, 0.6, 0.2, 0.1])
    n = len(rows)
    return {
        "video_id": np.array(["vid-a"] * n, dtype=object),
        "interval_id": np.array([r[0] for r in rows], dtype=np.int32),
        "uri": np.array([uri] * n, dtype=object),
        "start_s": np.array([r[1] for r in rows]),
        "end_s": np.array([r[2] for r in rows]),
        "t": np.array([t] * n, dtype=object),  # list columns arrive as object arrays of arrays
        "score": np.array([score] * n, dtype=object),
        "camera_id": np.array(["cam01"] * n, dtype=object),
        "date": np.array(["2026-11-21"] * n, dtype=object),
    }


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAGPT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def stage():
    return Describe(PRESET, max_new_tokens=8)


@pytest.mark.timeout(120)
def test_one_text_row_per_interval(stage):
    out = stage(interval_batch())
    assert set(out) == {
        "video_id",
        "interval_id",
        "text",
        "label",
        "judgement",
        "description",
        "analysis",
        "fields",
        "model_version",
        "prompt_version",
        "camera_id",
        "date",
    }
    assert all(len(v) == 2 for v in out.values())
    assert out["interval_id"].tolist() == [0, 1] and out["video_id"].tolist() == ["vid-a", "vid-a"]
    assert all(isinstance(x, str) for x in out["text"])
    assert all("error" not in json.loads(f) for f in out["fields"])
    assert out["prompt_version"].tolist() == [PROMPT_VERSION] * 2
    assert out["model_version"].tolist() == ["tiny-random"] * 2
    assert out["camera_id"].tolist() == ["cam01"] * 2
    for i in range(2):  # structured: the judgement is one of the taxonomy's kinds, and no 4-gram repeats
        assert out["text"][i].startswith("Judgement: ") and out["label"][i] in KINDS
        assert out["judgement"][i] == KINDS[out["label"][i]].display
        assert 0.0 < json.loads(out["fields"][i])["judgement_p"] <= 1.0
        assert max_ngram_repeats(out["text"][i]) <= 1
        # the description says when (the interval's times) and names no other kind than the judgement
        batch = interval_batch()
        said_when = when(batch["start_s"][i], batch["end_s"][i])
        assert out["description"][i].endswith(said_when), out["text"][i]
        after = out["text"][i].split("Description:", 1)[-1] if "Description:" in out["text"][i] else ""
        assert contradictions(after, out["label"][i]) == [], out["text"][i]


@pytest.mark.timeout(120)
def test_sample_window_frames_and_scores(stage):
    row = {k: v[1] for k, v in interval_batch().items()}  # 2.5..3.5 s, padded to 1.5..4.5 s
    s = stage.sample(row)
    assert 2 <= len(s.frames) <= PRESET.projector.max_frames
    assert s.frames.dtype == np.uint8 and s.frames.shape[1:] == (56, 56, 3)
    assert s.t[0] >= 1.5 - 1e-6 and s.t[-1] <= 4.0 and np.all(np.diff(s.t) > 0)
    assert s.score_t.tolist() == [1.5, 2.0, 2.5, 3.0, 3.5]
    assert s.scores.tolist() == [0.9, 0.8, 0.6, 0.2, 0.1]
    assert "2.5s and 3.5s" in s.question
    # a long interval is still at most max_frames frames
    long_row = dict(row, start_s=0.0, end_s=4.0)
    assert len(stage.sample(long_row).frames) <= PRESET.projector.max_frames


@pytest.mark.timeout(120)
def test_bad_rows_become_error_rows(stage, tmp_path):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"this is not a video")
    b1 = interval_batch(uri=str(bad), rows=((0, 1.0, 2.0),))
    b2 = interval_batch(rows=((5, 1.0, 2.0),))
    b2["score"] = np.array([np.array([0.1, 0.2, np.nan, 0.3, 0.1, 0.1, 0.1, 0.1])], dtype=object)
    batch = {k: np.concatenate([b1[k], b2[k], interval_batch()[k]]) for k in b1}
    out = stage(batch)
    assert out["interval_id"].tolist() == [0, 5, 0, 1]
    errs = [json.loads(f).get("error") for f in out["fields"]]
    assert "not_a_video.mp4" in errs[0] or "DecodeError" in errs[0]
    assert "frame 2" in errs[1] and "nan" in errs[1]
    assert errs[2] is None and errs[3] is None
    assert out["text"][0] == "" and out["label"][0] is None


@pytest.mark.timeout(120)
def test_from_checkpoint_on_s3_matches_the_model(s3_store):
    so = s3_store.storage_options()
    model = from_preset(PRESET).eval()
    url = s3_store.url("test_describe/ckpt")
    version = save_checkpoint(model, url, so, overwrite=True)
    video_url = s3_store.url("test_describe/car_accident.mp4")
    s3_store.filesystem().put_file(VIDEO, video_url)
    stage = Describe(PRESET, checkpoint_url=url, storage_options=so, max_new_tokens=6)
    batch = interval_batch(uri=video_url, rows=((3, 1.0, 2.0),))
    out = stage(batch)
    assert out["model_version"].tolist() == [version]
    free = Describe(PRESET, checkpoint_url=url, storage_options=so, max_new_tokens=6, structured=False)
    out = free(batch)
    expected = model.generate_batch([stage.sample({k: v[0] for k, v in batch.items()})], 6)
    assert out["text"].tolist() == expected


@pytest.mark.timeout(180)
def test_a_checkpoint_with_trained_sentences_summarises_in_them(tmp_path):
    """A checkpoint carrying its training answers' sentences (the demo VA-GPT's) gets summaries
    whose description and analysis are those sentences whole, naming no other kind, the
    description followed by the interval's times; `hold_answers=False` decodes freely."""
    model = from_preset(PRESET).eval()
    model.answers = bank = answer_bank(
        [fields_answer("normal", SHORT_NORMAL, "Nothing abnormal happens")]
        + [
            fields_answer(KINDS[k].display, SHORT_DESCRIPTION[k], SHORT_ANALYSIS[k])
            for k in SHORT_DESCRIPTION
        ]
    )
    url = str(tmp_path / "ckpt")
    save_checkpoint(model, url)
    kinds = ["fighting", "collision", "normal"]
    batch = interval_batch(rows=((0, 1.0, 2.0), (1, 2.5, 3.5), (2, 0.5, 3.0)))
    batch["label"] = np.array(kinds, dtype=object)
    batch["label_p"] = np.array([0.999999] * 3)
    stage = Describe(PRESET, checkpoint_url=url, max_new_tokens=6)
    encoded = []  # the frames go through the vision tower once an interval, judgement and fields
    sequence = stage.model.sequence
    stage.model.sequence = lambda sample, *a, **k: encoded.append(sample) or sequence(sample, *a, **k)
    out = stage(batch)
    assert len(encoded) == 3
    assert out["prompt_version"].tolist() == [PROMPT_VERSION_HELD] * 3
    for i, kind in enumerate(kinds):
        assert out["label"][i] == kind
        said_when = when(batch["start_s"][i], batch["end_s"][i])
        description = out["description"][i]
        assert description.endswith(said_when), out["text"][i]
        assert description[: -len(said_when)].strip().rstrip(".") in bank["description"], out["text"][i]
        assert out["analysis"][i].rstrip(".") in bank["analysis"], out["text"][i]
        assert contradictions(out["text"][i].split("Description:", 1)[1], kind) == [], out["text"][i]
    free = Describe(PRESET, checkpoint_url=url, max_new_tokens=6, hold_answers=False)(batch)
    assert free["prompt_version"].tolist() == [PROMPT_VERSION] * 3


@pytest.mark.timeout(120)
def test_interval_label_steers_the_judgement(stage):
    # a random model's own preference, then the same interval with a confident classifier kind
    batch = interval_batch(rows=((0, 1.0, 2.0),))
    free = stage(batch)["label"][0]
    other = next(k for k in ALLOWED_KINDS if k != free)
    batch["label"] = np.array([other], dtype=object)
    batch["label_p"] = np.array([0.999999])
    assert stage(batch)["label"][0] == other
    # the kind head's own share for "normal" rides along on the row (run.interval_rows)
    batch["label"] = np.array(["fighting"], dtype=object)
    batch["label_p"] = np.array([0.6])
    batch["normal_p"] = np.array([0.95])
    assert stage(batch)["label"][0] == "normal"
    batch["normal_p"] = np.array([0.01])
    assert stage(batch)["label"][0] == "fighting"


@pytest.mark.timeout(120)
def test_tetg_kind_prompt_carries_the_interval_label():
    # a preset with tetg.kind: the interval's kind-head call ends the TETG segment of its prompt
    preset = dataclasses.replace(PRESET, tetg=dataclasses.replace(PRESET.tetg, kind=True))
    stage = Describe(preset, max_new_tokens=4)
    batch = interval_batch(rows=((0, 1.0, 2.0),))
    row = {k: v[0] for k, v in batch.items()}
    assert stage.model.tetg_text(stage.sample(row)).endswith("; kind: none")
    row["label"] = "collision"
    assert stage.model.tetg_text(stage.sample(row)).endswith("; high: 1.0-2.5s ; kind: collision")
    row["label"] = float("nan")  # a null label from a numpy batch
    assert stage.model.tetg_text(stage.sample(row)).endswith("; kind: none")


def test_choose_kind_prior():
    kinds = ("fighting", "falling", "normal")
    ll = np.array([-5.0, -4.0, -9.0])
    assert choose_kind(ll, kinds)[0] == "falling"
    assert choose_kind(ll, kinds, "fighting", 0.9)[0] == "fighting"  # log .9 - log .05 > 1 nat
    assert choose_kind(ll, kinds, "fighting", 0.9, prior_weight=0.0)[0] == "falling"
    assert choose_kind(ll, kinds, "riot", 0.99)[0] == "falling"  # not an allowed kind: no prior
    kind, p = choose_kind(ll, kinds)
    assert abs(p - np.exp(-4) / np.exp([-5.0, -4.0, -9.0]).sum()) < 1e-9


def test_choose_kind_says_normal_where_the_kind_head_does():
    # A false interval: its label is the likeliest *anomaly* kind, but the kind head reads the
    # frames as normal; the LLM has no preference. A true event: the kind head is sure of it.
    kinds = ("normal", "fighting", "falling", "running")
    flat = np.zeros(4)
    assert choose_kind(flat, kinds, "fighting", 0.4)[0] == "fighting"  # without normal_p: never normal
    assert choose_kind(flat, kinds, "fighting", 0.4, normal_p=0.5)[0] == "normal"
    assert choose_kind(flat, kinds, "fighting", 0.9, normal_p=0.05)[0] == "fighting"
    # the prior is a distribution: normal_p on normal, label_p of the rest on the label
    _, share = choose_kind(flat, kinds, "fighting", 0.6, normal_p=0.3)
    assert share == pytest.approx(0.7 * 0.6)
    # a null normal_p (older rows, a classifier without a kind head) keeps the old prior
    for missing in (None, float("nan"), np.float32("nan")):
        assert choose_kind(flat, kinds, "fighting", 0.4, normal_p=missing) == choose_kind(
            flat, kinds, "fighting", 0.4
        )
    # no label, no prior at all; and the LLM still decides against a weak prior
    assert choose_kind(np.array([-9.0, 0, -9, -9]), kinds, None, None, normal_p=0.9)[0] == "fighting"
    assert choose_kind(np.array([-9.0, 0, -9, -9]), kinds, "falling", 0.4, normal_p=0.5)[0] == "fighting"
    assert choose_kind(np.zeros(2), ("normal", "fighting"), "fighting", 0.9, normal_p=0.2)[0] == "fighting"


def test_video_summaries_one_row_per_video():
    def row(video, i, label, desc, analysis=None, error=False):
        f = {"error": "x"} if error else {"judgement": label, "description": desc}
        return {"video_id": video, "interval_id": i, "label": label, "description": desc,
                "analysis": analysis, "fields": json.dumps(f), "model_version": "m",
                "prompt_version": PROMPT_VERSION, "camera_id": "cam01", "date": "2026-11-21"}  # fmt: skip

    rows = [
        row("a", 1, "falling", "a person falls", "may be hurt"),
        row("a", 0, "fighting", "two people fight", "violence"),
        row("a", 2, "normal", "people walk"),
        row("b", 0, "normal", "people walk"),
        row("c", 0, None, None, error=True),
    ]
    out = {r["video_id"]: r for r in video_summaries(rows)}
    assert set(out) == {"a", "b"}
    a = out["a"]
    assert a["interval_id"] is None and a["label"] == "fighting" and a["camera_id"] == "cam01"
    assert a["judgement"] == "fighting, falling" and a["analysis"] == "violence"
    assert a["description"] == "interval 0: two people fight; interval 1: a person falls"  # not 2: normal
    assert parse_fields(a["text"])["judgement"] == "fighting, falling"
    assert out["b"]["judgement"] == "normal" and out["b"]["label"] == "normal"
    assert out["b"]["description"] == "interval 0: people walk"


def test_parse_fields_and_label():
    text = "Judgement: road accident. Description: a car hits a pole at 2.5s. Analysis: sudden collision."
    f = parse_fields(text)
    assert f == {
        "judgement": "road accident",
        "description": "a car hits a pole at 2.5s",
        "analysis": "sudden collision",
    }
    assert parse_label(text) == "road accident"
    assert parse_label("Judgment: Car accident. Description: two people fight afterwards.") == "car accident"
    assert parse_label("two men start fighting, later a robbery") == "fighting"
    assert parse_label("Judgement: normal. Description: people walk.") == "normal"
    assert parse_label("something blurry moves") is None
    assert parse_fields("no structure here") == {}


def test_summaries_table_has_the_fields_kind_and_a_whole_video_row():
    obj = SimpleNamespace(camera_id="cam01", date="2026-11-21")
    rows = [
        {"video_id": "a", "interval_id": 0, "text": "Judgement: fighting. Description: two people fight.",
         "label": "fighting", "judgement": "fighting", "description": "two people fight", "analysis": None,
         "fields": json.dumps({"judgement": "fighting", "description": "two people fight"}),
         "model_version": "m", "prompt_version": PROMPT_VERSION},
    ]  # fmt: skip
    tables = build_tables({"a": obj}, [], rows, run_id="r1", model_version="m", processed_at=None)
    table = conform("summaries", tables["summaries"]).to_pylist()
    assert [r["interval_id"] for r in table] == [0, None]
    assert all(r["kind"] == "fighting" and r["judgement"] == "fighting" for r in table)
    assert table[1]["description"] == "interval 0: two people fight" and table[1]["text"]

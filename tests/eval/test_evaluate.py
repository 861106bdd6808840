"""Evaluation: frame AUC/AP from a results folder vs sklearn, interval P/R, QA scoring, the ablation smoke run."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from schemas.tables import conform
from va_gpt.data.benchmarks import to_frame_labels
from va_gpt.eval import evaluate as ev
from va_gpt.io import storage
from va_gpt.ops.metrics import expand_scores_to_frames

RUN = "20261121T220000Z-test01"
FPS = 30.0
# name, class, events (native frames, exclusive ends), duration s
VIDEOS = [
    ("Abuse001_x264", "Abuse", [(60, 150)], 10.0),
    ("Arson002_x264", "Arson", [(30, 90), (200, 260)], 10.0),
    ("Normal_Videos_003_x264", "Normal", [], 10.0),
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared 2-core machine: one torch thread is faster (no OpenMP waits) and fair."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _score_curve(events, duration, seed):
    """2 fps scores: noisy, higher inside the events."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, duration, 0.5)
    s = rng.uniform(0.0, 0.5, len(t))
    for a, b in events:
        inside = (t * FPS >= a) & (t * FPS < b)
        s[inside] = rng.uniform(0.3, 1.0, inside.sum())
    return t, s.astype(np.float32).astype(np.float64)


def write_results(root: str, videos=VIDEOS, intervals=None, uri_prefix="s3://archive/ucf/") -> dict:
    """A committed results folder with the four tables (schemas/tables.py), the way nightly writes one."""
    now = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    tables = {"videos": [], "frame_scores": [], "intervals": [], "summaries": []}
    curves = {}
    for i, (name, _, events, dur) in enumerate(videos):
        uri = f"{uri_prefix}{name}.mp4"
        vid = storage.video_id_for(uri)
        part = {"camera_id": "cam01", "date": "2026-11-21"}
        tables["videos"].append(
            dict(video_id=vid, uri=uri, etag="e", size=1, **part, start_time=None, duration_s=dur, fps=FPS,
                 frames_sampled=int(dur * 2), status="ok", error_message=None, pipeline_version="p",
                 model_version="m", run_id=RUN, processed_at=now)
        )  # fmt: skip
        t, s = _score_curve(events, dur, i)
        curves[name] = (t, s)
        for tt, ss in zip(t, s):
            tables["frame_scores"].append(
                dict(
                    video_id=vid,
                    **part,
                    t=float(tt),
                    timestamp=None,
                    score=float(ss),
                    diff_energy=0.0,
                    run_id=RUN,
                )
            )
        for k, (a, b) in enumerate((intervals or {}).get(name, [])):
            tables["intervals"].append(
                dict(video_id=vid, interval_id=k, **part, start_s=a, end_s=b, start_time=None, end_time=None,
                     peak_score=0.9, mean_score=0.7, box=[0.0, 0.0, 1.0, 1.0], label=None, run_id=RUN)
            )  # fmt: skip
    staged = {}
    for table, rows in tables.items():
        if not rows:
            continue
        url = storage.part_url(root, table, "2026-11-21", "cam01", RUN, 0, staged=True)
        buf = io.BytesIO()
        pq.write_table(conform(table, rows), buf)
        storage.write_bytes(url, buf.getvalue())
        staged[table] = [url]
    storage.publish(root, RUN, staged)
    return curves


def write_ucf(path, videos=VIDEOS) -> str:
    lines = []
    for name, cls, events, _ in videos:
        vals = [v for e in events for v in e] + [-1] * (4 - 2 * len(events))
        lines.append("  ".join([f"{name}.mp4", cls, *map(str, vals)]))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.timeout(60)
def test_frame_auc_ap_match_sklearn(tmp_path):
    results = str(tmp_path / "results")
    curves = write_results(results)
    ann = ev.load_annotations(write_ucf(tmp_path / "Temporal_Anomaly_Annotation.txt"))
    got = ev.frame_metrics(results, ann)
    # the same arrays by hand: scores held on every native frame, labels [s, e)
    ys, ss = [], []
    for name, _, _, dur in VIDEOS:
        n = int(dur * FPS)
        t, s = curves[name]
        ss.append(expand_scores_to_frames(t, s, n, FPS))
        ys.append(to_frame_labels(ann[name], n))
    y, s = np.concatenate(ys), np.concatenate(ss)
    assert got.n_videos == 3 and got.n_frames == len(y) == 900 and got.n_positive == 90 + 60 + 60
    assert got.auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert got.ap_sklearn == pytest.approx(average_precision_score(y, s), abs=1e-12)
    p, r, _ = precision_recall_curve(y, s)
    assert got.ap_trapezoid == pytest.approx(auc(r, p), abs=1e-12)
    assert got.unmatched == [] and got.missing == []


@pytest.mark.timeout(60)
def test_matching_by_relative_key_xd_normals_and_ambiguity():
    from va_gpt.data.benchmarks import VideoAnnotation

    a = VideoAnnotation(
        name="cam01/2026-11-21/220000.mp4",
        source="ucf_crime",
        labels=("Fighting",),
        fps=30.0,
        events_s=((1.0, 2.0),),
    )
    b = VideoAnnotation(
        name="cam02/2026-11-21/220000.mp4", source="ucf_crime", labels=(), fps=30.0, events_s=()
    )
    anns = {ev._strip_ext(x.name): x for x in (a, b)}
    m = ev.match_videos(
        [("v1", "s3://arch/cam01/2026-11-21/220000.mp4"), ("v2", "s3://arch/cam02/2026-11-21/220000.mp4"),
         ("v3", "s3://x/Some.Movie_label_A.mp4"), ("v4", "s3://x/unknown.mp4")],
        anns,
    )  # fmt: skip
    assert m.matched["v1"] is a and m.matched["v2"] is b
    assert not m.matched["v3"].is_anomalous and m.implicit_normal == ["s3://x/Some.Movie_label_A.mp4"]
    assert m.unmatched == ["s3://x/unknown.mp4"]
    stems = {"220000": VideoAnnotation(name="220000", source="ucf_crime", labels=(), fps=30.0, events_s=())}
    with pytest.raises(ev.EvaluationError, match="matches two videos"):
        ev.match_videos([("v1", "s3://a/cam01/220000.mp4"), ("v2", "s3://a/cam02/220000.mp4")], stems)


@pytest.mark.timeout(60)
def test_interval_precision_recall_on_crafted_intervals(tmp_path):
    results = str(tmp_path / "results")
    # Abuse001: truth 2.0-5.0 s; Arson002: truth 1.0-3.0 s and 6.667-8.667 s; Normal: none
    write_results(
        results,
        intervals={
            "Abuse001_x264": [(2.2, 5.0)],  # IoU 0.933: a hit at every threshold
            "Arson002_x264": [(1.0, 2.0), (7.5, 9.5)],  # IoU 0.5 and ~0.41
            "Normal_Videos_003_x264": [(4.0, 5.0)],  # a false positive
        },
    )
    ann = ev.load_annotations(write_ucf(tmp_path / "ann.txt"))
    res = ev.interval_metrics(results, ann)
    assert res["n_pred"] == 4 and res["n_gt"] == 3
    r3, r5, r7 = res["by_iou"]["0.3"], res["by_iou"]["0.5"], res["by_iou"]["0.7"]
    assert (r3["tp"], r3["fp"], r3["fn"]) == (3, 1, 0)
    assert (r5["tp"], r5["fp"], r5["fn"]) == (2, 2, 1)
    assert (r7["tp"], r7["fp"], r7["fn"]) == (1, 3, 2)
    assert r5["precision"] == pytest.approx(0.5) and r5["recall"] == pytest.approx(2 / 3)


@pytest.mark.timeout(60)
def test_qa_scoring_on_crafted_answers():
    def rec(i, task, idx):
        opts = ["(A) 0.0s-2.0s", "(B) 3.0s-5.0s", "(C) 6.0s-8.0s", "(D) 9.0s-11.0s"]
        return {"id": str(i), "task": task, "options": opts, "answer_index": idx}

    records = [
        rec(0, "mc_temporal", 1),
        rec(1, "mc_temporal", 2),
        rec(2, "mc_temporal", 0),
        rec(3, "judgement", 3),
    ]
    preds = ["(B) 3.0s-5.0s", "The answer is A", "0.0s-2.0s", "D."]
    qa = ev.qa_metrics(records, preds)
    assert qa.correct.tolist() == [True, False, True, True]
    assert qa.total == pytest.approx(0.75) and qa.temporal == pytest.approx(2 / 3) and qa.n_temporal == 3
    assert (
        ev.qa_records(records + [{"id": "x", "task": "description", "options": None, "answer_index": None}])
        == records
    )
    sm = ev.summary_metrics(["Judgement: fighting. Description: two people fight."] * 2,
                            ["Judgement: fighting. Description: two people fight."] * 2)  # fmt: skip
    assert sm["bleu4"] == pytest.approx(1.0) and sm["rouge_l"] == pytest.approx(1.0)


@pytest.mark.timeout(60)
def test_eval_job_reports_frame_and_interval_metrics(tmp_path, capsys):
    from jobs import evaluate as job

    results = str(tmp_path / "results")
    write_results(results, intervals={"Abuse001_x264": [(2.0, 5.0)]})
    ann = write_ucf(tmp_path / "ann.txt")
    assert job.main(["--results", results, "--annotations", ann, "--out", str(tmp_path / "rep")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"frame", "intervals"}
    assert (
        0 <= report["frame"]["auc"] <= 1
        and "ap_sklearn" in report["frame"]
        and "ap_trapezoid" in report["frame"]
    )
    assert json.loads((tmp_path / "rep" / "report.json").read_text()) == report
    assert job.main(["--results", results]) == 1
    assert "need both --results and --annotations" in capsys.readouterr().err


@pytest.mark.timeout(180)
def test_ablation_smoke_writes_table_and_plot(tmp_path):
    from va_gpt.config import load_preset
    from va_gpt.models.vagpt import from_preset
    from va_gpt.synthetic.generate import generate_archive
    from va_gpt.train.data import SampleBuilder, ScoreCache, record_texts, synthetic_records

    preset = load_preset("tiny")
    truth = generate_archive(
        str(tmp_path / "videos"), cameras=1, videos_per_camera=2, duration_s=6.0, width=96, height=64, fps=10.0,
        anomaly_kinds=("fighting",), normal_fraction=0.0, seed=4,
    )  # fmt: skip
    recs = synthetic_records(truth, "test", tasks=("mc_temporal", "temporal"))
    curves = {truth.video_url(v.key): (np.arange(0, 6, 0.5), np.linspace(0, 1, 12)) for v in truth.videos}
    builder = SampleBuilder(preset, scores=ScoreCache(curves))
    train_data = builder.build(recs)
    texts = record_texts(recs)
    settings = [
        ev.AblationSetting("SETS 100%", 1.0, "text"),
        ev.AblationSetting("SETS 25%, no TETG", 0.25, "none"),
        ev.AblationSetting("prior", 0.25, "none", video=False),
    ]
    res = ev.run_ablation(
        lambda: from_preset(preset, tokenizer_texts=texts), train_data, recs, builder, tmp_path / "abl",
        settings=settings, steps=1,
    )  # fmt: skip
    md = (tmp_path / "abl" / "ablation.md").read_text()
    assert "| SETS 100% | 100% | text |" in md and "| SETS 25%, no TETG | 25% | none |" in md
    assert sum(res["rows"][0]["answers"].values()) == res["rows"][0]["n"]
    assert (tmp_path / "abl" / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = res["rows"]
    assert rows[0]["compute_ratio"] == pytest.approx(1.0) and rows[1]["compute_ratio"] < 1.0
    assert rows[1]["visual_tokens"] * 4 == rows[0]["visual_tokens"]
    assert rows[2]["visual_tokens"] == 0 and rows[2]["compute_ratio"] < rows[1]["compute_ratio"]
    assert "| prior | no video | none |" in md
    assert all(0 <= r["total_acc"] <= 1 and 0 <= r["scored_total_acc"] <= 1 for r in rows)
    assert all(r["heldout_nll"]["temporal"] > 0 and r["heldout_nll"]["all"] > 0 for r in rows)
    assert "| scored total (%) |" in md


def test_option_candidates_rewrite_the_answer_for_each_option():
    rec = {
        "options": ["(A) 1.0s-3.0s", "(B) 4.0s-6.0s", "(C) 7.0s-9.0s", "(D) 0.5s-2.0s"],
        "answer_index": 1,
        "conversations": [
            {"from": "human", "value": "<video>\nWhen?"},
            {"from": "gpt", "value": "(B) 4.0s-6.0s"},
        ],
    }
    assert ev.option_candidates(rec) == ["(A) 1.0s-3.0s", "(B) 4.0s-6.0s", "(C) 7.0s-9.0s", "(D) 0.5s-2.0s"]
    rec["conversations"][1]["value"] = "The answer is (B), from 4.0s-6.0s."
    assert ev.option_candidates(rec)[2] == "The answer is (C), from 7.0s-9.0s."


@pytest.mark.timeout(120)
def test_scored_choices_pick_the_option_the_model_learned(tmp_path):
    """A tiny model trained to answer (C) prefers (C) by likelihood, whatever order it is asked in."""
    import torch

    from va_gpt.config import load_preset
    from va_gpt.models.vagpt import Sample, from_preset
    from va_gpt.train.vagpt import TrainConfig, train

    preset = load_preset("tiny")
    opts = ["(A) 1.0s-3.0s", "(B) 4.0s-6.0s", "(C) 7.0s-9.0s", "(D) 10.0s-12.0s"]
    rec = {"options": opts, "answer_index": 2, "task": "mc_temporal",
           "conversations": [{"from": "human", "value": "<video>\nq"}, {"from": "gpt", "value": opts[2]}]}  # fmt: skip
    rng = np.random.default_rng(0)
    size = preset.encoder.image_size
    sample = Sample(
        frames=rng.integers(0, 255, (2, size, size, 3), dtype=np.uint8), t=np.array([0.0, 0.5]),
        question="When?", answer=opts[2],
    )  # fmt: skip
    torch.manual_seed(0)
    model = from_preset(preset, tokenizer_texts=opts)
    model = train(model, [sample], TrainConfig(stage=2, steps=25, lr=3e-3, batch_size=1, log_every=0)).model
    assert ev.scored_choices(model, [rec], [sample]) == ["(C)"]
    assert ev.qa_metrics([rec], ["(C)"]).total == 1.0

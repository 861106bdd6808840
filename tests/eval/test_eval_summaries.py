"""jobs/eval_summaries.py's readability count: which summary fields are training sentences whole."""

from __future__ import annotations

from jobs.eval_summaries import PLAIN_SENTENCES, evaluate, field_sentences
from va_gpt.synthetic.scene import Event
from va_gpt.synthetic.truth import VideoTruth


def summary(text: str, description: str | None, analysis: str | None, label: str = "fighting") -> dict:
    return {"text": text, "label": label, "description": description, "analysis": analysis}


def test_whole_missing_and_broken_fields_are_told_apart():
    whole = summary(
        "Judgement: fighting. Description: two people fight each other. It happens from 6.0s to 11.0s. "
        "Analysis: violence between people is dangerous.",
        "two people fight each other. It happens from 6.0s to 11.0s",
        "violence between people is dangerous.",
    )
    assert field_sentences(whole) == ["two people fight each other", "violence between people is dangerous"]
    assert all(f in PLAIN_SENTENCES for f in field_sentences(whole))
    broken = summary(
        "Judgement: explosion. Description: a fire flares up after an explosion. Analysis: fire puts people in this.",
        "a fire flares up after an explosion.",
        "fire puts people in this.",
        "explosion",
    )
    dropped = summary(
        "Judgement: normal. Description: people walk along the street.",
        "people walk along the street",
        None,
        "normal",
    )
    uri = "file:///a/cam01/v.mp4"
    truth = {uri: VideoTruth(key="cam01/v.mp4", camera_id="cam01", date="2026-11-21", start_time="22:00:00",
                             duration_s=20.0, fps=15.0, num_frames=300, width=640, height=480, codec="h264",
                             seed=1, camera_seed=2, label="fighting",
                             events=[Event("fighting", 6.0, 11.0, (0, 0, 1, 1), "Two people fight.")])}  # fmt: skip
    rows = [{"uri": uri, "start_s": 6.0, "end_s": 11.0}] * 3
    report = evaluate(rows, [whole, broken, dropped], truth)
    assert (report["fields"], report["whole_fields"], report["missing_fields"]) == (6, 4, 1)

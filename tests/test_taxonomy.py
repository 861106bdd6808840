"""The anomaly kinds: display names and synonyms parse back, benchmark labels map, describe names every demo kind."""

from __future__ import annotations

import json

import pytest

from tests.shared_paths import BENCHMARKS
from va_gpt import taxonomy as tx
from va_gpt.data.instruct.templates import SHORT_ANALYSIS, SHORT_DESCRIPTION, fields_answer
from va_gpt.pipeline.describe import parse_label

# a few free-text phrasings per demo kind, as captions and answers word them
PHRASES = {
    "fighting": ["two people fight", "a brawl breaks out", "they were fighting"],
    "falling": ["a person falls down", "someone collapses on the pavement", "he fell"],
    "running": ["people start running", "the crowd ran off", "pedestrians flee"],
    "explosion": ["an explosion", "something explodes", "a blast"],
    "collision": ["two cars collide", "a crash on the road", "a collision"],
    "abandoned_object": ["an abandoned bag", "an unattended package", "a person leaves a bag behind"],
}


def test_every_kind_display_name_parses_back():
    for name, kind in tx.KINDS.items():
        assert tx.parse_kind(kind.display) == name, name
        assert tx.parse_kind(kind.display.upper()) == name
        assert tx.display(name) == kind.display
    assert tx.display("something_new") == "something new"


@pytest.mark.parametrize("kind", tx.SYNTHETIC_KINDS)
def test_demo_kinds_and_their_synonyms_parse_back(kind):
    assert kind in tx.KINDS
    for phrase in PHRASES[kind]:
        assert tx.parse_kind(phrase) == kind, phrase
    # the demo's answers: describe's label parsing names every kind, with and without the judgement
    answer = fields_answer(tx.display(kind), SHORT_DESCRIPTION[kind], SHORT_ANALYSIS[kind])
    assert parse_label(answer) == kind
    assert parse_label(SHORT_DESCRIPTION[kind]) == kind


def test_earliest_and_longest_mention_wins():
    assert tx.parse_kind("a fight, then a robbery") == "fighting"
    assert tx.parse_kind("a car accident") == "car accident"
    assert tx.parse_kind("a road accident") == "road accident"
    assert tx.parse_kind("nothing abnormal happens") == "normal"
    assert tx.parse_kind("an abnormal event") is None  # "abnormal" alone names no kind
    assert tx.parse_kind("Judgement: normal") == "normal"
    assert tx.parse_kind("") is None


def test_kind_mentions_every_kind_in_order():
    text = "Two people fight; one falls. Nothing abnormal after the car accident, no accident later"
    assert tx.kind_mentions(text) == [
        ("fighting", "fight"),
        ("falling", "falls"),
        ("normal", "Nothing abnormal"),
        ("car accident", "car accident"),
    ]
    assert tx.kind_mentions("an abnormal event") == []


def test_benchmark_labels_map_to_kinds():
    assert len(tx.UCF_CLASSES) == 13
    for cls in tx.UCF_CLASSES:
        kind = tx.ucf_kind(cls)
        assert kind in tx.KINDS and tx.parse_kind(tx.display(kind)) == kind
    assert tx.ucf_kind("RoadAccidents") == "road accident" and tx.ucf_kind("Shoplifting") == "shoplifting"
    assert sorted(tx.XD_LABELS) == ["A", "B1", "B2", "B4", "B5", "B6", "G"]
    assert all(k in tx.KINDS for k in tx.XD_LABELS.values())
    assert tx.XD_LABELS["A"] == tx.NORMAL
    # a synthetic archive's UCF-style classes read back to the synthetic kinds, except collision,
    # which is written as UCF's RoadAccidents
    for kind, cls in tx.SYNTHETIC_UCF_CLASSES.items():
        assert tx.ucf_kind(cls) == ("road accident" if kind == "collision" else kind)
    assert set(tx.SYNTHETIC_UCF_CLASSES) == set(tx.SYNTHETIC_KINDS)


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="shared/benchmarks not present")
def test_hivau_labels_are_ucf_classes():
    data = json.loads((BENCHMARKS / "hivau" / "ucf_database_test.json").read_text())
    labels = {label for v in data.values() for label in v["label"]}
    assert labels and labels <= set(tx.UCF_CLASSES)

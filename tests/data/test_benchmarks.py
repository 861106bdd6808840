"""Parsers of the real benchmark annotation files in shared/benchmarks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.shared_paths import BENCHMARKS
from va_gpt.data.benchmarks import (
    XD_LABELS,
    AnnotationError,
    VideoAnnotation,
    parse_hivau,
    parse_hivau_instructions,
    parse_ucf_temporal,
    parse_ucf_test_list,
    parse_xd_annotations,
    parse_xd_multiclass,
    seconds_to_frame,
    to_frame_labels,
    to_video_annotation,
)

BENCH = BENCHMARKS

UCF_TEMPORAL = BENCH / "ucf_crime" / "Temporal_Anomaly_Annotation.txt"
UCF_TEST = BENCH / "ucf_crime" / "Anomaly_Test.txt"
XD = BENCH / "xd_violence" / "annotations.txt"
XD_MC = BENCH / "xd_violence" / "annotations_multiclasses.txt"
HIVAU = BENCH / "hivau" / "ucf_database_test.json"
HIVAU_INSTR = BENCH / "hivau" / "instruction_test_sample.jsonl"

pytestmark = pytest.mark.skipif(not BENCH.is_dir(), reason="shared/benchmarks not present")


# --------------------------------------------------------------------------- UCF-Crime


@pytest.mark.timeout(30)
def test_ucf_temporal_counts():
    ann = parse_ucf_temporal(UCF_TEMPORAL)
    assert len(ann) == 290
    assert sum(a.is_anomalous for a in ann) == 140
    assert sum(not a.is_anomalous for a in ann) == 150
    assert all(a.fps == 30.0 for a in ann)
    assert sum(len(a.events) == 2 for a in ann) == 16
    assert all(a.events == () for a in ann if a.label == "Normal")
    assert Counter(a.label for a in ann)["Explosion"] == 21


@pytest.mark.timeout(30)
def test_ucf_temporal_two_event_lines_by_value():
    ann = {a.name: a for a in parse_ucf_temporal(UCF_TEMPORAL)}
    arson = ann["Arson011_x264"]  # "Arson011_x264  Arson  150  420  680  1267"
    assert arson.label == "Arson"
    assert arson.events == ((150, 420), (680, 1267))
    np.testing.assert_allclose(arson.events_s, [(5.0, 14.0), (680 / 30, 1267 / 30)])
    assert ann["Shooting047_x264"].events == ((2160, 3900), (4860, 6600))
    assert ann["Abuse028_x264"].events == ((165, 240),)
    assert ann["Abuse028_x264"].line == 1
    normal = ann["Normal_Videos_003_x264"]
    assert not normal.is_anomalous and normal.events == ()

    video = arson.to_video()
    assert video.labels == ("Arson",) and video.source == "ucf_crime"
    assert video.frame_ranges() == [(150, 420), (680, 1267)]
    assert normal.to_video().labels == () and normal.to_video().label == "normal"


@pytest.mark.timeout(30)
def test_ucf_frame_labels_exclusive_end_and_clipping():
    ann = {a.name: a for a in parse_ucf_temporal(UCF_TEMPORAL)}
    gt = to_frame_labels(ann["Arson011_x264"], 1266)  # the video has 1266 frames; e2 = 1267
    assert gt.dtype == np.int8 and gt.shape == (1266,)
    assert gt[149] == 0 and gt[150] == 1 and gt[419] == 1 and gt[420] == 0  # [150, 420)
    assert gt[679] == 0 and gt[680:].all()
    assert gt.sum() == (420 - 150) + (1266 - 680)
    assert to_frame_labels(ann["Normal_Videos_003_x264"], 500).sum() == 0
    assert to_frame_labels(ann["Abuse028_x264"], 100).sum() == 0  # event after the end


@pytest.mark.timeout(30)
def test_ucf_test_list_matches_temporal():
    entries = parse_ucf_test_list(UCF_TEST)
    assert len(entries) == 290
    assert entries[0].path == "Abuse/Abuse028_x264.mp4"
    assert entries[0].name == "Abuse028_x264" and entries[0].label == "Abuse"
    normals = [e for e in entries if not e.is_anomalous]
    assert len(normals) == 150
    assert {e.folder for e in normals} == {"Testing_Normal_Videos_Anomaly"}
    temporal = {a.name: a.label for a in parse_ucf_temporal(UCF_TEMPORAL)}
    assert {e.name: e.label for e in entries} == temporal


# --------------------------------------------------------------------------- XD-Violence


@pytest.mark.timeout(30)
def test_xd_annotations_counts_and_labels():
    assert not XD.read_bytes().endswith(b"\n")  # the real file's last line has no newline
    ann = parse_xd_annotations(XD)
    assert len(ann) == 500
    assert all(a.is_anomalous for a in ann)
    assert all(a.fps == 24.0 for a in ann)
    assert sum(len(a.codes) > 1 for a in ann) == 47
    per_code = Counter(c for a in ann for c in a.codes)
    assert per_code == {"B1": 126, "B2": 104, "B4": 101, "B5": 11, "B6": 106, "G": 103}

    first = ann[0]
    assert first.name == "v=S-7rRLrxnVQ__#1_label_B4-0-0"
    assert first.codes == ("B4",) and first.labels == ("riot",)
    assert first.events == ((0, 1517), (1970, 3038))
    np.testing.assert_allclose(first.events_s, [(0.0, 1517 / 24), (1970 / 24, 3038 / 24)])

    last = ann[-1]  # no trailing newline
    assert last.line == 500 and last.name == "City.of.God.2002__#01-24-10_01-25-10_label_B2-0-0"
    assert last.events == ((340, 1090),)


@pytest.mark.timeout(30)
def test_xd_multi_label_names_and_mp4_suffix():
    ann = {a.name: a for a in parse_xd_annotations(XD)}
    bad_boys = ann["Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6"]
    assert bad_boys.codes == ("G", "B2", "B6")
    assert bad_boys.labels == ("explosion", "shooting", "car accident")
    assert bad_boys.events == ((157, 180), (185, 244), (250, 360), (582, 810))
    video = bad_boys.to_video()
    assert video.labels == ("explosion", "shooting", "car accident") and video.fps == 24.0

    # 14 lines spell the name with ".mp4"; the name drops it, raw_name keeps it
    with_mp4 = [a for a in ann.values() if a.raw_name.endswith(".mp4")]
    assert len(with_mp4) == 14
    u6 = ann["v=U6MC8JJJZSY__#1_label_G-0-0"]
    assert u6.raw_name == "v=U6MC8JJJZSY__#1_label_G-0-0.mp4" and u6.line == 199
    assert u6.codes == ("G",) and u6.events == ((150, 779),)


@pytest.mark.timeout(30)
def test_xd_multiclass():
    mc = parse_xd_multiclass(XD_MC)
    assert len(mc) == 500
    first = mc[0]
    assert [(s.code, s.start, s.end) for s in first.segments] == [("B4", 0, 1517), ("B4", 1970, 3038)]
    by_name = {a.name: a for a in mc}
    bb = by_name["Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6"]
    assert [s.code for s in bb.segments] == ["B2", "G", "B2", "G", "G", "B6"]
    assert bb.segments[-1].label == "car accident" and (bb.segments[-1].start, bb.segments[-1].end) == (
        338,
        360,
    )
    # kept as written: a segment class that is not in the name
    ip_man = by_name["Ip.Man.2008__#01-40-37_01-42-07_label_B4-0-0"]
    assert ip_man.codes == ("B4",) and [s.code for s in ip_man.segments] == ["B1"]
    # same videos, in the same order, as annotations.txt; same frame coverage for a plain line
    plain = parse_xd_annotations(XD)
    assert [a.name for a in mc] == [a.name for a in plain]
    assert np.array_equal(to_frame_labels(first, 3100), to_frame_labels(plain[0], 3100))


@pytest.mark.timeout(30)
def test_xd_frame_labels():
    ann = parse_xd_annotations(XD)[0]  # 0 1517 1970 3038
    gt = to_frame_labels(ann, 4000)
    assert gt[:1517].all() and not gt[1517:1970].any() and gt[1970:3038].all() and not gt[3038:].any()


# --------------------------------------------------------------------------- HIVAU


@pytest.mark.timeout(30)
def test_hivau_counts_and_one_video():
    videos = parse_hivau(HIVAU)
    assert len(videos) == 251
    assert sum(v.is_anomalous for v in videos.values()) == 128
    assert all(v.fps == 30.0 for v in videos.values())

    abuse = videos["Abuse028_x264"]
    assert abuse.n_frames == 1412 and abuse.labels == ("Abuse",)
    assert len(abuse.events) == 1
    ev = abuse.events[0]
    assert (ev.start_s, ev.end_s) == (5.5, 8.0)
    assert len(ev.clips) == 1 and (ev.clips[0].start_s, ev.clips[0].end_s) == (5.5, 6.7)
    assert ev.clips[0].caption.startswith("A gray-coated postman walked to the mailbox")
    assert ev.summary_split.judgement == "An anomaly exists, specifically, the anomaly is named Animal Abuse."
    assert ev.summary_split.analysis.startswith("That the intentional infliction of pain")
    assert abuse.summary.startswith('An anomaly exists, specifically named "Animal Abuse".')
    assert abuse.summary_split.description.startswith("The anomaly event is the postman's cruel act")

    shop = videos["Shoplifting010_x264"]
    assert [(e.start_s, e.end_s) for e in shop.events] == [(25.0, 30.667), (51.667, 65.667)]
    assert [len(e.clips) for e in shop.events] == [3, 6]
    assert to_frame_labels(shop, shop.n_frames).sum() == (920 - 750) + (1970 - 1550)


@pytest.mark.timeout(30)
def test_hivau_normal_video_events_are_not_anomalies():
    normal = parse_hivau(HIVAU)["Normal_Videos_003_x264"]
    assert normal.labels == () and not normal.is_anomalous
    assert [(e.start_s, e.end_s) for e in normal.events] == [(13.3, 43.967), (47.4, 78.1)]
    assert [len(e.clips) for e in normal.events] == [2, 3]
    assert normal.events[0].summary_split.analysis is None
    assert normal.summary_split.judgement == "No anomaly exists in the video."
    video = normal.to_video()
    assert video.events_s == () and len(video.captions) == 5 and len(video.event_summaries) == 2
    assert video.n_frames == 2822
    assert to_frame_labels(normal, normal.n_frames).sum() == 0


@pytest.mark.timeout(60)
def test_hivau_seconds_map_back_to_ucf_frames():
    """HIVAU events are UCF's frame annotation in seconds: the frame labels agree,
    except for six videos where HIVAU keeps only one of UCF's two events."""
    ucf = {a.name: a for a in parse_ucf_temporal(UCF_TEMPORAL)}
    hivau = parse_hivau(HIVAU)
    assert set(hivau) <= set(ucf)
    differ = {
        name
        for name, v in hivau.items()
        if not np.array_equal(to_frame_labels(v, v.n_frames), to_frame_labels(ucf[name], v.n_frames))
    }
    assert differ == {
        "Arson011_x264",
        "Shooting047_x264",
        "Shoplifting027_x264",
        "Vandalism017_x264",
        "Vandalism028_x264",
        "Vandalism036_x264",
    }
    assert seconds_to_frame(33.333, 30.0) == 1000
    assert seconds_to_frame(59.867, 30.0) == 1796
    assert seconds_to_frame(0.51, 30.0) == 16  # 15.3 frames: not near an integer -> ceil


@pytest.mark.timeout(30)
def test_hivau_instructions():
    rows = parse_hivau_instructions(HIVAU_INSTR)
    assert len(rows) == 300
    assert Counter(r.type for r in rows) == {"clip": 83, "event": 117, "video": 100}
    assert Counter(r.task for r in rows) == {
        "caption": 83,
        "judgement": 73,
        "description": 72,
        "analysis": 72,
    }
    first = rows[0]
    assert (first.id, first.type, first.task) == (0, "video", "judgement")
    assert first.answer == "An anomaly exists, specifically named Animal Abuse."
    assert first.video_name == "Abuse028_x264" and first.event_index is None and first.clip_index is None
    clip = rows[6]
    assert clip.video == "ucf-crime/clips/test/Abuse028_x264_E0C0.mp4" and clip.line == 7
    assert (clip.video_name, clip.event_index, clip.clip_index) == ("Abuse028_x264", 0, 0)
    assert rows[3].type == "event" and (rows[3].video_name, rows[3].event_index) == ("Abuse028_x264", 0)
    # every referenced video is in the HIVAU test annotations
    assert {r.video_name for r in rows} <= set(parse_hivau(HIVAU))


# --------------------------------------------------------------------------- uniform view


@pytest.mark.timeout(30)
def test_uniform_view_across_sources():
    ucf = parse_ucf_temporal(UCF_TEMPORAL)[0]
    xd = parse_xd_annotations(XD)[0]
    hv = parse_hivau(HIVAU)["Abuse028_x264"]
    views = [to_video_annotation(a) for a in (ucf, xd, hv)]
    assert all(isinstance(v, VideoAnnotation) for v in views)
    assert [v.source for v in views] == ["ucf_crime", "xd_violence", "hivau"]
    np.testing.assert_allclose(views[0].events_s, views[2].events_s)  # same video, two sources
    assert views[2].captions[0].text.startswith("A gray-coated postman")
    assert to_video_annotation(views[0]) is views[0]
    assert np.array_equal(to_frame_labels(views[0], 1412), to_frame_labels(ucf, 1412))
    with pytest.raises(TypeError):
        to_video_annotation("Abuse028_x264")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        to_frame_labels(ucf, -1)
    assert set(XD_LABELS) == {"A", "B1", "B2", "B4", "B5", "B6", "G"}


# --------------------------------------------------------------------------- malformed input


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD_UCF = "Abuse028_x264  Abuse  165  240  -1  -1  \n"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "bad, needle",
    [
        ("Arson011_x264  Arson  150  420  680\n", "expected 6 fields"),
        ("Arson011_x264  Arson  150  4x0  -1  -1\n", "not an integer frame index: '4x0'"),
        ("Arson011_x264  Arson  420  150  -1  -1\n", "end 150 is before start 420"),
        ("Arson011_x264  Arson  150  -1  -1  -1\n", "only one of start/end is -1"),
        ("Arson011_x264  Arson  -1  -1  -1  -1\n", "has no event"),
        ("Normal_Videos_003_x264  Normal  1  5  -1  -1\n", "Normal video"),
        ("Abuse028_x264  Abuse  1  5  -1  -1\n", "duplicate video 'Abuse028_x264' (first on line 1)"),
    ],
)
def test_ucf_malformed_names_file_and_line(tmp_path, bad, needle):
    path = _write(tmp_path, "Temporal_Anomaly_Annotation.txt", GOOD_UCF + bad)
    with pytest.raises(AnnotationError) as info:
        parse_ucf_temporal(path)
    err = info.value
    assert err.line == 2 and err.path == str(path)
    assert str(path) in str(err) and "line 2" in str(err) and needle in str(err)


@pytest.mark.timeout(30)
def test_ucf_test_list_malformed(tmp_path):
    path = _write(tmp_path, "Anomaly_Test.txt", "Abuse/Abuse028_x264.mp4\nAbuse028_x264.mp4\n")
    with pytest.raises(AnnotationError, match=r"Anomaly_Test.txt, line 2: expected 'Class/Name.mp4'"):
        parse_ucf_test_list(path)
    path = _write(tmp_path, "Anomaly_Test2.txt", "Abuse/Abuse028_x264.avi\n")
    with pytest.raises(AnnotationError, match=r"line 1: expected an .mp4"):
        parse_ucf_test_list(path)


GOOD_XD = "v=S-7rRLrxnVQ__#1_label_B4-0-0 0 1517 1970 3038\n"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "bad, needle",
    [
        ("v=abc__#1_label_B1-0-0 10 20 30\n", "3 frame fields is odd"),
        ("v=abc__#1_label_B1-0-0 10 2.5e2\n", "not an integer frame index: '2.5e2'"),
        ("v=abc__#1_label_B1-0-0 300 20\n", "end 20 is before start 300"),
        ("v=abc__#1_label_B3-0-0 10 20\n", "unknown label code 'B3'"),
        ("v=abc__#1_label_B1-Z9-0 10 20\n", "unknown label code 'Z9'"),
        ("v=abc__#1_B1-0-0 10 20\n", "no '_label_'"),
        ("v=abc__#1_label_B1-0-0\n", "has no segment"),
        ("v=abc__#1_label_A 10 20\n", "label A"),
    ],
)
def test_xd_malformed_names_file_and_line(tmp_path, bad, needle):
    path = _write(tmp_path, "annotations.txt", GOOD_XD + bad.rstrip("\n"))  # no trailing newline
    with pytest.raises(AnnotationError) as info:
        parse_xd_annotations(path)
    assert info.value.line == 2
    assert f"{path}, line 2: " in str(info.value) and needle in str(info.value)


@pytest.mark.timeout(30)
def test_xd_normal_line_without_segments_is_valid(tmp_path):
    path = _write(tmp_path, "annotations.txt", "A.Beautiful.Mind.2001__#00-25-20_00-29-20_label_A\n")
    (ann,) = parse_xd_annotations(path)
    assert ann.codes == ("A",) and not ann.is_anomalous and ann.labels == ()
    assert to_frame_labels(ann, 10).sum() == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "bad, needle",
    [
        ("v=abc__#1_label_B1-0-0 B1 10 20 B1 30\n", "not a positive multiple of 3"),
        ("v=abc__#1_label_B1-0-0 B3 10 20\n", "unknown violent label code 'B3'"),
        ("v=abc__#1_label_B1-0-0 A 10 20\n", "unknown violent label code 'A'"),
        ("v=abc__#1_label_B1-0-0 B1 10 x\n", "not an integer frame index: 'x'"),
        ("v=abc__#1_label_B1-0-0 B1 10 5\n", "end 5 is before start 10"),
    ],
)
def test_xd_multiclass_malformed(tmp_path, bad, needle):
    path = _write(
        tmp_path, "annotations_multiclasses.txt", "v=S-7rRLrxnVQ__#1_label_B4-0-0 B4 0 1517\n" + bad
    )
    with pytest.raises(AnnotationError) as info:
        parse_xd_multiclass(path)
    assert info.value.line == 2 and f"{path}, line 2: " in str(info.value) and needle in str(info.value)


def _hivau_entry() -> dict:
    return json.loads(HIVAU.read_text())["Abuse028_x264"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda v: v.pop("fps"), "missing keys ['fps']"),
        (lambda v: v.update(events=[[8.0, 5.5]]), "events[0]: end 5.5 is before start 8.0"),
        (lambda v: v.update(events=[[5.5]]), "events[0]: expected [start_s, end_s]"),
        (lambda v: v.update(n_frames="1412"), "n_frames must be a positive integer"),
        (lambda v: v["clips_caption"][0].append("extra"), "1 clips but 2 clip captions"),
        (lambda v: v["events_summary"].append("extra"), "per-event lists differ in length"),
        (lambda v: v["video_summary_split"].pop("judgement"), "video_summary_split: missing key 'judgement'"),
    ],
)
def test_hivau_malformed_names_file_and_video(tmp_path, mutate, needle):
    entry = _hivau_entry()
    mutate(entry)
    path = _write(tmp_path, "db.json", json.dumps({"Abuse028_x264": entry}))
    with pytest.raises(AnnotationError) as info:
        parse_hivau(path)
    assert info.value.entry == "Abuse028_x264"
    assert str(path) in str(info.value) and "'Abuse028_x264'" in str(info.value) and needle in str(info.value)


@pytest.mark.timeout(30)
def test_hivau_invalid_json_names_line(tmp_path):
    path = _write(tmp_path, "db.json", '{\n  "a": {\n    "n_frames": 10,\n  }\n}')
    with pytest.raises(AnnotationError) as info:
        parse_hivau(path)
    assert info.value.line == 4 and "invalid JSON" in str(info.value)


GOOD_INSTR = HIVAU_INSTR.read_text().splitlines()[0] + "\n" if HIVAU_INSTR.exists() else ""


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "bad, needle",
    [
        ('{"id": 1, "type": "video", "task": "judgement", "video": "a.mp4", "prompt": "p"', "invalid JSON"),
        ('{"id": 1, "type": "video", "task": "judgement", "video": "a.mp4", "prompt": "p"}', "missing keys"),
        (
            '{"id": "1", "type": "video", "task": "t", "video": "a.mp4", "prompt": "p", "anwser": "x"}',
            "id must",
        ),
        (
            '{"id": 1, "type": "frame", "task": "t", "video": "a.mp4", "prompt": "p", "anwser": "x"}',
            "unknown type",
        ),
        (
            '{"id": 1, "type": "clip", "task": "t", "video": "v/a_E0.mp4", "prompt": "p", "anwser": "x"}',
            "fit type",
        ),
        (
            '{"id": 0, "type": "video", "task": "t", "video": "a.mp4", "prompt": "p", "anwser": "x"}',
            "duplicate id 0",
        ),
    ],
)
def test_hivau_instructions_malformed(tmp_path, bad, needle):
    path = _write(tmp_path, "instr.jsonl", GOOD_INSTR + bad + "\n")
    with pytest.raises(AnnotationError) as info:
        parse_hivau_instructions(path)
    assert info.value.line == 2 and f"{path}, line 2: " in str(info.value) and needle in str(info.value)


@pytest.mark.timeout(30)
def test_missing_file_is_annotation_error(tmp_path):
    with pytest.raises(AnnotationError, match="cannot read file"):
        parse_ucf_temporal(tmp_path / "nope.txt")

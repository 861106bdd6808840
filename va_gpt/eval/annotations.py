"""Benchmark annotations and which result video each one belongs to.

Annotation files (UCF-Crime ``Temporal_Anomaly_Annotation.txt``, XD-Violence
``annotations.txt`` / ``annotations_multiclasses.txt``, HIVAU JSON) are parsed by
va_gpt.data.benchmarks; the format is told from the content (`detect_format`).
Videos are matched by file name (`match_videos`): the annotation name (a stem
like ``Arson011_x264``, or a relative key like ``cam01/2026-11-21/220000.mp4``)
must be the trailing part of the video URI without its extension. XD-Violence
does not list its normal test videos: a video named ``..._label_A`` is taken as
normal. `match_results` does it for the `videos` table of a results folder.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from va_gpt.data import benchmarks as bm
from va_gpt.eval.errors import EvaluationError
from va_gpt.lake.query import query

FORMATS = ("auto", "ucf", "xd", "xd_multiclass", "hivau")


def _strip_ext(name: str) -> str:
    base = posixpath.basename(name)
    stem, ext = posixpath.splitext(base)
    return name[: -len(ext)] if ext.lower() in (".mp4", ".avi", ".mkv", ".mov", ".ts", ".webm") else name


def detect_format(path: str | os.PathLike) -> str:
    """ucf | xd | xd_multiclass | hivau, from the file's content."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return "hivau"
    try:
        with open(p, encoding="utf-8") as f:
            first = next((line.split() for line in f if line.strip()), None)
    except OSError as e:
        raise EvaluationError(f"{path}: cannot read the annotation file ({e})") from None
    if not first:
        raise EvaluationError(f"{path}: empty annotation file")
    if "_label_" in first[0]:
        return "xd_multiclass" if len(first) > 1 and not first[1].lstrip("-").isdigit() else "xd"
    return "ucf"


def load_annotations(path: str | os.PathLike, fmt: str = "auto") -> dict[str, bm.VideoAnnotation]:
    """Parse a benchmark annotation file -> {name without extension: VideoAnnotation}."""
    if fmt not in FORMATS:
        raise EvaluationError(f"annotation format must be one of {FORMATS}, got {fmt!r}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "ucf":
        items = bm.parse_ucf_temporal(path)
    elif fmt == "xd":
        items = bm.parse_xd_annotations(path)
    elif fmt == "xd_multiclass":
        items = bm.parse_xd_multiclass(path)
    else:
        items = list(bm.parse_hivau(path).values())
    out = {}
    for a in items:
        v = bm.to_video_annotation(a)
        out[_strip_ext(v.name)] = v
    if not out:
        raise EvaluationError(f"{path}: no annotated video")
    return out


def load_hard_negatives(path: str | os.PathLike) -> dict[str, tuple[str, ...]]:
    """A synthetic archive's truth (`_truth/events.json`, written by `vagpt synth`) -> {video name
    without extension, as load_annotations names it: the hard negatives its normal scenes show
    (va_gpt.synthetic.distractors: shake, lighting, crowd, fast_car, door, rest), () for none or
    an anomalous video}. Why: a detector's false intervals are told apart by what the normal video
    shows (a person lying down, a crowd), which no benchmark annotation file records."""
    try:
        with open(path, encoding="utf-8") as f:
            truth = json.load(f)
    except OSError as e:
        raise EvaluationError(f"{path}: cannot read the archive's truth ({e})") from None
    except json.JSONDecodeError as e:
        raise EvaluationError(f"{path}: not valid JSON ({e})") from None
    videos = truth.get("videos") if isinstance(truth, dict) else None
    if not isinstance(videos, list) or not videos:
        raise EvaluationError(f'{path}: no "videos" list (a synthetic archive\'s _truth/events.json?)')
    out = {}
    for i, v in enumerate(videos):
        key = v.get("key") if isinstance(v, dict) else None
        negatives = v.get("distractors", []) if isinstance(v, dict) else None
        if not isinstance(key, str) or not isinstance(negatives, list):
            raise EvaluationError(
                f'{path}: video {i} lacks its "key" or has a "distractors" that is not a list'
            )
        out[_strip_ext(key)] = tuple(str(n) for n in negatives) if not v.get("events") else ()
    return out


@dataclass
class Matching:
    matched: dict[str, bm.VideoAnnotation]  # video_id -> annotation
    names: dict[str, str]  # video_id -> annotation name
    unmatched: list[str]  # URIs of result videos with no annotation
    implicit_normal: list[str]  # XD ..._label_A videos taken as normal without a line


def _uri_path(uri: str) -> str:
    path = uri.split("://", 1)[1] if "://" in uri else uri
    return _strip_ext(path.split("?", 1)[0])


def match_videos(videos: list[tuple[str, str]], annotations: dict[str, bm.VideoAnnotation]) -> Matching:
    """Pair result videos (video_id, uri) with annotations by file name.

    An annotation name matches when it is the URI's trailing path without the
    extension (``.../Arson011_x264.mp4`` ~ ``Arson011_x264``; ``.../cam01/d/220000.mp4``
    ~ ``cam01/d/220000.mp4``); the longest matching name wins; two videos
    claiming one annotation is an error (ambiguous names).
    """
    by_stem: dict[str, list[str]] = {}
    for name in annotations:
        by_stem.setdefault(posixpath.basename(name), []).append(name)
    matched, names, unmatched, implicit = {}, {}, [], []
    claimed: dict[str, str] = {}
    for vid, uri in videos:
        path = _uri_path(uri)
        stem = posixpath.basename(path)
        cands = [n for n in by_stem.get(stem, []) if path == n or path.endswith("/" + n)]
        if cands:
            name = max(cands, key=len)
            if name in claimed and claimed[name] != uri:
                raise EvaluationError(
                    f"annotation {name!r} matches two videos: {claimed[name]} and {uri}; "
                    "use annotation names with their folders (e.g. camera/date/file.mp4)"
                )
            claimed[name] = uri
            matched[vid], names[vid] = annotations[name], name
            continue
        if "_label_" in stem:
            try:
                codes = bm.decode_xd_labels(stem)
            except ValueError:
                codes = ()
            if codes == ("A",):
                matched[vid] = bm.VideoAnnotation(
                    name=stem, source="xd_violence", labels=(), fps=bm.XD_FPS, events_s=()
                )
                names[vid] = stem
                implicit.append(uri)
                continue
        unmatched.append(uri)
    return Matching(matched, names, unmatched, implicit)


def match_results(
    results_url: str, annotations: dict[str, bm.VideoAnnotation], storage_options: dict | None = None
) -> tuple[list[dict], Matching]:
    """The `videos` rows of a results folder (video_id, uri, camera_id, duration_s, fps, status; by
    URI) and their `Matching`; an error when the folder has no video or no video matches an
    annotation name."""
    videos = query(
        results_url,
        "SELECT video_id, uri, camera_id, duration_s, fps, status FROM videos ORDER BY uri",
        storage_options,
    ).to_pylist()
    if not videos:
        raise EvaluationError(f"{results_url}: the results folder has no videos")
    m = match_videos([(v["video_id"], v["uri"]) for v in videos], annotations)
    if not m.matched:
        raise EvaluationError(
            f"none of the {len(videos)} result videos matches an annotation name "
            f"(first video {videos[0]['uri']}, first annotation {next(iter(annotations))!r})"
        )
    return videos, m

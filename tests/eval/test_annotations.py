"""Annotation files and matching result videos to annotation names."""

from __future__ import annotations

import pytest

from va_gpt.data.benchmarks import VideoAnnotation
from va_gpt.eval.annotations import _strip_ext, match_videos
from va_gpt.eval.errors import EvaluationError


@pytest.mark.timeout(60)
def test_matching_by_relative_key_xd_normals_and_ambiguity():
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
    anns = {_strip_ext(x.name): x for x in (a, b)}
    m = match_videos(
        [("v1", "s3://arch/cam01/2026-11-21/220000.mp4"), ("v2", "s3://arch/cam02/2026-11-21/220000.mp4"),
         ("v3", "s3://x/Some.Movie_label_A.mp4"), ("v4", "s3://x/unknown.mp4")],
        anns,
    )  # fmt: skip
    assert m.matched["v1"] is a and m.matched["v2"] is b
    assert not m.matched["v3"].is_anomalous and m.implicit_normal == ["s3://x/Some.Movie_label_A.mp4"]
    assert m.unmatched == ["s3://x/unknown.mp4"]
    stems = {"220000": VideoAnnotation(name="220000", source="ucf_crime", labels=(), fps=30.0, events_s=())}
    with pytest.raises(EvaluationError, match="matches two videos"):
        match_videos([("v1", "s3://a/cam01/220000.mp4"), ("v2", "s3://a/cam02/220000.mp4")], stems)

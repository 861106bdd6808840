"""Parsers for the public video-anomaly benchmark annotation files, one module per benchmark.

Formats (the real files are in ``/work/shared/benchmarks``, see its README):

- UCF-Crime (:mod:`.ucf`): ``Temporal_Anomaly_Annotation.txt`` -> :func:`parse_ucf_temporal`,
  ``Anomaly_Test.txt`` -> :func:`parse_ucf_test_list`
- XD-Violence (:mod:`.xd`): ``annotations.txt`` -> :func:`parse_xd_annotations`,
  ``annotations_multiclasses.txt`` -> :func:`parse_xd_multiclass`
- HIVAU-70k (:mod:`.hivau`): raw annotations -> :func:`parse_hivau`, instruction JSONL
  -> :func:`parse_hivau_instructions`

Every frame range is half-open ``[start, end)`` (VadCLIP's reading; see :mod:`.common`).
Every source converts to one :class:`VideoAnnotation` (``.to_video()`` or
:func:`to_video_annotation`), so the instruction builder and the evaluator treat
the sources alike, and :func:`to_frame_labels` turns any of them into
per-native-frame 0/1 ground truth. Malformed input raises :class:`AnnotationError`,
which names the file, the line (or, for the JSON file, the video) and what is wrong.

This package's namespace is the public API; the code lives in the modules.
"""

from va_gpt.data.benchmarks.common import (
    Annotation,
    AnnotationError,
    Caption,
    SummarySplit,
    VideoAnnotation,
    seconds_to_frame,
    to_frame_labels,
    to_video_annotation,
)
from va_gpt.data.benchmarks.hivau import (
    HIVAU_TYPES,
    HivauClip,
    HivauEvent,
    HivauInstruction,
    HivauVideo,
    parse_hivau,
    parse_hivau_instructions,
)
from va_gpt.data.benchmarks.ucf import (
    UCF_FPS,
    UCF_NORMAL,
    UCF_NORMAL_DIR,
    UcfTemporalAnnotation,
    UcfTestEntry,
    parse_ucf_temporal,
    parse_ucf_test_list,
)
from va_gpt.data.benchmarks.xd import (
    XD_FPS,
    XdAnnotation,
    XdMulticlassAnnotation,
    XdSegment,
    decode_xd_labels,
    parse_xd_annotations,
    parse_xd_multiclass,
)
from va_gpt.taxonomy import XD_LABELS

__all__ = [
    "HIVAU_TYPES",
    "UCF_FPS",
    "UCF_NORMAL",
    "UCF_NORMAL_DIR",
    "XD_FPS",
    "XD_LABELS",
    "Annotation",
    "AnnotationError",
    "Caption",
    "HivauClip",
    "HivauEvent",
    "HivauInstruction",
    "HivauVideo",
    "SummarySplit",
    "UcfTemporalAnnotation",
    "UcfTestEntry",
    "VideoAnnotation",
    "XdAnnotation",
    "XdMulticlassAnnotation",
    "XdSegment",
    "decode_xd_labels",
    "parse_hivau",
    "parse_hivau_instructions",
    "parse_ucf_temporal",
    "parse_ucf_test_list",
    "parse_xd_annotations",
    "parse_xd_multiclass",
    "seconds_to_frame",
    "to_frame_labels",
    "to_video_annotation",
]

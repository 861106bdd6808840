"""VA-Instruction builder: annotated videos -> LLaVA-style instruction-tuning records.

Modules: :mod:`.sources` (synthetic archive / benchmark files -> :class:`VideoItem`),
:mod:`.templates` (questions and answer texts), :mod:`.options` (multiple-choice intervals),
:mod:`.make` (one video's records), :mod:`.build` (the whole build, in process or on Ray),
:mod:`.card` (writing the set and its card), :mod:`.demo` (the demo's small synthetic set).
The record format and reading it back: :mod:`va_gpt.data.records`. This package's namespace
is the public API; the code lives in the modules.

Sources
-------
- ``synthetic``: a synthetic archive's ground truth (:func:`va_gpt.synthetic.truth.load_truth`);
  the videos are in the archive, ``video`` is their URI and ``video_id`` the
  pipeline's id (:func:`va_gpt.io.archive.video_id_for`), so stored features join
  the nightly tables.
- ``ucf_crime`` / ``xd_violence`` / ``hivau``: the real annotation files, read
  by :mod:`va_gpt.data.benchmarks`. The videos are not on this machine:
  ``video`` is the benchmark's file name (UCF-Crime and HIVAU, which annotates
  UCF-Crime test videos: ``Class/Name.mp4`` as in ``Anomaly_Test.txt``, normal
  videos under ``Testing_Normal_Videos_Anomaly/``; XD-Violence: ``Name.mp4``)
  and ``video_id`` the file stem. UCF-Crime and HIVAU share stems, so the same
  video lands in the same split whichever file it came from.

Every source becomes a :class:`VideoItem` (JSON-able, what Ray ships to its
workers); :func:`make_records` turns one item into its records. It is a pure
function of the item and the :class:`RecordConfig`: templates and
multiple-choice shuffles come from RNGs seeded by ``(seed, source, video,
task, index)`` through SHA-1, never Python's ``hash``, so every process and
machine makes the same records.

Records (one row of :data:`RECORD_SCHEMA`; :func:`validate_record` checks one)
-------------------------------------------------------------------------------
``id``            16 hex digits: sha1 of source | video | task | index | template index
``source``        synthetic | ucf_crime | xd_violence | hivau
``video``         URI (synthetic) or benchmark file name (relative to a video root)
``video_id``      pipeline id (synthetic) or file stem (benchmarks)
``clip_start_s``, ``clip_end_s``  the part of the video the question is about:
                  the whole video ``[0, duration]``, or an event with ``pad_s``
                  seconds of context each side (the describe stage's window).
                  ``clip_end_s`` is null when the video's length is unknown
                  (XD-Violence, and UCF-Crime videos HIVAU does not annotate:
                  UCF lengths come from HIVAU's ``n_frames`` where it has the
                  video, see :func:`hivau_durations`): "to the end".
``task``          judgement | description | analysis | temporal | mc_temporal
``kind``          anomaly kind (:mod:`va_gpt.taxonomy`: synthetic kinds, UCF classes
                  lower-cased with RoadAccidents -> "road accident", XD names from
                  ``XD_LABELS``) or "normal"
``split``         train | test, by video (:func:`split_for`), never by record
``conversations`` [{from: human, value: "<video>\\n" + question}, {from: gpt, value: answer}]
``options``       mc_temporal: 4 strings "(A) 12.0s-17.5s"; else null
``answer_index``  mc_temporal: index of the right option; else null
``events``        the video's ground-truth anomalies [[start_s, end_s], ...] (half-open
                  seconds, as annotated; [] for a normal video), for scoring

Tasks per video
---------------
- judgement (every video, whole clip): "Is there an anomaly ...?" ->
  "Yes. There is an anomaly in this video: fighting." / "No. The video is normal: ...".
- description: the describe stage's question (``DESCRIBE_QUESTION``, or a
  paraphrase with the same "Answer as: Judgement: ... Description: ...
  Analysis: ..." instruction) about an event window, answered in that format,
  so the trained model answers the way ``parse_fields`` reads. Synthetic: one
  per anomalous event (caption + per-kind analysis) and one per normal video
  (whole video, judgement normal). HIVAU: one per annotated event (a normal
  video's events are ordinary activity, judgement normal) plus one for the
  whole video from the video summary. UCF-Crime and XD-Violence carry no text:
  no description records.
- analysis (anomalous only, when there is a reason to give): "Why is the event
  between 12.0s and 17.5s abnormal?" -> "Judgement: fighting. Analysis: ...".
  Synthetic: a template per kind; HIVAU: the event's and the video's analysis text.
- temporal (anomalous only, whole clip): "The anomaly happens from 12.0s to
  17.5s." (overlapping annotated events merged, times to 0.1 s).
- mc_temporal (anomalous only, whole clip): four "(A) 12.0s-17.5s" options,
  one of them an annotated event (chosen by the seeded RNG when there are
  several), three distractors with IoU < 0.3 against every event (and, when
  the video leaves room, at most half covered by anomalies), shuffled by the
  seeded RNG; the question ends "Answer with the option's interval, then its letter." and the
  answer is "12.0s-17.5s (B)" (`va_gpt.data.records.mc_answer`: interval first, so a small
  model decides on the content, not on a letter; letter-only "(B)" records still validate).
  Distractors lie inside the video, or, when
  its length is unknown, before the end of the last event plus one event
  length (so the right option is not always the latest). A video with no room
  for three distractors gets no mc_temporal record and is listed in the card's
  ``skipped``. :class:`RecordConfig` can ask for more than one (``mc_variants``).

Styles. :class:`RecordConfig`'s defaults make the varied set above; ``fixed_templates``,
``times_in_answers=False`` and ``describe_jitter`` (extra descriptions about jittered windows)
with ``items_from_synthetic(short_texts=True)`` make the demo's ``plain`` style, which a small
model learns in minutes (:func:`synthetic_records`, :func:`synthetic_instruction_set`).

Outputs (:func:`write_dataset`, any fsspec URL)
-----------------------------------------------
``{out}/{train,test}/records.parquet`` and ``records.jsonl``, ``{out}/card.json``
and ``{out}/README.md`` (counts per split, task, kind and source; sources;
seeds; missing videos; skipped records), optionally
``{out}/features/{video_id}.npz`` (t, score, diff_energy per sampled frame,
from the pipeline's decode + visual stages, see :func:`compute_features`).

Missing videos: with a ``video_root`` (benchmarks) or for the synthetic
archive, the videos are listed once; a video that is not there is logged,
listed in the card's ``missing_videos`` and gets no records.
"""

from va_gpt.data.instruct.build import BUILDER_VERSION, BuildArgs, build, build_records, compute_features
from va_gpt.data.instruct.card import read_card, render_readme, render_summary, write_dataset
from va_gpt.data.instruct.demo import synthetic_instruction_set
from va_gpt.data.instruct.make import (
    SPLIT_SALT,
    STYLES,
    RecordConfig,
    make_records,
    skipped_records,
    split_for,
    synthetic_records,
)
from va_gpt.data.instruct.options import iou, mc_options, merge
from va_gpt.data.instruct.sources import (
    DEFAULT_FILES,
    EventItem,
    VideoItem,
    default_annotations,
    find_missing,
    hivau_durations,
    items_from_annotations,
    items_from_synthetic,
)
from va_gpt.data.instruct.templates import SYNTHETIC_ANALYSIS, TEMPLATES
from va_gpt.data.records import (
    FIELDS,
    RECORD_SCHEMA,
    SOURCES,
    SPLITS,
    TASKS,
    parse_option,
    read_records,
    validate_record,
)

__all__ = [
    "BUILDER_VERSION",
    "DEFAULT_FILES",
    "FIELDS",
    "RECORD_SCHEMA",
    "SOURCES",
    "SPLITS",
    "SPLIT_SALT",
    "STYLES",
    "SYNTHETIC_ANALYSIS",
    "TASKS",
    "TEMPLATES",
    "BuildArgs",
    "EventItem",
    "RecordConfig",
    "VideoItem",
    "build",
    "build_records",
    "compute_features",
    "default_annotations",
    "find_missing",
    "hivau_durations",
    "iou",
    "items_from_annotations",
    "items_from_synthetic",
    "make_records",
    "mc_options",
    "merge",
    "parse_option",
    "read_card",
    "read_records",
    "render_readme",
    "render_summary",
    "skipped_records",
    "split_for",
    "synthetic_instruction_set",
    "synthetic_records",
    "validate_record",
    "write_dataset",
]

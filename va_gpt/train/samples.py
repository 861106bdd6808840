"""VA-Instruction records -> VA-GPT training `Sample`s (records: :mod:`va_gpt.data.records`).

For every record (`SampleBuilder.sample`):

- the clip ``[clip_start_s, clip_end_s]`` is decoded with ``decode_window`` at the
  preset's decode fps and resized to the encoder's image size;
- per-frame anomaly scores for TETG come, in this order, from the record itself
  (optional ``scores`` + ``score_t`` fields), from a `ScoreCache` (curves of a
  nightly results folder, or any {uri: (t, scores)} mapping), or from the visual
  stage (`va_gpt.pipeline.visual.Visual(preset, classifier_dir)`) run over ALL the
  decoded frames of the clip (the full-rate curve, as the nightly job gives it);
- at most ``projector.max_frames`` frames, spread uniformly (`uniform_indices`),
  go to the LLM;
- with ``tetg.kind``, the classifier's anomaly kind of the clip for TETG (`va_gpt.ops.tetg.
  window_kind` over the visual stage's kind head; None from a cache or a record's own scores);
- question = the human turn without ``<video>\\n``, answer = the gpt turn.

Clips are decoded and scored once per run and shared by every record on the
same clip (the encoder features are cached by the trainer). A record whose
video cannot be read is logged with its id, counted and skipped; an empty
record set, a set where nothing is usable, or TETG without any score source
stops with a `DatasetError` that says what to do.
"""

from __future__ import annotations

import io
import json
import logging
import posixpath
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from va_gpt.config import Preset
from va_gpt.data.records import DatasetError, record_answer, record_question
from va_gpt.io.filesystem import filesystem
from va_gpt.lake.query import query
from va_gpt.models.classifier import KINDS, align_outputs
from va_gpt.models.vagpt import Sample, uniform_indices
from va_gpt.ops.tetg import check_scores, window_kind
from va_gpt.pipeline.visual import Visual
from va_gpt.video.clips import decode_window
from va_gpt.video.errors import DecodeError
from va_gpt.video.preprocess import resize_frames

log = logging.getLogger(__name__)

NO_SCORES_HINT = (
    "TETG (tetg.encoding {encoding!r}) needs per-frame anomaly scores and no classifier was given: "
    "pass --classifier DIR (jobs/train_classifier.py), a scores cache (--scores RESULTS_URL) that "
    "covers the videos, or use a preset with tetg.encoding none"
)


class NoScoresError(ValueError):
    """A record whose video has no cached scores while no classifier can compute them."""


# -- scores ------------------------------------------------------------------------------------------


class ScoreCache:
    """Per-video anomaly score curves, keyed by video URI: ``{uri: (t [T] seconds, scores [T])}``.

    `from_results` reads them from a nightly results folder (frame_scores joined
    with videos on video_id), so training can reuse the scores the pipeline
    already computed instead of running the classifier again.
    """

    def __init__(self, curves: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None):
        self.curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for uri, (t, s) in (curves or {}).items():
            self.put(uri, t, s)

    def put(self, uri: str, t, scores) -> None:
        t = np.asarray(t, dtype=np.float64)
        s = np.asarray(scores, dtype=np.float64)
        if t.shape != s.shape or t.ndim != 1:
            raise ValueError(f"scores for {uri}: t {t.shape} and scores {s.shape} must be equal 1-D")
        order = np.argsort(t, kind="stable")
        self.curves[uri] = (t[order], s[order])

    def __contains__(self, uri: str) -> bool:
        return uri in self.curves

    def __len__(self) -> int:
        return len(self.curves)

    def key_for(self, rec: dict) -> str | None:
        """The cache key of a record: its video URI, else its video_id (builder feature files)."""
        for k in (str(rec.get("video")), str(rec.get("video_id"))):
            if k in self.curves:
                return k
        return None

    def window(self, uri: str, start_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray] | None:
        """The curve's samples with start_s <= t <= end_s; None when the video is unknown or none fall inside."""
        if uri not in self.curves:
            return None
        t, s = self.curves[uri]
        inside = (t >= start_s - 1e-6) & (t <= end_s + 1e-6)
        if not inside.any():
            return None
        return t[inside], s[inside]

    @classmethod
    def from_results(cls, results_url: str, storage_options: dict | None = None) -> ScoreCache:
        rows = query(
            results_url,
            "SELECT v.uri, f.t, f.score FROM frame_scores f JOIN videos v USING (video_id) ORDER BY v.uri, f.t",
            storage_options,
        ).to_pydict()
        by_uri: dict[str, tuple[list, list]] = {}
        for uri, t, s in zip(rows["uri"], rows["t"], rows["score"]):
            a, b = by_uri.setdefault(uri, ([], []))
            a.append(t)
            b.append(s)
        return cls({u: (np.array(a), np.array(b)) for u, (a, b) in by_uri.items()})

    @classmethod
    def from_json(cls, url: str, storage_options: dict | None = None) -> ScoreCache:
        """A JSON file ``{uri: {"t": [...], "score": [...]}}``."""
        fs, p = filesystem(url, storage_options)
        with fs.open(p, "rb") as f:
            data = json.load(f)
        return cls({u: (v["t"], v["score"]) for u, v in data.items()})

    @classmethod
    def from_features(cls, url: str, storage_options: dict | None = None) -> ScoreCache:
        """va_gpt.data.instruct's ``{url}/features/{video_id}.npz`` (t, score, ...), keyed by video_id."""
        fs, root = filesystem(url, storage_options)
        root = root.rstrip("/")
        folder = root if root.endswith("/features") else f"{root}/features"
        curves = {}
        for path in sorted(fs.glob(f"{folder}/*.npz")):
            with np.load(io.BytesIO(fs.cat_file(path))) as z:
                curves[posixpath.basename(path)[: -len(".npz")]] = (z["t"], z["score"])
        return cls(curves)

    @classmethod
    def load(cls, url: str, storage_options: dict | None = None) -> ScoreCache:
        """A `.json` file (`from_json`), an instruction set with ``features/`` (`from_features`),
        or a nightly results folder (`from_results`)."""
        if url.endswith(".json"):
            return cls.from_json(url, storage_options)
        fs, root = filesystem(url, storage_options)
        root = root.rstrip("/")
        if root.endswith("/features") or fs.exists(f"{root}/features"):
            return cls.from_features(url, storage_options)
        return cls.from_results(url, storage_options)


def scores_for_records(
    records_url: str, scores_url: str | None = None, storage_options: dict | None = None
) -> ScoreCache | None:
    """`scores_url` loaded (`ScoreCache.load`), else the instruction set's own ``features/`` when it has them."""
    if scores_url:
        return ScoreCache.load(scores_url, storage_options)
    if records_url.endswith((".jsonl", ".parquet")):
        return None
    fs, root = filesystem(records_url, storage_options)
    if fs.exists(f"{root.rstrip('/')}/features"):
        cache = ScoreCache.from_features(records_url, storage_options)
        log.info("TETG scores: %d videos from %s/features", len(cache), records_url.rstrip("/"))
        return cache
    return None


# -- samples -----------------------------------------------------------------------------------------


@dataclass
class ClipData:
    """One decoded clip, shared by every record on it."""

    frames: np.ndarray  # uint8 [T, S, S, 3]: the frames the LLM sees (<= max_frames, uniform)
    t: np.ndarray  # float64 [T]
    score_t: np.ndarray | None  # float64 [T'] all decoded frame times of the clip (the TETG curve)
    scores: np.ndarray | None  # float64 [T'] anomaly scores at score_t
    kind: str | None = None  # the classifier's anomaly kind of the clip (tetg.window_kind)


@dataclass
class Skipped:
    record_id: str
    video: str
    reason: str  # missing | decode_<kind> | no_frames | bad_scores
    message: str


@dataclass
class TrainingSet:
    """Samples ready for VAGPT, with the records they came from and what was skipped."""

    samples: list  # list[va_gpt.models.vagpt.Sample]
    records: list[dict]
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def skipped_counts(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped))


class SampleBuilder:
    """Records -> Samples for one preset, decoding and scoring each clip once (in memory).

    classifier_dir: TETG's anomaly classifier (a folder or checkpoint URL) run by
    the visual stage when a record's video has no cached scores. scores: a
    `ScoreCache` consulted first. random_classifier: allow the visual stage's
    random classifier when neither is given (meaningless scores: tests only).
    """

    def __init__(
        self,
        preset: Preset,
        *,
        classifier_dir: str | None = None,
        scores: ScoreCache | None = None,
        storage_options: dict | None = None,
        random_classifier: bool = False,
    ):
        self.preset = preset
        self.classifier_dir = classifier_dir
        self.cache = scores
        self.storage_options = storage_options
        self.random_classifier = random_classifier
        self._visual = None
        self._clips: dict[tuple[str, float, float], ClipData] = {}

    @property
    def has_score_source(self) -> bool:
        return self.cache is not None or self.classifier_dir is not None or self.random_classifier

    def check_can_score(self, records: list[dict]) -> None:
        """DatasetError when TETG needs scores and nothing at all can give them (no classifier, no
        cache, no record carrying its own); with a cache, records it does not cover are skipped later."""
        if self.preset.tetg.encoding == "none" or self.classifier_dir or self.random_classifier:
            return
        if self.cache is None and not any(r.get("scores") is not None for r in records):
            raise DatasetError(NO_SCORES_HINT.format(encoding=self.preset.tetg.encoding))

    def _visual_stage(self):
        if self._visual is None:
            try:
                self._visual = Visual(self.preset, self.classifier_dir, self.storage_options)
            except (OSError, ValueError) as e:
                raise DatasetError(f"cannot load the anomaly classifier {self.classifier_dir}: {e}") from None
        return self._visual

    def _score(self, rec: dict, frames: np.ndarray, t: np.ndarray, start: float, end: float):
        if rec.get("scores") is not None:
            s = np.asarray(rec["scores"], dtype=np.float64)
            st = np.asarray(rec.get("score_t") if rec.get("score_t") is not None else t, dtype=np.float64)
            return st, s, None
        key = self.cache.key_for(rec) if self.cache is not None else None
        if key is not None:
            got = self.cache.window(key, start, end)
            if got is not None:
                return (*got, None)
        if self.classifier_dir is None and not self.random_classifier:
            if self.preset.tetg.encoding == "none":
                return None, None, None
            raise NoScoresError(
                f"no anomaly scores for {rec['video']} in the scores cache, and no classifier"
            )
        out = self._visual_stage()(
            {
                "video_id": np.array([f"train:{rec['video']}@{start:.3f}-{end:.3f}"]),
                "clip_index": np.array([0]),
                "frames": frames[None],
                "t": t[None],
                "first_is_overlap": np.array([False]),
            }
        )
        # one clip holds the whole window: put the outputs in place here, as the per-video step does
        ahead = self._visual_stage().classifier.lookahead
        score = align_outputs(np.asarray(out["score"][0], dtype=np.float64), ahead)
        kind = window_kind(
            score, align_outputs(np.asarray(out["kind_prob"][0]), ahead), KINDS, self.preset.tetg.high
        )
        return np.asarray(out["t"][0], dtype=np.float64), score, kind

    def clip(self, rec: dict) -> ClipData:
        """Decode (and score) the record's clip, once per (video, start, end). Raises DecodeError / ValueError."""
        start = float(rec.get("clip_start_s") or 0.0)
        end = rec.get("clip_end_s")
        end = 1e9 if end is None else float(end)
        if end < start:
            raise ValueError(f"clip_end_s {end} is before clip_start_s {start}")
        key = (str(rec["video"]), round(start, 3), round(end, 3))
        if key in self._clips:
            return self._clips[key]
        frames, t = decode_window(
            str(rec["video"]),
            start,
            end,
            fps=self.preset.decode.fps,
            size=self.preset.decode_size,  # the classifier's view: the visual stage's input
            storage_options=self.storage_options,
        )
        if len(frames) == 0:
            raise ValueError(f"no frames between {start:.1f}s and {end:.1f}s (past the end of the video?)")
        score_t, scores, kind = (None, None, None)
        if self.preset.tetg.encoding != "none" or self.has_score_source or rec.get("scores") is not None:
            score_t, scores, kind = self._score(rec, frames, t, start, end)
            if scores is not None:
                score_t, scores = check_scores(score_t, scores)
        keep = uniform_indices(len(frames), self.preset.projector.max_frames)
        frames = frames[keep]
        if frames.shape[1] != self.preset.encoder.image_size:  # the VA-GPT's frames: the encoder's size
            frames = resize_frames(frames, self.preset.encoder.image_size)
        data = ClipData(frames=frames, t=t[keep], score_t=score_t, scores=scores, kind=kind)
        self._clips[key] = data
        return data

    def sample(self, rec: dict, with_answer: bool = True):
        """A VAGPT Sample of the record (answer=None for generation)."""
        c = self.clip(rec)
        return Sample(
            frames=c.frames,
            t=c.t,
            question=record_question(rec),
            scores=c.scores,
            score_t=c.score_t,
            answer=record_answer(rec) if with_answer else None,
            kind=c.kind,
        )

    def build(self, records: list[dict], with_answer: bool = True, what: str = "records") -> TrainingSet:
        """Samples of every usable record; unreadable videos are logged, counted and skipped.

        Raises DatasetError for an empty record set, for TETG without a score
        source, and when no record at all is usable.
        """
        if not records:
            raise DatasetError(f"no {what}: the record set is empty (nothing to train or evaluate on)")
        self.check_can_score(records)
        samples, kept, skipped = [], [], []
        for rec in records:
            try:
                samples.append(self.sample(rec, with_answer))
                kept.append(rec)
            except DecodeError as e:
                reason = "missing" if e.kind == "missing" else f"decode_{e.kind}"
                skipped.append(Skipped(str(rec["id"]), str(rec["video"]), reason, str(e)))
                log.warning("record %s skipped: %s (%s)", rec["id"], reason, e)
            except NoScoresError as e:
                skipped.append(Skipped(str(rec["id"]), str(rec["video"]), "no_scores", str(e)))
                log.warning("record %s skipped: no_scores (%s)", rec["id"], e)
            except ValueError as e:
                reason = "bad_scores" if "score" in str(e) else "no_frames"
                skipped.append(Skipped(str(rec["id"]), str(rec["video"]), reason, str(e)))
                log.warning("record %s skipped: %s (%s)", rec["id"], reason, e)
        if skipped:
            counts = ", ".join(f"{k}: {v}" for k, v in Counter(s.reason for s in skipped).items())
            log.warning("%d of %d %s skipped (%s)", len(skipped), len(records), what, counts)
        if not samples:
            first = skipped[0]
            raise DatasetError(
                f"none of the {len(records)} {what} is usable: "
                + ", ".join(f"{v} {k}" for k, v in Counter(s.reason for s in skipped).items())
                + f" (first: record {first.record_id!r}, video {first.video}: {first.message})"
                + (
                    "; " + NO_SCORES_HINT.format(encoding=self.preset.tetg.encoding)
                    if any(s.reason == "no_scores" for s in skipped)
                    else ""
                )
            )
        return TrainingSet(samples=samples, records=kept, skipped=skipped)

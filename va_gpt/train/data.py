"""VA-Instruction records -> VA-GPT training `Sample`s.

A record is one LLaVA-style question about one stretch of one video (the
format va_gpt.data.instruct writes, ``{out}/{split}/records.jsonl``)::

    {"id": "...", "source": "synthetic", "video": "s3://archive/cam01/2026-11-21/220000.mp4",
     "video_id": "...", "clip_start_s": 4.0, "clip_end_s": 16.5, "task": "description",
     "kind": "fighting", "split": "train",
     "conversations": [{"from": "human", "value": "<video>\\nDescribe ..."},
                       {"from": "gpt", "value": "Judgement: fighting. Description: ..."}],
     "options": null | ["(A) 12.0s-17.5s", ...], "answer_index": null | 1,
     "events": [[12.0, 17.5]]}

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
import math
import posixpath
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from va_gpt.config import Preset

log = logging.getLogger(__name__)

VIDEO_TOKEN = "<video>"
TASKS = ("judgement", "description", "analysis", "temporal", "mc_temporal")
REQUIRED_FIELDS = ("id", "video", "conversations")


NO_SCORES_HINT = (
    "TETG (tetg.encoding {encoding!r}) needs per-frame anomaly scores and no classifier was given: "
    "pass --classifier DIR (jobs/train_classifier.py), a scores cache (--scores RESULTS_URL) that "
    "covers the videos, or use a preset with tetg.encoding none"
)


class NoScoresError(ValueError):
    """A record whose video has no cached scores while no classifier can compute them."""


class DatasetError(ValueError):
    """A record set that cannot be trained or evaluated on; the message says why and what to do."""


# -- records -----------------------------------------------------------------------------------------


def _is_url(s: str) -> bool:
    return "://" in s


def _fs(url: str, storage_options: dict | None):
    from fsspec.core import url_to_fs

    return url_to_fs(url, **(storage_options or {}))


def records_file(url: str, split: str | None = None, storage_options: dict | None = None) -> str:
    """The records file a `--records` URL names.

    A ``.jsonl`` / ``.parquet`` file as is; a folder: ``{url}/{split}/records.jsonl``
    when `split` is given (or ``{url}/records.jsonl`` if the folder is one split),
    else ``{url}/records.jsonl``; ``records.parquet`` where there is no JSONL.
    """
    if url.endswith((".jsonl", ".parquet")):
        return url
    fs, root = _fs(url, storage_options)
    root = root.rstrip("/")
    base = url.rstrip("/")
    candidates = []
    if split:
        candidates += [f"{split}/records.jsonl", f"{split}/records.parquet"]
    candidates += ["records.jsonl", "records.parquet"]
    for rel in candidates:
        if fs.exists(f"{root}/{rel}"):
            return f"{base}/{rel}"
    where = f"{base}/{split}/records.jsonl or {base}/records.jsonl" if split else f"{base}/records.jsonl"
    raise DatasetError(f"no records at {url}: expected {where} (va_gpt.data.instruct output)")


def check_record(rec: object, where: str) -> dict:
    """A record dict with the fields training needs, or a DatasetError naming `where`."""
    if not isinstance(rec, dict):
        raise DatasetError(f"{where}: a record must be a JSON object, got {type(rec).__name__}")
    missing = [k for k in REQUIRED_FIELDS if k not in rec or rec[k] in (None, "")]
    if missing:
        raise DatasetError(f"{where}: record {rec.get('id', '?')!r} lacks field(s) {missing}")
    conv = rec["conversations"]
    if (
        not isinstance(conv, list)
        or len(conv) < 2
        or not all(isinstance(c, dict) and "from" in c and "value" in c for c in conv)
    ):
        raise DatasetError(
            f"{where}: record {rec['id']!r}: conversations must be [{{from: human, value}}, {{from: gpt, value}}]"
        )
    if conv[0]["from"] != "human" or conv[1]["from"] != "gpt":
        raise DatasetError(
            f"{where}: record {rec['id']!r}: conversations must start human, gpt; got "
            f"{conv[0]['from']!r}, {conv[1]['from']!r}"
        )
    for key in ("clip_start_s", "clip_end_s"):
        v = rec.get(key)
        if v is not None and (not isinstance(v, int | float) or not math.isfinite(v) or v < 0):
            raise DatasetError(f"{where}: record {rec['id']!r}: {key} must be a number >= 0, got {v!r}")
    return rec


def read_records(
    url: str, split: str | None = None, storage_options: dict | None = None, video_root: str | None = None
) -> list[dict]:
    """Read VA-Instruction records (JSONL or Parquet) from a file or a builder output folder.

    `split` selects ``{url}/{split}/`` and, when the records carry a ``split``
    field, keeps only those. With `video_root`, a relative ``video`` (the
    benchmarks' file names, e.g. ``Abuse/Abuse028_x264.mp4``) is joined to it.
    """
    path = records_file(url, split, storage_options)
    fs, p = _fs(path, storage_options)
    try:
        with fs.open(p, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such records file") from None
    out: list[dict] = []
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        for i, rec in enumerate(pq.read_table(io.BytesIO(data)).to_pylist()):
            out.append(check_record(rec, f"{path} row {i}"))
    else:
        for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}, line {number}: invalid JSON ({e.msg})") from None
            out.append(check_record(rec, f"{path}, line {number}"))
    if split is not None:
        out = [r for r in out if r.get("split") in (None, split)]
    if video_root:
        for r in out:
            v = str(r["video"])
            if not _is_url(v) and not v.startswith("/"):
                r["video"] = posixpath.join(video_root.rstrip("/"), v)
    return out


def write_records(records: Iterable[dict], path: str, storage_options: dict | None = None) -> str:
    """Write records as JSONL (one object a line) to a local path or fsspec URL; returns the path."""
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    fs, p = _fs(path, storage_options)
    parent = posixpath.dirname(p)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    fs.pipe_file(p, text.encode())
    return path


def record_question(rec: dict) -> str:
    """The human turn without the ``<video>`` placeholder line."""
    q = str(rec["conversations"][0]["value"])
    q = q.replace(VIDEO_TOKEN + "\n", "", 1) if q.startswith(VIDEO_TOKEN) else q.replace(VIDEO_TOKEN, "")
    return q.strip()


def record_answer(rec: dict) -> str:
    """The gpt turn."""
    return str(rec["conversations"][1]["value"]).strip()


def record_texts(records: Iterable[dict]) -> list[str]:
    """Questions and answers: the corpus a small preset's tokenizer is trained on."""
    return [t for r in records for t in (record_question(r), record_answer(r))]


def option_texts(rec: dict) -> list[str] | None:
    """Options without their "(A) " prefixes, in letter order; None when the record has none."""
    opts = rec.get("options")
    if not opts:
        return None
    out = []
    for o in opts:
        o = str(o).strip()
        if len(o) >= 3 and o[0] == "(" and o[2] == ")":
            o = o[3:].strip()
        out.append(o)
    return out


def gold_letter(rec: dict) -> str | None:
    """The correct option's letter of a multiple-choice record."""
    idx = rec.get("answer_index")
    if idx is None or not rec.get("options"):
        return None
    return "ABCDEFGHIJ"[int(idx)]


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
        from va_gpt.lake.query import query

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
        fs, p = _fs(url, storage_options)
        with fs.open(p, "rb") as f:
            data = json.load(f)
        return cls({u: (v["t"], v["score"]) for u, v in data.items()})

    @classmethod
    def from_features(cls, url: str, storage_options: dict | None = None) -> ScoreCache:
        """va_gpt.data.instruct's ``{url}/features/{video_id}.npz`` (t, score, ...), keyed by video_id."""
        fs, root = _fs(url, storage_options)
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
        fs, root = _fs(url, storage_options)
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
    fs, root = _fs(records_url, storage_options)
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
            from va_gpt.pipeline.visual import Visual

            try:
                self._visual = Visual(self.preset, self.classifier_dir, self.storage_options)
            except (OSError, ValueError) as e:
                raise DatasetError(f"cannot load the anomaly classifier {self.classifier_dir}: {e}") from None
        return self._visual

    def _score(self, rec: dict, frames: np.ndarray, t: np.ndarray, start: float, end: float):
        if rec.get("scores") is not None:
            s = np.asarray(rec["scores"], dtype=np.float64)
            st = np.asarray(rec.get("score_t") if rec.get("score_t") is not None else t, dtype=np.float64)
            return st, s
        key = self.cache.key_for(rec) if self.cache is not None else None
        if key is not None:
            got = self.cache.window(key, start, end)
            if got is not None:
                return got
        if self.classifier_dir is None and not self.random_classifier:
            if self.preset.tetg.encoding == "none":
                return None, None
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
        return np.asarray(out["t"][0], dtype=np.float64), np.asarray(out["score"][0], dtype=np.float64)

    def clip(self, rec: dict) -> ClipData:
        """Decode (and score) the record's clip, once per (video, start, end). Raises DecodeError / ValueError."""
        from va_gpt.models.vagpt import uniform_indices
        from va_gpt.ops.tetg import check_scores
        from va_gpt.video.decode import decode_window

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
            size=self.preset.encoder.image_size,
            storage_options=self.storage_options,
        )
        if len(frames) == 0:
            raise ValueError(f"no frames between {start:.1f}s and {end:.1f}s (past the end of the video?)")
        score_t, scores = (None, None)
        if self.preset.tetg.encoding != "none" or self.has_score_source or rec.get("scores") is not None:
            score_t, scores = self._score(rec, frames, t, start, end)
            if scores is not None:
                score_t, scores = check_scores(score_t, scores)
        keep = uniform_indices(len(frames), self.preset.projector.max_frames)
        data = ClipData(frames=frames[keep], t=t[keep], score_t=score_t, scores=scores)
        self._clips[key] = data
        return data

    def sample(self, rec: dict, with_answer: bool = True):
        """A VAGPT Sample of the record (answer=None for generation)."""
        from va_gpt.models.vagpt import Sample

        c = self.clip(rec)
        return Sample(
            frames=c.frames,
            t=c.t,
            question=record_question(rec),
            scores=c.scores,
            score_t=c.score_t,
            answer=record_answer(rec) if with_answer else None,
        )

    def build(self, records: list[dict], with_answer: bool = True, what: str = "records") -> TrainingSet:
        """Samples of every usable record; unreadable videos are logged, counted and skipped.

        Raises DatasetError for an empty record set, for TETG without a score
        source, and when no record at all is usable.
        """
        from va_gpt.video.decode import DecodeError

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


# -- a minimal VA-Instruction set from synthetic ground truth ----------------------------------------
# va_gpt.data.instruct is the real builder; this is the small fallback the demo and the
# tests use when it is not there, in the same record format.

KIND_NAMES = {
    "fighting": "fighting",
    "falling": "falling",
    "running": "running in panic",
    "explosion": "explosion",
    "collision": "road accident",
    "abandoned_object": "abandoned object",
}
# One short description per kind: a small model learns these in minutes (the generator's
# varied captions, `captions=True`, need far more training).
KIND_DESCRIPTION = {
    "fighting": "two people fight each other",
    "falling": "a person falls to the ground and stays down",
    "running": "a group of people suddenly runs away",
    "explosion": "a fire flares up after an explosion",
    "collision": "two cars crash into each other",
    "abandoned_object": "a person leaves a bag behind",
}
KIND_ANALYSIS = {
    "fighting": "violence between people is dangerous",
    "falling": "the person may be hurt and need help",
    "running": "people running in panic suggests danger",
    "explosion": "fire puts people in danger",
    "collision": "a car crash can injure people",
    "abandoned_object": "an unattended bag may be a threat",
}
NORMAL_DESCRIPTION = "people walk along the street"
NORMAL_ANALYSIS = "nothing unusual happens"
JUDGEMENT_QUESTION = "Is there an abnormal event in this video? Answer with its kind, or normal."
MC_QUESTION = (
    "When does the abnormal event happen in this video?\n{options}\nAnswer with the option's letter."
)


def describe_answer(
    kind: str | None, start: float, end: float, caption: str | None = None, with_times: bool = False
) -> str:
    """The describe stage's answer format: 'Judgement: ... Description: ... Analysis: ...'.

    The description is `caption` when given, else the kind's short description. The times are
    in the question (and the intervals table); `with_times` repeats them in the answer, which a
    small model learns only with much more training (it has to copy digits from the question)."""
    if kind is None:
        desc, judgement, analysis = caption or NORMAL_DESCRIPTION, "normal", NORMAL_ANALYSIS
    else:
        desc, judgement, analysis = caption or KIND_DESCRIPTION[kind], KIND_NAMES[kind], KIND_ANALYSIS[kind]
    desc = desc.rstrip(".")
    desc = desc[0].upper() + desc[1:]
    when = f"between {start:.1f}s and {end:.1f}s" if with_times else "during this interval"
    return (
        f"Judgement: {judgement}. Description: {desc} {when}. Analysis: {analysis[0].upper() + analysis[1:]}."
    )


def _span(a: float, b: float) -> str:
    return f"{a:.1f}s-{b:.1f}s"


def _mc_options(rng, start: float, end: float, duration: float) -> tuple[list[str], int] | None:
    """The true span and three distractors (va_gpt.data.instruct.mc_options: IoU < 0.3 with the event,
    distinct from each other, shuffled) as "(A) 1.0s-4.0s" texts, or None when three do not fit."""
    from va_gpt.data.instruct import mc_options

    picked = mc_options([(start, end)], 0, duration, rng)
    if picked is None:
        return None
    spans, idx = picked
    return [f"({'ABCD'[i]}) {_span(a, b)}" for i, (a, b) in enumerate(spans)], idx


def synthetic_records(
    truth,
    split: str,
    *,
    seed: int = 0,
    pad_s: float = 1.0,
    tasks: tuple[str, ...] = TASKS,
    captions: bool = False,
    with_times: bool = False,
    describe_jitter: int = 1,
    mc_variants: int = 1,
) -> list[dict]:
    """VA-Instruction records (this module's format) for a synthetic archive's ground truth.

    `truth`: va_gpt.synthetic.generate.ArchiveTruth. Per anomalous video: a
    description of the event in the describe stage's own question (the event
    span +- pad_s, as the describe stage decodes it), a judgement, an
    analysis, a temporal question and a 4-way multiple-choice temporal
    question over the whole video; per normal video: a description of a
    stretch of it and a judgement. `tasks` limits the kinds made. `captions`: describe
    events with the generator's varied captions instead of one short text per kind;
    `with_times`: repeat the interval's times in the description (see `describe_answer`);
    `describe_jitter`: extra descriptions per event about a window with start and end moved by up
    to 1 s (as a detected interval would be), so anomalies outnumber normal descriptions;
    `mc_variants`: multiple-choice questions per event, each with its own distractors and order
    (one clip, so they cost no extra decoding: more practice at reading the options).
    """
    from va_gpt.pipeline.describe import DESCRIBE_QUESTION

    rng = np.random.default_rng([seed, 7])
    out: list[dict] = []

    def rec(v, task, q, a, start, end, kind, options=None, answer_index=None):
        out.append(
            {
                "id": f"synthetic-{split}-{len(out):05d}",
                "source": "synthetic",
                "video": truth.video_url(v.key),
                "video_id": v.key,
                "clip_start_s": round(float(start), 3),
                "clip_end_s": round(float(end), 3),
                "task": task,
                "kind": kind,
                "split": split,
                "conversations": [
                    {"from": "human", "value": f"{VIDEO_TOKEN}\n{q}"},
                    {"from": "gpt", "value": a},
                ],
                "options": options,
                "answer_index": answer_index,
                "events": [[e.start_s, e.end_s] for e in v.events],
            }
        )

    for v in truth.videos:
        dur = float(v.duration_s)
        if v.events:
            e = v.events[0]
            kind = e.kind
            s, t = round(e.start_s, 1), round(min(e.end_s, dur), 1)
            ws, we = max(0.0, s - pad_s), min(dur, t + pad_s)
            if "description" in tasks:
                cap = e.caption if captions else None
                rec(v, "description", DESCRIBE_QUESTION.format(start=s, end=t),
                    describe_answer(kind, s, t, cap, with_times), ws, we, kind)  # fmt: skip
                for _ in range(describe_jitter):  # the pipeline's intervals are never exact
                    js = round(max(0.0, s + float(rng.uniform(-1.0, 1.0))), 1)
                    jt = round(min(dur, max(js + 1.0, t + float(rng.uniform(-1.0, 1.0)))), 1)
                    rec(v, "description", DESCRIBE_QUESTION.format(start=js, end=jt),
                        describe_answer(kind, js, jt, cap, with_times), max(0.0, js - pad_s),
                        min(dur, jt + pad_s), kind)  # fmt: skip
            if "judgement" in tasks:
                rec(v, "judgement", JUDGEMENT_QUESTION, f"{KIND_NAMES[kind].capitalize()}.", 0.0, dur, kind)
            if "analysis" in tasks:
                rec(v, "analysis", f"Why is the event between {s:.1f}s and {t:.1f}s abnormal?",
                    f"{KIND_ANALYSIS[kind][0].upper() + KIND_ANALYSIS[kind][1:]}.", ws, we, kind)  # fmt: skip
            if "temporal" in tasks:
                rec(v, "temporal", f"When does the {KIND_NAMES[kind]} happen?",
                    f"From {s:.1f}s to {t:.1f}s.", 0.0, dur, kind)  # fmt: skip
            for _ in range(mc_variants if "mc_temporal" in tasks else 0):
                picked = _mc_options(rng, s, t, dur)
                if picked is None:  # an event too long for three distinct distractors
                    break
                options, idx = picked
                rec(v, "mc_temporal", MC_QUESTION.format(options="\n".join(options)),
                    options[idx], 0.0, dur, kind, options, idx)  # fmt: skip
        else:
            length = float(rng.uniform(3.0, 6.0))
            a = round(float(rng.uniform(pad_s, max(pad_s, dur - length - pad_s))), 1)
            b = round(min(dur, a + length), 1)
            if "description" in tasks:
                rec(v, "description", DESCRIBE_QUESTION.format(start=a, end=b), describe_answer(None, a, b, with_times=with_times),
                    max(0.0, a - pad_s), min(dur, b + pad_s), "normal")  # fmt: skip
            if "judgement" in tasks:
                rec(v, "judgement", JUDGEMENT_QUESTION, "Normal.", 0.0, dur, "normal")
    return out


def instruct_records(truth, split: str, *, seed: int = 0, tasks: tuple[str, ...] = TASKS) -> list[dict]:
    """Records of a synthetic archive made by va_gpt.data.instruct (the real builder), all in `split`."""
    from va_gpt.data import instruct

    items = instruct.items_from_synthetic(truth)
    cfg = instruct.RecordConfig(seed=seed, test_fraction=1.0 if split == "test" else 0.0)
    return [r for r in instruct.build_records(items, cfg, local=True) if r["task"] in tasks]


# Events start anywhere in 5-60% of a question set's videos: with the scene default (25-45%) the
# right multiple-choice interval could be picked from its position alone, without the video
# (a demo model scored 91% that way with and without TETG).
EVENT_START = (0.05, 0.6)


def synthetic_instruction_set(
    url: str,
    *,
    train_videos: int = 18,
    test_videos: int = 6,
    duration_s: float = 16.0,
    width: int = 320,
    height: int = 240,
    fps: float = 10.0,
    seed: int = 0,
    tasks: tuple[str, ...] = TASKS,
    builder: str = "auto",
    videos_url: str | None = None,
    storage_options: dict | None = None,
    mc_variants: int = 1,
) -> dict[str, str]:
    """Render a small synthetic archive per split (under `videos_url`, default `url`/videos/{split})
    and write ``url/{split}/records.jsonl``; returns {split: records file URL}. Reuses what is there.

    builder: ``instruct`` (va_gpt.data.instruct: varied question templates and the generator's
    captions), ``minimal`` (`synthetic_records`: one short text per kind, learnable by a small
    model in minutes) or ``auto`` (instruct when importable). One archive per split keeps
    every kind in both splits (the builder's own split is by video hash). `mc_variants`: multiple-choice
    questions per event (minimal builder; see `synthetic_records`). Records
    written with other settings (``{split}/params.json``) are rebuilt; rendered videos are reused.
    """
    from va_gpt.synthetic.generate import generate_archive, load_truth

    if builder not in ("auto", "instruct", "minimal"):
        raise ValueError(f"builder must be auto | instruct | minimal, got {builder!r}")
    if builder == "auto":
        try:
            from va_gpt.data import instruct  # noqa: F401

            builder = "instruct"
        except ImportError:
            builder = "minimal"
    base = url.rstrip("/")
    vbase = (videos_url or f"{base}/videos").rstrip("/")
    fs, root = _fs(base, storage_options)
    vfs, vroot = _fs(vbase, storage_options)
    files = {}
    for split, n, s in (("train", train_videos, seed), ("test", test_videos, seed + 1000)):
        if n <= 0:
            continue
        rec_url = f"{base}/{split}/records.jsonl"
        variants = mc_variants
        params = json.dumps({"builder": builder, "tasks": list(tasks), "seed": s, "mc_variants": variants})
        params_path = f"{root.rstrip('/')}/{split}/params.json"
        if fs.exists(f"{root.rstrip('/')}/{split}/records.jsonl") and (
            fs.exists(params_path) and fs.cat_file(params_path).decode() == params
        ):
            files[split] = rec_url
            continue
        archive = f"{vbase}/{split}"
        cams = 3 if n >= 3 else 1
        if vfs.exists(f"{vroot.rstrip('/')}/{split}/_truth/events.json"):
            truth = load_truth(archive, storage_options)
        else:
            truth = generate_archive(
                archive, cameras=cams, videos_per_camera=max(1, -(-n // cams)), duration_s=duration_s,
                width=width, height=height, fps=fps, seed=s, storage_options=storage_options,
                event_start=EVENT_START,
            )  # fmt: skip
        if builder == "instruct":
            recs = instruct_records(truth, split, seed=s, tasks=tasks)
        else:
            recs = synthetic_records(truth, split, seed=s, tasks=tasks, mc_variants=variants)
        write_records(recs, rec_url, storage_options)
        fs.pipe_file(params_path, params.encode())
        files[split] = rec_url
    return files

"""The VA-Instruction record: its schema and rules, and reading and writing record sets.

A record is one LLaVA-style question about one stretch of one video (one row of
:data:`RECORD_SCHEMA`; :func:`validate_record` checks one; the fields are
documented in :mod:`va_gpt.data.instruct`, which makes them)::

    {"id": "...", "source": "synthetic", "video": "s3://archive/cam01/2026-11-21/220000.mp4",
     "video_id": "...", "clip_start_s": 4.0, "clip_end_s": 16.5, "task": "description",
     "kind": "fighting", "split": "train",
     "conversations": [{"from": "human", "value": "<video>\\nDescribe ..."},
                       {"from": "gpt", "value": "Judgement: fighting. Description: ..."}],
     "options": null | ["(A) 12.0s-17.5s", ...], "answer_index": null | 1,
     "events": [[12.0, 17.5]]}

Record sets are ``{out}/{split}/records.jsonl`` and ``records.parquet`` (the
builder's output folder) or any one ``.jsonl`` / ``.parquet`` file; training and
evaluation read them with :func:`read_records`, which checks what they need
(:func:`check_record`) and stops with a :class:`DatasetError` saying what to do.
"""

from __future__ import annotations

import io
import json
import math
import posixpath
import re
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from va_gpt.io.filesystem import filesystem

SOURCES = ("synthetic", "ucf_crime", "xd_violence", "hivau")
TASKS = ("judgement", "description", "analysis", "temporal", "mc_temporal")
SPLITS = ("train", "test")
VIDEO_PLACEHOLDER = "<video>"
VIDEO_TOKEN = VIDEO_PLACEHOLDER + "\n"  # the first human turn starts with it
LETTERS = "ABCD"
# What a multiple-choice question asks for and how its answer reads (`mc_answer`).
MC_INSTRUCTION = "Answer with the option's interval, then its letter."
REQUIRED_FIELDS = ("id", "video", "conversations")  # what training and evaluation need

RECORD_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("video", pa.string(), nullable=False),
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("clip_start_s", pa.float64(), nullable=False),
        pa.field("clip_end_s", pa.float64(), nullable=True),
        pa.field("task", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field(
            "conversations",
            pa.list_(pa.struct([pa.field("from", pa.string()), pa.field("value", pa.string())])),
            nullable=False,
        ),
        pa.field("options", pa.list_(pa.string()), nullable=True),
        pa.field("answer_index", pa.int32(), nullable=True),
        pa.field("events", pa.list_(pa.list_(pa.float64())), nullable=False),
    ]
)
FIELDS = tuple(RECORD_SCHEMA.names)


class DatasetError(ValueError):
    """A record set that cannot be trained or evaluated on; the message says why and what to do."""


# --------------------------------------------------------------------------- rules


_OPTION_RE = re.compile(r"^\(([A-D])\) (\d+\.\d)s-(\d+\.\d)s$")
_ID_RE = re.compile(r"^[0-9a-f]{16}$")


def parse_option(text: str) -> tuple[str, float, float]:
    """'(B) 12.0s-17.5s' -> ('B', 12.0, 17.5)."""
    m = _OPTION_RE.match(text)
    if m is None:
        raise ValueError(f"not an option '(A) 1.0s-2.0s': {text!r}")
    return m.group(1), float(m.group(2)), float(m.group(3))


def _is_num(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def validate_record(rec: dict) -> None:
    """Raise ValueError naming the record id and the field when `rec` does not fit RECORD_SCHEMA's rules."""
    rid = rec.get("id") if isinstance(rec, dict) else None

    def bad(fieldname: str, why: str):
        raise ValueError(f"record {rid!r}: field {fieldname!r}: {why}")

    if not isinstance(rec, dict):
        raise ValueError(f"record: expected a dict, got {type(rec).__name__}")
    missing = [f for f in FIELDS if f not in rec]
    if missing:
        bad(missing[0], "missing")
    extra = sorted(set(rec) - set(FIELDS))
    if extra:
        bad(extra[0], "not in the record schema")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        bad("id", f"expected 16 hex digits, got {rid!r}")
    for f in ("video", "video_id", "kind"):
        if not isinstance(rec[f], str) or not rec[f]:
            bad(f, f"expected a non-empty string, got {rec[f]!r}")
    if rec["source"] not in SOURCES:
        bad("source", f"{rec['source']!r} is not one of {SOURCES}")
    if rec["task"] not in TASKS:
        bad("task", f"{rec['task']!r} is not one of {TASKS}")
    if rec["split"] not in SPLITS:
        bad("split", f"{rec['split']!r} is not one of {SPLITS}")
    cs, ce = rec["clip_start_s"], rec["clip_end_s"]
    if not _is_num(cs) or cs < 0:
        bad("clip_start_s", f"expected a finite number >= 0, got {cs!r}")
    if ce is not None and (not _is_num(ce) or ce <= cs):
        bad("clip_end_s", f"expected null or a number > clip_start_s ({cs}), got {ce!r}")
    conv = rec["conversations"]
    if not isinstance(conv, list) or len(conv) < 2 or len(conv) % 2:
        bad("conversations", "expected an even number (>= 2) of turns")
    for i, turn in enumerate(conv):
        want = "human" if i % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or set(turn) != {"from", "value"}:
            bad("conversations", f"turn {i}: expected {{from, value}}, got {turn!r}")
        if turn["from"] != want:
            bad("conversations", f"turn {i}: expected from={want!r}, got {turn['from']!r}")
        if not isinstance(turn["value"], str) or not turn["value"].strip():
            bad("conversations", f"turn {i}: empty value")
    if not conv[0]["value"].startswith(VIDEO_TOKEN):
        bad("conversations", f"the first human turn must start with {VIDEO_TOKEN!r}")
    events = rec["events"]
    if not isinstance(events, list):
        bad("events", f"expected a list, got {type(events).__name__}")
    for ev in events:
        if not (isinstance(ev, list | tuple) and len(ev) == 2 and all(_is_num(x) for x in ev)):
            bad("events", f"expected [start_s, end_s], got {ev!r}")
        if ev[0] < 0 or ev[1] < ev[0]:
            bad("events", f"bad interval {ev!r}")
    if rec["task"] in ("temporal", "mc_temporal") and not events:
        bad("events", f"a {rec['task']} record needs ground-truth events")
    opts, ai = rec["options"], rec["answer_index"]
    if rec["task"] == "mc_temporal":
        if not isinstance(opts, list) or len(opts) != 4:
            bad("options", f"expected 4 options, got {opts!r}")
        for i, o in enumerate(opts):
            try:
                letter, s, e = parse_option(o) if isinstance(o, str) else ("", 0, 0)
            except ValueError as exc:
                bad("options", str(exc))
            if letter != LETTERS[i] or e <= s:
                bad("options", f"option {i} is {o!r}")
        if not isinstance(ai, int) or isinstance(ai, bool) or not 0 <= ai < 4:
            bad("answer_index", f"expected 0..3, got {ai!r}")
        right = mc_answer(LETTERS[ai], option_texts(rec)[ai])
        if conv[-1]["value"] not in (right, f"({LETTERS[ai]})"):
            bad("conversations", f"the answer {conv[-1]['value']!r} is not {right!r} (or ({LETTERS[ai]}))")
    else:
        if opts is not None:
            bad("options", "only mc_temporal records have options")
        if ai is not None:
            bad("answer_index", "only mc_temporal records have an answer index")


# --------------------------------------------------------------------------- reading and writing


def _is_url(s: str) -> bool:
    return "://" in s


def records_file(
    url: str, split: str | None = None, storage_options: dict | None = None, fmt: str | None = None
) -> str:
    """The records file a `--records` URL names.

    A ``.jsonl`` / ``.parquet`` file as is; a folder: ``{url}/{split}/records.jsonl``
    when `split` is given (or ``{url}/records.jsonl`` if the folder is one split),
    else ``{url}/records.jsonl``; ``records.parquet`` where there is no JSONL.
    `fmt` (``jsonl`` | ``parquet``) takes only that format.
    """
    if url.endswith((".jsonl", ".parquet")):
        return url
    if fmt not in (None, "jsonl", "parquet"):
        raise ValueError(f"fmt must be parquet or jsonl, got {fmt!r}")
    names = [f"records.{fmt}"] if fmt else ["records.jsonl", "records.parquet"]
    fs, root = filesystem(url, storage_options)
    root = root.rstrip("/")
    base = url.rstrip("/")
    candidates = [f"{split}/{n}" for n in names] if split else []
    candidates += names
    for rel in candidates:
        if fs.exists(f"{root}/{rel}"):
            return f"{base}/{rel}"
    want = names[0]
    where = f"{base}/{split}/{want} or {base}/{want}" if split else f"{base}/{want}"
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
    url: str,
    split: str | None = None,
    storage_options: dict | None = None,
    video_root: str | None = None,
    fmt: str | None = None,
) -> list[dict]:
    """Read VA-Instruction records (JSONL or Parquet) from a file or a builder output folder.

    `split` selects ``{url}/{split}/`` and, when the records carry a ``split``
    field, keeps only those. With `video_root`, a relative ``video`` (the
    benchmarks' file names, e.g. ``Abuse/Abuse028_x264.mp4``) is joined to it.
    `fmt`: read only ``jsonl`` or ``parquet`` from a folder (default: JSONL where there is one).
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = records_file(url, split, storage_options, fmt)
    fs, p = filesystem(path, storage_options)
    try:
        with fs.open(p, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such records file") from None
    out: list[dict] = []
    if path.endswith(".parquet"):
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


def jsonl_bytes(records: Iterable[dict], sort_keys: bool = False) -> bytes:
    """Records as JSON Lines, one object a line."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=sort_keys) + "\n" for r in records).encode(
        "utf-8"
    )


def parquet_bytes(records: Iterable[dict]) -> bytes:
    """Records as a Parquet file of :data:`RECORD_SCHEMA`."""
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(list(records), schema=RECORD_SCHEMA), buf)
    return buf.getvalue()


def write_records(records: Iterable[dict], path: str, storage_options: dict | None = None) -> str:
    """Write records as JSONL (one object a line) to a local path or fsspec URL; returns the path."""
    fs, p = filesystem(path, storage_options)
    parent = posixpath.dirname(p)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    fs.pipe_file(p, jsonl_bytes(records, sort_keys=True))
    return path


# --------------------------------------------------------------------------- turns and options


def record_question(rec: dict) -> str:
    """The human turn without the ``<video>`` placeholder line."""
    q = str(rec["conversations"][0]["value"])
    if q.startswith(VIDEO_PLACEHOLDER):
        q = q.replace(VIDEO_TOKEN, "", 1)
    else:
        q = q.replace(VIDEO_PLACEHOLDER, "")
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


def mc_answer(letter: str, option_text: str) -> str:
    """A multiple-choice answer: the chosen option's interval, then its letter ("6.6s-9.1s (D)").

    Content first, so the answer is decided on the interval, which the video and TETG inform, and
    the letter is then copied from beside it in the question; decoding held to the options
    (models.structured.greedy_choice) takes that copy off the model: the letter comes with the
    option whose interval it wrote. Asked for the letter alone, the
    demo's 4 x 256 LLM wrote one letter for every question (docs/MEASUREMENTS.md, the ablation). Records of the
    letter-only form ("(D)") still validate and score."""
    return f"{option_text} ({letter})"


def gold_letter(rec: dict) -> str | None:
    """The correct option's letter of a multiple-choice record."""
    idx = rec.get("answer_index")
    if idx is None or not rec.get("options"):
        return None
    return "ABCDEFGHIJ"[int(idx)]

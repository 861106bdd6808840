"""Writing a built instruction set: the records per split, ``card.json`` (what went in: sources,
seeds, counts, missing videos, skipped records, features) and a ``README.md`` rendered from it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from va_gpt.data.records import SPLITS, TASKS, jsonl_bytes, parquet_bytes, validate_record
from va_gpt.io.filesystem import join, read_bytes, write_bytes

__all__ = ["read_card", "render_readme", "render_summary", "write_dataset"]


def _counts(records: Sequence[dict]) -> dict:
    return {
        "records": len(records),
        "videos": len({(r["source"], r["video_id"]) for r in records}),
        "tasks": dict(sorted(Counter(r["task"] for r in records).items())),
        "kinds": dict(sorted(Counter(r["kind"] for r in records).items())),
        "sources": dict(sorted(Counter(r["source"] for r in records).items())),
    }


def write_dataset(
    records: Sequence[dict], out_url: str, card: dict, storage_options: dict | None = None
) -> dict:
    """Validate and write ``{split}/records.parquet`` + ``records.jsonl``, ``card.json`` and ``README.md``.

    Fills ``card["counts"]`` and ``card["files"]`` and returns the card. Raises ValueError on an
    invalid record or a repeated id, before writing anything.
    """
    seen: dict[str, dict] = {}
    for r in records:
        validate_record(r)
        if r["id"] in seen:
            raise ValueError(f"record {r['id']!r}: field 'id': repeated ({r['video']} {r['task']})")
        seen[r["id"]] = r
    videos: dict[str, set] = {s: set() for s in SPLITS}
    for r in records:
        videos[r["split"]].add(r["video_id"])
    both = videos["train"] & videos["test"]
    if both:
        raise ValueError(f"videos in both splits: {sorted(both)[:5]}")
    card = dict(card)
    card["counts"] = {"total": len(records), "splits": {}}
    card["files"] = {}
    for split in SPLITS:
        part = [r for r in records if r["split"] == split]
        card["counts"]["splits"][split] = _counts(part)
        files = {"parquet": f"{split}/records.parquet", "jsonl": f"{split}/records.jsonl"}
        write_bytes(join(out_url, files["parquet"]), parquet_bytes(part), storage_options)
        write_bytes(join(out_url, files["jsonl"]), jsonl_bytes(part), storage_options)
        card["files"][split] = files
    card["counts"]["tasks"] = _counts(records)["tasks"]
    write_bytes(join(out_url, "card.json"), json.dumps(card, indent=1).encode("utf-8"), storage_options)
    write_bytes(join(out_url, "README.md"), render_readme(card).encode("utf-8"), storage_options)
    return card


def read_card(out_url: str, storage_options: dict | None = None) -> dict:
    return json.loads(read_bytes(join(out_url, "card.json"), storage_options))


def _table(rows: list[tuple], header: tuple[str, ...]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return lines


def render_summary(card: dict) -> str:
    """A few lines for the console: totals per split and task, missing and skipped videos."""
    c = card["counts"]
    lines = [f"VA-Instruction: {c['total']} records -> {card.get('out', '')}"]
    for split in SPLITS:
        s = c["splits"][split]
        tasks = ", ".join(f"{k} {v}" for k, v in s["tasks"].items())
        lines.append(f"  {split}: {s['records']} records, {s['videos']} videos ({tasks})")
    for src in card["sources"]:
        lines.append(
            f"  source {src['source']}: {src['videos']} videos ({src['anomalous']} anomalous, "
            f"{src['normal']} normal), "
            + (f"{src['missing']} missing" if src["checked"] else "videos not checked (no video root)")
        )
    m = card["missing_videos"]
    if m["count"]:
        lines.append(f"  missing videos: {m['count']} (skipped; names in card.json)")
    if card["skipped"]:
        lines.append(f"  skipped records: {len(card['skipped'])} (see card.json)")
    if card.get("features"):
        f = card["features"]
        lines.append(f"  features: {f['written']} videos, {len(f['errors'])} errors")
    return "\n".join(lines)


def render_readme(card: dict) -> str:
    c = card["counts"]
    out = [
        "# VA-Instruction",
        "",
        "LLaVA-style instruction-tuning records for video anomaly understanding, built by "
        "`jobs/build_instructions.py` (`va_gpt/data/instruct/`, which documents the record fields).",
        "",
        f"- format: `{card['format']}`; seed {card['seed']} (templates and option order), "
        f"test fraction {card['test_fraction']} (split by video id, salt `{card['split_salt']}`)",
        f"- {c['total']} records; files: `train/records.parquet|jsonl`, `test/records.parquet|jsonl`",
        "",
        "## Sources",
        "",
    ]
    out += _table(
        [
            (s["source"], s["origin"], s["videos"], s["anomalous"], s["normal"], s["missing"])
            for s in card["sources"]
        ],
        ("source", "from", "videos", "anomalous", "normal", "missing"),
    )
    out += ["", "## Records per split and task", ""]
    out += _table(
        [(t, *(c["splits"][s]["tasks"].get(t, 0) for s in SPLITS)) for t in TASKS]
        + [("videos", *(c["splits"][s]["videos"] for s in SPLITS))],
        ("task", *SPLITS),
    )
    kinds = sorted({k for s in SPLITS for k in c["splits"][s]["kinds"]})
    out += ["", "## Records per kind", ""]
    out += _table(
        [(k, *(c["splits"][s]["kinds"].get(k, 0) for s in SPLITS)) for k in kinds], ("kind", *SPLITS)
    )
    m = card["missing_videos"]
    out += ["", "## Missing videos", ""]
    if m["count"]:
        out.append(f"{m['count']} annotated videos were not found under the video root and have no records:")
        out += [""] + [f"- `{n}`" for n in m["names"]]
    else:
        out.append(
            "none" if card.get("video_root") or any(s["checked"] for s in card["sources"]) else "not checked"
        )
    if card["skipped"]:
        out += ["", "## Skipped records", ""]
        out += [f"- `{s['video']}` {s['task']}: {s['reason']}" for s in card["skipped"]]
    if card.get("features"):
        f = card["features"]
        out += [
            "",
            "## Features",
            "",
            f"`features/{{video_id}}.npz` (t, score, diff_energy) for {f['written']} videos; "
            f"preset {f['preset']}, classifier {f['classifier'] or 'random (scores meaningless)'}.",
        ]
        out += [f"- error `{e['video']}`: {e['error']}" for e in f["errors"]]
    return "\n".join(out) + "\n"

"""Model cards: card.json + MODEL_CARD.md beside a committed checkpoint, with every file's sha256.

A card folder (e.g. the repo's models/demo, written by `make models`) holds the checkpoint
folder(s) and::

    card.json       recipe (command, function, arguments, seeds), data, training time, eval
                    figures, versions, and {relative path: sha256} of every other file
    MODEL_CARD.md   the same for people (render_markdown)

`verify_card` says what no longer matches (a missing, changed or extra file); `make run`
uses a committed checkpoint only when it says nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CARD_JSON = "card.json"
CARD_MD = "MODEL_CARD.md"
CARD_FORMAT = 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_files(folder: Path) -> list[str]:
    """Every file under `folder` but the card's own two, as sorted relative POSIX paths."""
    folder = Path(folder)
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in (CARD_JSON, CARD_MD) and "__pycache__" not in p.parts
    )


def file_hashes(folder: Path) -> dict[str, str]:
    return {rel: sha256_file(Path(folder) / rel) for rel in folder_files(folder)}


def read_card(folder: Path) -> dict | None:
    path = Path(folder) / CARD_JSON
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def verify_card(folder: Path) -> list[str]:
    """Problems with the card folder: no card, or files missing, changed or not on the card. [] = sound."""
    folder = Path(folder)
    card = read_card(folder)
    if card is None:
        return [f"{folder}: no {CARD_JSON}"]
    listed: dict[str, str] = card.get("files", {})
    problems = []
    for rel, digest in sorted(listed.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{folder}/{rel}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{folder}/{rel}: sha256 differs from {CARD_JSON}")
    problems += [f"{folder}/{rel}: not on {CARD_JSON}" for rel in folder_files(folder) if rel not in listed]
    return problems


def write_card(folder: Path, card: dict) -> dict:
    """Add every file's sha256 and the files' total bytes to `card`, write card.json and
    MODEL_CARD.md; return the card."""
    folder = Path(folder)
    files = file_hashes(folder)
    size = sum((folder / rel).stat().st_size for rel in files)
    card = {"card_format": CARD_FORMAT, **card, "files_bytes": size, "files": files}
    (folder / CARD_MD).write_text(render_markdown(card))
    (folder / CARD_JSON).write_text(json.dumps(card, indent=1) + "\n")
    return card


def _figures(d: dict, indent: str = "") -> list[str]:
    lines = []
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"{indent}- {k}:")
            lines += _figures(v, indent + "  ")
        elif isinstance(v, float):
            lines.append(f"{indent}- {k}: {v:.4g}")
        else:
            lines.append(f"{indent}- {k}: {v}")
    return lines


def render_markdown(card: dict) -> str:
    """MODEL_CARD.md from card.json's content."""
    b = card.get("built", {})
    out = [
        f"# {card.get('title', card.get('name', 'model'))}",
        "",
        card.get("summary", ""),
        "",
        "## How it was built",
        "",
        f"- command: `{card.get('command', '?')}`",
        f"- package {b.get('package_version')} at git {b.get('git_commit')}"
        + (" (with uncommitted changes)" if b.get("git_dirty") else ""),
        f"- python {b.get('python')}, torch {b.get('torch')}, transformers {b.get('transformers')}, "
        f"{b.get('torch_threads')} torch thread(s), built {b.get('built_at')} in {b.get('seconds')} s "
        f"(load average {b.get('load_average')})",
        f"- size: {card.get('files_bytes', 0) / 1e6:.1f} MB (the files below)",
        "",
    ]
    for name, part in card.get("checkpoints", {}).items():
        out += [f"## {name}: `{part.get('path')}`", "", part.get("what", ""), ""]
        out += ["### Recipe", "", "```json", json.dumps(part.get("recipe", {}), indent=1), "```", ""]
        out += ["### Data", "", *_figures(part.get("data", {})), ""]
        kept = part.get("members_from_cache")
        earlier = part.get("members_trained", {}).get("seconds")
        kept = (
            f" ({kept} members taken from the build's member cache, trained by an earlier run"
            + (f" in {earlier} s)" if earlier is not None else ")")
            if kept
            else ""
        )
        out += [f"### Training time: {part.get('training_seconds')} s{kept}", ""]
        if each := part.get("members_seconds"):  # the cache keeps each member's own seconds
            known = [s for s in each if s is not None]
            out += [
                f"Each member's training: {', '.join('?' if s is None else f'{s} s' for s in each)}"
                + (f" ({sum(known):.1f} s in all)" if len(known) == len(each) else ""),
                "",
            ]
        out += ["### Evaluation", "", *_figures(part.get("eval", {})), ""]
        if part.get("recalibrated"):  # the calibration after the build (va_gpt.train.demo_recalibrate)
            out += ["### Recalibrated", "", *_figures(part["recalibrated"]), ""]
    out += ["## Files (sha256)", "", "| file | sha256 |", "|---|---|"]
    out += [f"| {rel} | `{digest}` |" for rel, digest in card.get("files", {}).items()]
    return "\n".join(out) + "\n"

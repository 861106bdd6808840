"""The anomaly kinds: one list for the synthetic footage, the benchmarks, the records and the describe stage.

A kind is a lower-case id: the ``kind`` of a VA-Instruction record, the
``label`` of an interval in the nightly tables. It comes from

- the synthetic generator and the demo: :data:`SYNTHETIC_KINDS`;
- UCF-Crime's 13 classes (:data:`UCF_CLASSES`, also HIVAU-70k's labels, which
  annotates UCF-Crime test videos): the class lower-cased, ``RoadAccidents`` ->
  ``road accident`` (:func:`ucf_kind`);
- XD-Violence's label codes (:data:`XD_LABELS`: ``B1`` -> ``fighting``, ...).

Kinds that several sources share are one kind (UCF ``Fighting``, XD ``B1`` and
the synthetic fights are all ``fighting``). Each kind has a display name (how
answers name it) and synonyms (regular expressions matched as whole words);
:func:`parse_kind` finds the kind a free text names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "KINDS",
    "NORMAL",
    "SYNTHETIC_KINDS",
    "SYNTHETIC_UCF_CLASSES",
    "UCF_CLASSES",
    "XD_LABELS",
    "Kind",
    "display",
    "kind_mentions",
    "parse_kind",
    "ucf_kind",
]

NORMAL = "normal"


@dataclass(frozen=True)
class Kind:
    """name: the id; display: how an answer names it; synonyms: regexes (whole words, any case)."""

    name: str
    display: str
    synonyms: tuple[str, ...]


_KINDS = (
    # the synthetic generator's kinds (the demo)
    Kind("fighting", "fighting", (r"fight(?:s|ing)?", r"brawl(?:s|ing)?")),
    Kind("falling", "falling", (r"fall(?:s|ing|en)?", r"fell", r"collaps(?:e|es|ed|ing)")),
    Kind("running", "running", (r"run(?:s|ning)?", r"ran", r"flee(?:s|ing)?", r"fled", r"stampede")),
    Kind("explosion", "explosion", (r"explosions?", r"explod(?:es|ed|ing)", r"blast")),
    Kind("collision", "collision", (r"collisions?", r"collid(?:e|es|ed|ing)", r"crash(?:es|ed|ing)?")),
    Kind(
        "abandoned_object",
        "abandoned object",
        (
            r"abandoned[ _](?:object|bag|package|luggage)s?",
            r"unattended (?:object|bag|package|luggage)s?",
            r"left[- ]behind (?:object|bag|package|luggage)s?",
            r"(?:leaves|left|leaving) (?:a |an |the |his |her )?(?:object|bag|package|luggage|suitcase) behind",
        ),
    ),
    # UCF-Crime (and HIVAU) classes not above
    Kind("abuse", "abuse", (r"abuse[sd]?",)),
    Kind("arrest", "arrest", (r"arrest(?:s|ed)?",)),
    Kind("arson", "arson", (r"arson",)),
    Kind("assault", "assault", (r"assault(?:s|ed)?",)),
    Kind("burglary", "burglary", (r"burglary", r"break-in")),
    Kind("road accident", "road accident", (r"road ?accidents?", r"traffic accidents?")),
    Kind("robbery", "robbery", (r"robbery", r"robbed", r"robbing")),
    Kind("shooting", "shooting", (r"shoot(?:s|ing)?", r"gunshots?", r"gunfire")),
    Kind("shoplifting", "shoplifting", (r"shoplift(?:s|ing)?",)),
    Kind("stealing", "stealing", (r"steal(?:s|ing)?", r"theft")),
    Kind("vandalism", "vandalism", (r"vandalism", r"vandali[sz](?:e|es|ed|ing)")),
    # XD-Violence labels not above
    Kind("riot", "riot", (r"riot(?:s|ing)?",)),
    Kind("car accident", "car accident", (r"car accidents?",)),
    Kind(NORMAL, "normal", (r"normal", r"nothing abnormal")),
)
KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}

SYNTHETIC_KINDS: tuple[str, ...] = (
    "fighting",
    "falling",
    "running",
    "explosion",
    "collision",
    "abandoned_object",
)

UCF_CLASSES: tuple[str, ...] = (
    "Abuse",
    "Arrest",
    "Arson",
    "Assault",
    "Burglary",
    "Explosion",
    "Fighting",
    "RoadAccidents",
    "Robbery",
    "Shooting",
    "Shoplifting",
    "Stealing",
    "Vandalism",
)
_UCF_SPECIAL = {"RoadAccidents": "road accident", "AbandonedObject": "abandoned_object"}

# The UCF-Crime-style class each synthetic kind is written as in a synthetic archive's
# Temporal_Anomaly_Annotation.txt (ucf_kind reads them back; collision is UCF's RoadAccidents).
SYNTHETIC_UCF_CLASSES: dict[str, str] = {
    "fighting": "Fighting",
    "falling": "Falling",
    "running": "Running",
    "explosion": "Explosion",
    "collision": "RoadAccidents",
    "abandoned_object": "AbandonedObject",
}

# XD-Violence label codes (there is no B3). "A" is the normal class.
XD_LABELS: dict[str, str] = {
    "A": NORMAL,
    "B1": "fighting",
    "B2": "shooting",
    "B4": "riot",
    "B5": "abuse",
    "B6": "car accident",
    "G": "explosion",
}


def ucf_kind(label: str) -> str:
    """The kind of a UCF-Crime / HIVAU class name: lower-cased, ``RoadAccidents`` -> ``road accident``
    (and a synthetic archive's ``AbandonedObject`` -> ``abandoned_object``)."""
    return _UCF_SPECIAL.get(label, label.lower())


def display(kind: str) -> str:
    """How answers name a kind (``abandoned_object`` -> ``abandoned object``); unknown kinds with spaces for ``_``."""
    k = KINDS.get(kind)
    return k.display if k is not None else kind.replace("_", " ")


_PATTERNS = [(re.compile(rf"\b(?:{'|'.join(k.synonyms)})\b", re.IGNORECASE), k.name) for k in _KINDS]


def parse_kind(text: str) -> str | None:
    """The kind a free text names, or None: the earliest mention wins, the longest at the same place
    ("a fight, then a robbery" -> fighting; "car accident" over "accident" words of other kinds)."""
    mentions = kind_mentions(text)
    return mentions[0][0] if mentions else None


def kind_mentions(text: str) -> list[tuple[str, str]]:
    """Every kind a free text names, in order, as (kind, the words that name it); where two
    mentions overlap the longer wins ("nothing abnormal" is normal, not an unknown "abnormal";
    "car accident" is one mention)."""
    hits = sorted(
        (m.start(), -(m.end() - m.start()), name, m.group(0))
        for rx, name in _PATTERNS
        for m in rx.finditer(text)
    )
    out, end = [], -1
    for start, neg_len, name, words in hits:
        if start >= end:
            out.append((name, words))
            end = start - neg_len
    return out

"""Keyframe and contact-sheet JPEGs per interval, kept under the results root.

    {results}/media/{date}/{camera_id}/{video_id}/{run_id}-{interval_id}_key.jpg
    {results}/media/{date}/{camera_id}/{video_id}/{run_id}-{interval_id}_sheet.jpg

The nightly keyframe stage (va_gpt.pipeline.keyframes) cuts them and stores their URLs
in the `intervals` row (`keyframe_uri`, `preview_uri`); the report uses those. The
URLs also follow from the row alone (va_gpt.lake.media.media_url), so SQL can name them:

    SELECT '{results}/media/' || date || '/' || camera_id || '/' || video_id || '/'
           || run_id || '-' || interval_id || '_key.jpg' AS keyframe FROM intervals

The run id is part of the name: a rerun that moves an interval gets new stills, never
the old run's. `interval_media` reads the stored ones when they exist (results of runs
before the keyframe stage, or run with --no-keyframes, have none) and otherwise cuts them
from the source object (va_gpt.video.keyframes) and stores them. A source that is gone or
undecodable gives no stills and a note, never an exception.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from va_gpt.io.errors import StorageError
from va_gpt.io.filesystem import exists, read_bytes, write_bytes
from va_gpt.lake.media import KINDS, MEDIA_DIR, media_url
from va_gpt.video.errors import DecodeError
from va_gpt.video.keyframes import cut_interval_media

log = logging.getLogger(__name__)

__all__ = ["KINDS", "MEDIA_DIR", "CardMedia", "interval_media", "media_url", "night_media"]


@dataclass(frozen=True)
class CardMedia:
    keyframe: bytes | None
    sheet: bytes | None
    key_url: str
    sheet_url: str
    note: str | None = None  # why there are no stills, or why they were not stored


def interval_media(
    results: str,
    row: dict,
    storage_options: dict | None = None,
    *,
    store: bool = True,
    regenerate: bool = False,
) -> CardMedia:
    """The stills of interval `row` (an `intervals` row with `uri` and `peak_t`, see night.py).

    Read from the results root when there; else cut from `row["uri"]` and, with `store`,
    written there. Never raises for a missing or broken source: the note says what happened.
    """
    # The URLs the keyframe stage stored in the row, else the ones the row names.
    key_url = row.get("keyframe_uri") or media_url(results, row, "key")
    sheet_url = row.get("preview_uri") or media_url(results, row, "sheet")
    if not regenerate:
        try:
            if exists(key_url, storage_options) and exists(sheet_url, storage_options):
                return CardMedia(
                    read_bytes(key_url, storage_options),
                    read_bytes(sheet_url, storage_options),
                    key_url,
                    sheet_url,
                )
        except StorageError as e:
            log.warning("stored stills unreadable, cutting them again: %s", e)
    uri = row.get("uri")
    if not uri:
        return CardMedia(
            None, None, key_url, sheet_url, "no keyframe: the interval's video has no `videos` row"
        )
    try:
        cut = cut_interval_media(
            uri,
            peak_s=float(row["peak_t"]),
            start_s=float(row["start_s"]),
            end_s=float(row["end_s"]),
            box=row.get("box"),
            storage_options=storage_options,
        )
    except DecodeError as e:
        why = "the source object is gone" if e.kind == "missing" else f"the source does not decode ({e.kind})"
        return CardMedia(None, None, key_url, sheet_url, f"no keyframe: {why}: {e.message}")
    note = None
    if store:
        try:
            write_bytes(key_url, cut.keyframe, storage_options)
            write_bytes(sheet_url, cut.sheet, storage_options)
        except StorageError as e:
            note = f"stills not stored under the results root: {e}"
    return CardMedia(cut.keyframe, cut.sheet, key_url, sheet_url, note)


def night_media(
    results: str,
    rows: list[dict],
    storage_options: dict | None = None,
    *,
    store: bool = True,
    regenerate: bool = False,
    workers: int = 4,
) -> list[CardMedia]:
    """`interval_media` for every row, `workers` at a time (PyAV decodes outside the GIL)."""

    def one(row: dict) -> CardMedia:
        return interval_media(results, row, storage_options, store=store, regenerate=regenerate)

    if workers <= 1 or len(rows) <= 1:
        return [one(r) for r in rows]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, rows))

"""Where an interval's stills live under the results root (the keyframe stage writes them,
the report reads them):

    {results}/media/{date}/{camera_id}/{video_id}/{run_id}-{interval_id}_key.jpg
    {results}/media/{date}/{camera_id}/{video_id}/{run_id}-{interval_id}_sheet.jpg

The URL follows from an `intervals` row alone, so SQL can name it too; the pipeline
also stores it in the row (`keyframe_uri`, `preview_uri`). The run id is part of the
name: a rerun that moves an interval gets new stills, never the old run's.
"""

from __future__ import annotations

from va_gpt.io.filesystem import join

MEDIA_DIR = "media"
KINDS = ("key", "sheet")


def media_url(results: str, row: dict, kind: str) -> str:
    """Where the `kind` ("key" | "sheet") still of interval `row` lives under `results`."""
    if kind not in KINDS:
        raise ValueError(f"media kind {kind!r}: one of {KINDS}")
    name = f"{row['run_id']}-{int(row['interval_id'])}_{kind}.jpg"
    return join(results, MEDIA_DIR, row["date"], row["camera_id"], row["video_id"], name)

"""write_report: one night's static HTML report into `{out}/{date}/`.

    {out}/{date}/index.html                      the night: counts, failures, runs
    {out}/{date}/camera-{camera}.html            timeline strip + one card per interval
    {out}/{date}/media/{camera}/{video}/{n}_key.jpg, ..._sheet.jpg   the cards' stills

The stills are copied next to the pages (the originals stay under the results root,
see media.py), so the folder is complete on its own: open index.html from a disk, or
serve the prefix from the object store; nothing else is fetched.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlparse

from va_gpt.io.errors import StorageError
from va_gpt.io.filesystem import join, write_bytes
from va_gpt.report.media import night_media
from va_gpt.report.night import ReportError, load_night
from va_gpt.report.pages import Card, camera_page, index_page

log = logging.getLogger(__name__)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


def camera_file(camera_id: str) -> str:
    return f"camera-{_safe(camera_id)}.html"


def write_report(
    results: str,
    date: str,
    out: str,
    *,
    cameras: list[str] | None = None,
    storage_options: dict | None = None,
    out_storage_options: dict | None = None,
    store_media: bool = True,
    regenerate_media: bool = False,
    workers: int = 4,
) -> str:
    """Write the report of `date` under `out` and return the URL of its index page.

    `storage_options` are for `results` (and the source objects), `out_storage_options`
    for `out` (default: the same when `out` is on the same kind of store, e.g. both s3://,
    else none). Raises ReportError for a results URL without results.
    """
    night = load_night(results, date, cameras, storage_options)
    out_so = out_storage_options
    if out_so is None and urlparse(out).scheme == urlparse(results).scheme:
        out_so = storage_options
    root = join(out, night.date)

    def put(rel: str, data: bytes) -> None:
        try:
            write_bytes(join(root, rel), data, out_so)
        except StorageError as e:
            raise ReportError(f"cannot write the report to {out}: {e}") from e

    media = night_media(
        results,
        night.intervals,
        storage_options,
        store=store_media,
        regenerate=regenerate_media,
        workers=workers,
    )
    cards_by_camera: dict[str, list[Card]] = {c: [] for c in night.cameras}
    for row, m in zip(night.intervals, media):
        stem = f"media/{_safe(row['camera_id'])}/{row['video_id']}/{int(row['interval_id'])}"
        key_href = sheet_href = None
        if m.keyframe is not None:
            key_href = f"{stem}_key.jpg"
            put(key_href, m.keyframe)
        if m.sheet is not None:
            sheet_href = f"{stem}_sheet.jpg"
            put(sheet_href, m.sheet)
        if m.note:
            log.warning("interval %s/%s: %s", row["video_id"], row["interval_id"], m.note)
        cards_by_camera.setdefault(row["camera_id"], []).append(Card(row, key_href, sheet_href, m.note))

    hrefs = {cam: camera_file(cam) for cam in night.cameras}
    for cam in night.cameras:
        put(hrefs[cam], camera_page(night, cam, cards_by_camera.get(cam, [])).encode("utf-8"))
    put("index.html", index_page(night, hrefs).encode("utf-8"))
    return join(root, "index.html")

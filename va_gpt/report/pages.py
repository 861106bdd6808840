"""The report's HTML: one index page per night, one page per camera. Plain HTML + inline CSS.

Every link and image is relative, so the folder reads the same from a local disk, a copy,
or an object store's HTTP endpoint. No script, no font, nothing fetched from elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from html import escape

from va_gpt.report.night import Night
from va_gpt.report.timeline import card_id, timeline_svg

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .sub{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse;font-size:13px} th,td{border-bottom:1px solid #e1e4e8;padding:4px 10px;text-align:left}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.tiles{display:flex;gap:12px;flex-wrap:wrap} .tile{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px}
.tile b{display:block;font-size:20px} .empty{padding:16px;background:#fff8c5;border:1px solid #d4a72c;border-radius:6px}
.bad{color:#b42318} .cards{display:flex;flex-direction:column;gap:16px}
.card{border:1px solid #d0d7de;border-radius:8px;padding:12px;display:grid;grid-template-columns:minmax(0,420px) 1fr;gap:14px}
.card img{width:100%;display:block;border-radius:4px;image-rendering:auto} .card .sheet{margin-top:8px}
.card dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0;font-size:13px}
.card dt{color:#57606a} .card dd{margin:0} .summary{margin-top:10px;white-space:pre-wrap}
.nokey{padding:24px;background:#f6f8fa;border:1px dashed #8c959f;border-radius:4px;color:#57606a}
code{font-size:12px;word-break:break-all} a{color:#0969da}
"""


@dataclass(frozen=True)
class Card:
    row: dict  # intervals row (night.py)
    key_href: str | None  # relative link to the keyframe JPEG; None: no keyframe
    sheet_href: str | None
    note: str | None


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _hours(videos: list[dict]) -> float:
    return sum(v["duration_s"] or 0.0 for v in videos if v["status"] in ("ok", "partial")) / 3600.0


def _clock(ts: dt.datetime | None, base: dt.datetime | None, s: float) -> str:
    if ts is None and base is not None:
        ts = base + dt.timedelta(seconds=s)
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts is not None else f"+{s:.1f} s (no wall clock)"


def _table(head: list[str], rows: list[list[str]], num_from: int = 99) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i >= num_from else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _cell(value) -> str:
    """A runs-table value as escaped text (timestamps and lists from the runs table included)."""
    return escape(value if isinstance(value, str) else json.dumps(value, default=str))


def _runs_section(night: Night) -> str:
    if not night.runs:
        return ""
    keys = sorted({k for r in night.runs for k in r.meta})
    rows = [
        [f"<code>{escape(r.run_id)}</code>", escape(r.committed_at)]
        + [_cell(r.meta[k]) if k in r.meta else "" for k in keys]
        for r in night.runs
    ]  # fmt: skip
    return "<h2>Runs</h2>" + _table(["run", "committed at (UTC)", *keys], rows)


def index_page(night: Night, camera_hrefs: dict[str, str]) -> str:
    title = f"VA-GPT night report {night.date}"
    head = f"<h1>{escape(title)}</h1><p class='sub'>results <code>{escape(night.results)}</code></p>"
    if not night.videos:
        others = ", ".join(escape(d) for d in night.other_dates[-10:]) or "none"
        body = (
            f"{head}<p class='empty' id='no-results'>No results for {escape(night.date)}: no video of this night "
            f"has been processed into <code>{escape(night.results)}</code>. Nights with results: {others}.</p>"
        )
        return _page(title, body)
    videos, intervals = night.videos, night.intervals
    failed = [v for v in videos if v["status"] not in ("ok", "partial")]
    tiles = [
        ("cameras", str(len(night.cameras))),
        ("videos", str(len(videos))),
        ("failed", str(len(failed))),
        ("footage hours", f"{_hours(videos):.2f}"),
        ("anomaly intervals", str(len(intervals))),
    ]
    body = [head, "<div class='tiles'>"]
    body += [f"<div class='tile'><b>{escape(v)}</b>{escape(k)}</div>" for k, v in tiles]
    body.append("</div><h2>Cameras</h2>")
    kinds = sorted({i.get("label") or "unlabelled" for i in intervals})
    rows = []
    for cam in night.cameras:
        vs, its = night.videos_of(cam), night.intervals_of(cam)
        per_kind = Counter(i.get("label") or "unlabelled" for i in its)
        bad = sum(v["status"] not in ("ok", "partial") for v in vs)
        rows.append(
            [f'<a href="{escape(camera_hrefs[cam])}">{escape(cam)}</a>', str(len(vs)),
             f"<span class='bad'>{bad}</span>" if bad else "0", f"{_hours(vs):.2f}", str(len(its))]
            + [str(per_kind.get(k, 0)) for k in kinds]
        )  # fmt: skip
    body.append(_table(["camera", "videos", "failed", "hours", "intervals", *kinds], rows, num_from=1))
    if failed:
        body.append("<h2>Failed videos</h2>")
        body.append(
            _table(
                ["camera", "source", "status", "message"],
                [
                    [
                        escape(v["camera_id"]),
                        f"<code>{escape(v['uri'])}</code>",
                        f"<span class='bad'>{escape(v['status'])}</span>",
                        escape(v["error_message"] or ""),
                    ]
                    for v in failed
                ],
            )  # fmt: skip
        )
    body.append(_runs_section(night))
    return _page(title, "\n".join(body))


def _card(card: Card, n: int) -> str:
    r = card.row
    base = r.get("video_start")
    if card.key_href:
        # data-stored: the still's URI in the `intervals` row (the copy next to the page is `src`).
        stored = {
            k: f' data-stored="{escape(r[k])}"' if r.get(k) else "" for k in ("keyframe_uri", "preview_uri")
        }
        pics = (
            f'<img class="keyframe" src="{escape(card.key_href)}"{stored["keyframe_uri"]}'
            ' alt="keyframe at the peak, region boxed">'
        )
        if card.sheet_href:
            pics += (
                f'<img class="sheet" src="{escape(card.sheet_href)}"{stored["preview_uri"]}'
                ' alt="contact sheet of the interval">'
            )
    else:
        pics = "<div class='nokey'>No keyframe.</div>"
    note = f"<p class='bad note'>{escape(card.note)}</p>" if card.note else ""
    summary = r.get("summary") or "(no VA-GPT summary for this interval)"
    box = r.get("box")
    box_text = ", ".join(f"{b:.2f}" for b in box) if box else "none"
    facts = [
        ("kind", escape(r.get("label") or "unlabelled")),
        # VA-GPT's judgement may differ from the classifier's kind: "normal" for a false alarm
        ("VA-GPT judged", escape(r.get("summary_kind") or "-")),
        ("score", f"peak {r['peak_score']:.3f} / mean {r['mean_score']:.3f}"),
        ("start", escape(_clock(r.get("start_time"), base, r["start_s"]))),
        ("end", escape(_clock(r.get("end_time"), base, r["end_s"]))),
        ("duration", f"{r['end_s'] - r['start_s']:.1f} s"),
        ("peak at", f"{r['peak_t']:.1f} s"),
        ("source", f"<code>{escape(r.get('uri') or '?')}</code>"),
        ("offset", f"{r['start_s']:.1f} s &ndash; {r['end_s']:.1f} s into the object"),
        ("region box", escape(box_text)),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f'<article class="card" id="{card_id(r)}"><div>{pics}{note}</div>'
        f"<div><h3>#{n} {escape(r.get('label') or 'anomaly')}</h3><dl>{dl}</dl>"
        f"<p class='summary'>{escape(summary)}</p></div></article>"
    )


def camera_page(night: Night, camera: str, cards: list[Card], index_href: str = "index.html") -> str:
    title = f"{camera} on {night.date}"
    vs = night.videos_of(camera)
    its = [c.row for c in cards]
    body = [
        f"<p><a href='{escape(index_href)}'>&larr; night {escape(night.date)}</a></p>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='sub'>{len(vs)} videos, {_hours(vs):.2f} footage hours, {len(cards)} anomaly intervals</p>",
        "<h2>Anomaly score over the night</h2>",
        timeline_svg(vs, night.scores, its),
        "<h2>Videos</h2>",
        _table(
            ["source", "start", "duration s", "status", "message"],
            [
                [
                    f"<code>{escape(v['uri'])}</code>",
                    escape(_clock(v["start_time"], None, 0.0)),
                    f"{v['duration_s'] or 0:.1f}",
                    escape(v["status"]),
                    escape(v["error_message"] or ""),
                ]
                for v in vs
            ],
        ),  # fmt: skip
        "<h2>Intervals</h2>",
    ]
    if cards:
        body.append("<div class='cards'>" + "".join(_card(c, k + 1) for k, c in enumerate(cards)) + "</div>")
    else:
        body.append("<p class='empty'>No anomaly intervals on this camera this night.</p>")
    return _page(title, "\n".join(body))

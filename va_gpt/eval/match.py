"""How well found intervals match the events a synthetic archive injected (`make run`'s last print)."""

from __future__ import annotations

from va_gpt.ops.metrics import temporal_iou


def match_report(truth, archive: str, intervals_by_uri: dict[str, list[tuple[float, float]]]) -> str:
    """One line per event (its best temporal IoU with a found interval) and per normal video; a head line
    with the events an interval overlaps, the mean IoU and the normal videos given an interval.

    truth: the archive's ground truth (va_gpt.synthetic: ``.videos`` with ``.key`` and ``.events`` of
    ``.kind``, ``.start_s``, ``.end_s``); intervals_by_uri: URI -> found (start_s, end_s) intervals.
    """
    lines, matched, events, ious, false_normal, normal = [], 0, 0, [], 0, 0
    for v in truth.videos:
        found = intervals_by_uri.get(f"{archive.rstrip('/')}/{v.key}", [])
        if not v.events:
            normal += 1
            false_normal += bool(found)
            lines.append(f"  {v.key:<32} normal           found {len(found)} interval(s)")
            continue
        for e in v.events:
            events += 1
            best = max((temporal_iou((e.start_s, e.end_s), f) for f in found), default=0.0)
            matched += best > 0
            ious.append(best)
            got = ", ".join(f"{a:.1f}-{b:.1f}s" for a, b in found) or "none"
            lines.append(
                f"  {v.key:<32} {e.kind:<16} truth {e.start_s:.1f}-{e.end_s:.1f}s  found {got}  IoU {best:.2f}"
            )
    mean_iou = sum(ious) / len(ious) if ious else 0.0
    head = (
        f"matched events: {matched}/{events} (an interval overlaps the event), mean IoU {mean_iou:.2f}; "
        f"normal videos with an interval: {false_normal}/{normal}"
    )
    return "\n".join([head, *lines])

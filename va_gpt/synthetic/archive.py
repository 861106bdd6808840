"""Writing a night of synthetic camera footage and its ground truth under a URL (`vagpt synth`)."""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence

import numpy as np

from va_gpt.io.filesystem import filesystem, write_bytes
from va_gpt.synthetic.anomalies import ALL_KINDS
from va_gpt.synthetic.domain import (
    OOR_KNOBS,
    SPLITS,
    check_event_hard_negative_p,
    check_out_of_range_knobs,
    sample_domain,
)
from va_gpt.synthetic.mp4 import write_mp4
from va_gpt.synthetic.scene import check_event_start, draw_event_start_s, make_scene
from va_gpt.synthetic.truth import ArchiveTruth, VideoTruth


def _start_times(first: str, count: int, duration_s: float, cam_index: int) -> list[str]:
    """Wall-clock start times for one camera, increasing through the night, all before midnight."""
    t0 = _dt.datetime.strptime(first, "%H:%M:%S")
    first_s = t0.hour * 3600 + t0.minute * 60 + t0.second
    offset = (cam_index * 17) % 60
    window = 86400 - 1 - first_s - offset - math.ceil(duration_s)
    step = 600 if count <= 1 else min(600, window // (count - 1))
    if window < 0 or (count > 1 and step < math.ceil(duration_s)):
        raise ValueError(f"{count} videos of {duration_s:g} s from {first} do not fit before midnight")
    out = []
    for k in range(count):
        s = first_s + offset + k * step
        out.append(f"{s // 3600:02d}{s % 3600 // 60:02d}{s % 60:02d}")
    return out


def generate_archive(
    url: str,
    *,
    cameras: int = 3,
    date: str = "2026-11-21",
    videos_per_camera: int = 2,
    duration_s: float = 30.0,
    width: int = 640,
    height: int = 480,
    fps: float = 30.0,
    anomaly_kinds: Sequence[str] = ALL_KINDS,
    normal_fraction: float = 1 / 3,
    seed: int = 0,
    codec: str = "h264",
    storage_options: dict | None = None,
    start_time: str = "22:00:00",
    gop: int | None = None,
    crf: int = 23,
    event_start: tuple[float, float] | None = None,
    domain_split: str | None = None,
    out_of_range: tuple[str, ...] = OOR_KNOBS,
    event_hard_negative_p: float = 0.0,
) -> ArchiveTruth:
    """Write a night of synthetic camera footage and its ground truth under `url`.

    Layout: ``{url}/{camera_id}/{date}/{HHMMSS}.mp4`` (cam01, cam02, ...; start
    times from `start_time`, increasing, before midnight) plus
    ``{url}/_truth/Temporal_Anomaly_Annotation.txt`` (UCF-Crime format, native
    frames, exclusive ends, see the module docstring) and
    ``{url}/_truth/events.json``. Videos are taken in time order across
    cameras; a `normal_fraction` of them, evenly spread, are normal, and the
    others cycle through `anomaly_kinds` (rotated by `seed`), so every kind
    appears once there are enough videos. Each camera has its own background.
    `event_start`: (lo, hi) fractions of the video an event starts within, drawn per video
    (default: the scene's own 25-45%). Question sets want a wide range, so that *when* cannot be
    guessed without watching.
    `domain_split`: None renders every video plainly at `width` x `height`, `fps`, `codec`,
    `gop`, `crf`; "train", "val", "test" or "out_of_range" draws one
    :class:`va_gpt.synthetic.domain.Domain` per video from the seed, and *its* resolution,
    fps, codec, GOP and crf replace those arguments (the truth records each video's domain
    and hard negatives). The split is mixed into the video seeds, so the splits of one
    `seed` hold different videos.
    `out_of_range` (with domain_split "out_of_range"): which knobs go outside training (see
    sample_domain); the videos, events and every other knob are those of the full split's archive
    of the same seed.
    `event_hard_negative_p` (with a domain_split): the videos with an event get hard negatives
    too, each with this probability (sample_domain; default 0: normal videos only).
    """
    kinds = tuple(anomaly_kinds)
    check_event_start(event_start)
    bad = [k for k in kinds if k not in ALL_KINDS]
    if bad:
        raise ValueError(f"unknown anomaly kinds {bad}; expected a subset of {ALL_KINDS}")
    if not 0.0 <= normal_fraction <= 1.0:
        raise ValueError(f"normal_fraction must be in [0, 1], got {normal_fraction}")
    if domain_split is not None and domain_split not in SPLITS:
        raise ValueError(f"unknown domain split {domain_split!r}; expected one of {SPLITS} or None")
    check_out_of_range_knobs(out_of_range, domain_split)  # before anything is rendered
    check_event_hard_negative_p(event_hard_negative_p, domain_split)
    if cameras < 1 or videos_per_camera < 1:
        raise ValueError("cameras and videos_per_camera must be >= 1")
    _dt.date.fromisoformat(date)
    url = url.rstrip("/")
    filesystem(url, storage_options)  # a bad URL or options fail before any rendering
    times = [_start_times(start_time, videos_per_camera, duration_s, c) for c in range(cameras)]
    nf = 1.0 if not kinds else normal_fraction
    videos: list[VideoTruth] = []
    j = n_anom = 0
    for k in range(videos_per_camera):
        for c_idx in range(cameras):
            c = (c_idx + k) % cameras  # rotate the camera order each round so normals spread over cameras
            normal = math.floor((j + 1) * nf + 0.5) - math.floor(j * nf + 0.5) >= 1
            j += 1
            kind = None if normal else kinds[(n_anom + seed) % len(kinds)]
            n_anom += 0 if normal else 1
            cam = f"cam{c + 1:02d}"
            key = f"{cam}/{date}/{times[c][k]}.mp4"
            vseed = int(np.random.SeedSequence([seed, c, k]).generate_state(1)[0])
            cseed = int(np.random.SeedSequence([seed, c, 1 << 20]).generate_state(1)[0])
            dom, v_codec, v_gop, v_crf = None, codec, gop, crf
            if domain_split is not None:
                vseed = int(
                    np.random.SeedSequence([seed, c, k, 1 + SPLITS.index(domain_split)]).generate_state(1)[0]
                )
                dom = sample_domain(
                    np.random.default_rng([vseed, 23]), domain_split, out_of_range=out_of_range,
                    event_hard_negative_p=event_hard_negative_p,
                )  # fmt: skip
                v_codec, v_gop, v_crf = dom.codec, dom.gop, dom.crf
            start_s = draw_event_start_s(vseed, kind, duration_s, event_start)
            if dom is None:
                scene = make_scene(vseed, kind, duration_s, width, height, fps, start_s, camera_seed=cseed)
            else:
                scene = make_scene(
                    vseed, kind, duration_s, event_start_s=start_s, camera_seed=cseed, domain=dom
                )
            write_mp4(
                scene, f"{url}/{key}", codec=v_codec, gop=v_gop, storage_options=storage_options, crf=v_crf
            )
            t = times[c][k]
            videos.append(
                VideoTruth(
                    key=key,
                    camera_id=cam,
                    date=date,
                    start_time=f"{t[:2]}:{t[2:4]}:{t[4:]}",
                    duration_s=scene.duration_s,
                    fps=scene.fps,
                    num_frames=scene.num_frames,
                    width=scene.width,
                    height=scene.height,
                    codec=v_codec,
                    seed=vseed,
                    camera_seed=cseed,
                    label=scene.label,
                    events=list(scene.events),
                    domain=dom,
                    distractors=list(scene.distractors),
                )
            )
    videos.sort(key=lambda v: v.key)
    truth = ArchiveTruth(url=url, seed=seed, videos=videos)
    write_bytes(f"{url}/{ArchiveTruth.ANNOTATION}", truth.annotation_text().encode(), storage_options)
    write_bytes(
        f"{url}/{ArchiveTruth.EVENTS}", json.dumps(truth.to_dict(), indent=1).encode(), storage_options
    )
    return truth

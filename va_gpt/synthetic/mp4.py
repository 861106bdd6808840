"""Encoding a synthetic scene to an mp4 like a surveillance camera's (fixed GOP, no B-frames) with PyAV."""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import av

from va_gpt.io.filesystem import write_bytes
from va_gpt.synthetic.scene import Scene

_ENCODERS = {"h264": "libx264", "avc": "libx264", "hevc": "libx265", "h265": "libx265"}
# the encoder options that keep each encoder on one thread (no slice, lookahead or frame threads,
# no thread pool): see write_mp4
SINGLE_THREAD = {"libx264": "threads=1", "libx265": "pools=none:frame-threads=1"}


def write_mp4(
    scene: Scene,
    url: str,
    *,
    codec: str = "h264",
    gop: int | None = None,
    storage_options: dict | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    bframes: int = 0,
) -> str:
    """Encode `scene` to an mp4 (yuv420p) at any fsspec URL; returns the URL.

    `codec` is "h264" (libx264) or "hevc" (libx265). Like a surveillance camera:
    a fixed GOP (`gop` frames, default 2 s worth, scene-cut keyframes off) and no
    B-frames unless `bframes` > 0. The file is muxed to a local temp file
    (mp4 needs seeking) and uploaded in one atomic write.
    """
    if codec not in _ENCODERS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {sorted(_ENCODERS)}")
    if scene.width % 2 or scene.height % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {scene.width}x{scene.height}")
    enc = _ENCODERS[codec]
    gop = int(gop) if gop else max(1, int(round(2 * scene.fps)))
    rate = Fraction(scene.fps).limit_denominator(1001)
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={int(bframes)}"
    # One encoder thread (SINGLE_THREAD): threaded x264 (two slice and two lookahead threads on a
    # 2-core machine) once encoded a video of the demo VA-GPT's training archive differently in two
    # builds of the same commit (frames 62 on, by up to 30 levels), so the classifier's scores on it,
    # the stage-0 prompts and every VA-GPT weight after them differed (docs/MEASUREMENTS.md,
    # "Why the VA-GPT did not reproduce"). A synthetic archive is data the builds train on: the
    # same scene must give the same bytes. Encoding is a small part of rendering one.
    if enc == "libx264":
        options = {"crf": str(crf), "preset": preset, "x264-params": f"{params}:{SINGLE_THREAD[enc]}"}
    else:
        options = {
            "crf": str(crf),
            "preset": preset,
            "x265-params": f"{params}:{SINGLE_THREAD[enc]}:log-level=error",
        }
    with tempfile.TemporaryDirectory(prefix="vagpt-synth-") as tmp:
        local = Path(tmp) / "video.mp4"
        with av.open(local, "w", format="mp4") as out:
            stream = out.add_stream(enc, rate=rate, options=options)
            stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "yuv420p"
            stream.codec_context.gop_size = gop
            if enc == "libx265":
                stream.codec_context.codec_tag = "hvc1"
            tb = Fraction(1) / rate
            for i, img in enumerate(scene.frames()):
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts, vf.time_base = i, tb
                out.mux(stream.encode(vf))
            out.mux(stream.encode(None))
        write_bytes(url, local.read_bytes(), storage_options)
    return url

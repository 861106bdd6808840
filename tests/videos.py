"""Small synthetic test videos written with PyAV, and a reader for the frame index they carry.

Every frame shows its own index as a binary code: `NBITS` vertical blocks across the
top third of the picture, bright for a 1 bit and dark for a 0 bit (most significant
bit on the left). The code survives H.264/HEVC compression and any resize, so a test
can read back which source frame a sampled frame came from (`read_index`). Below
the code there is a moving gradient and a moving square, so consecutive frames
differ like real footage and the encoder has real work to do.

Writers return the path they wrote. Keep them small (160x120, a few seconds):
the whole decode suite should run in seconds on one core.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

NBITS = 10  # up to 1024 distinct frame indices
CODE_ROWS = 1 / 3  # the code occupies the top third of the picture
BRIGHT, DARK = 235, 16


def frame_image(i: int, width: int = 160, height: int = 120) -> np.ndarray:
    """RGB uint8 [height, width, 3] for frame index `i` (code on top, moving pattern below)."""
    if not 0 <= i < 2**NBITS:
        raise ValueError(f"frame index {i} does not fit in {NBITS} bits")
    img = np.empty((height, width, 3), np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    img[..., 0] = (xx * 2 + i * 3) % 256
    img[..., 1] = (yy * 2 + i * 5) % 256
    img[..., 2] = ((xx + yy) + i * 7) % 256
    side = max(4, height // 6)
    x0 = (i * 4) % max(1, width - side)
    y0 = height - side - 2
    img[y0 : y0 + side, x0 : x0 + side] = 255
    code_h = int(round(height * CODE_ROWS))
    for b in range(NBITS):
        bit = (i >> (NBITS - 1 - b)) & 1
        x_lo = (b * width) // NBITS
        x_hi = ((b + 1) * width) // NBITS
        img[:code_h, x_lo:x_hi] = BRIGHT if bit else DARK
    return img


def read_index(rgb: np.ndarray) -> int:
    """The frame index coded in an RGB frame of any size (as `frame_image` drew it)."""
    h, w = rgb.shape[:2]
    code_h = h * CODE_ROWS
    gray = rgb.astype(np.float32).mean(axis=2)
    value = 0
    for b in range(NBITS):
        x_lo = (b + 0.3) * w / NBITS
        x_hi = (b + 0.7) * w / NBITS
        y_lo, y_hi = 0.2 * code_h, 0.8 * code_h
        block = gray[int(y_lo) : max(int(y_hi), int(y_lo) + 1), int(x_lo) : max(int(x_hi), int(x_lo) + 1)]
        value = (value << 1) | int(block.mean() > (BRIGHT + DARK) / 2)
    return value


def _add_audio(container, sample_rate: int = 22050):
    stream = container.add_stream("aac", rate=sample_rate)
    stream.layout = "mono"
    return stream


def _encode_audio(container, stream, duration_s: float, sample_rate: int = 22050) -> None:
    n_total = int(duration_s * sample_rate)
    chunk = 1024
    for start in range(0, n_total, chunk):
        n = min(chunk, n_total - start)
        t = (np.arange(start, start + n) / sample_rate).astype(np.float32)
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_video(
    path: str | Path,
    *,
    seconds: float = 2.0,
    fps: float | Fraction = 30,
    times: list[float] | None = None,
    codec: str = "libx264",
    width: int = 160,
    height: int = 120,
    gop: int | None = None,
    bframes: int | None = None,
    audio: bool = False,
    format: str | None = None,
    container_options: dict | None = None,
    preset: str = "ultrafast",
) -> Path:
    """Write a synthetic video; frame i shows index i (see `frame_image`).

    CFR: `seconds` at `fps` (any rational: 27, Fraction(30000, 1001), Fraction(30067, 1000)).
    VFR: pass `times`, the presentation time of every frame in seconds (millisecond
    resolution); `fps` is then only the nominal rate given to the encoder.
    `gop` fixes the keyframe interval in frames (no scene-cut keyframes); None leaves
    the encoder's default. `format` picks the container (mp4, mpegts, ...) when the
    suffix is not enough; `container_options` go to the muxer (e.g. movflags).
    """
    path = Path(path)
    rate = Fraction(fps).limit_denominator(100000)
    if times is not None:
        n_frames = len(times)
        time_base = Fraction(1, 1000)
        pts = [int(round(t * 1000)) for t in times]
        if any(b <= a for a, b in zip(pts, pts[1:])):
            raise ValueError("VFR times must be strictly increasing at millisecond resolution")
    else:
        n_frames = int(round(seconds * rate))
        time_base = 1 / rate
        pts = list(range(n_frames))
    with av.open(str(path), "w", format=format, options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        options: dict[str, str] = {"preset": preset}
        if codec == "libx264":
            params = []
            if gop is not None:
                params += [f"keyint={gop}", f"min-keyint={gop}", "scenecut=0"]
            if bframes is not None:
                params.append(f"bframes={bframes}")
            if params:
                options["x264-params"] = ":".join(params)
        elif codec == "libx265":
            params = ["log-level=error"]
            if gop is not None:
                params += [f"keyint={gop}", f"min-keyint={gop}", "scenecut=0"]
            if bframes is not None:
                params.append(f"bframes={bframes}")
            options["x265-params"] = ":".join(params)
        elif gop is not None:
            stream.codec_context.gop_size = gop
        stream.codec_context.options = options
        astream = _add_audio(container) if audio else None
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = pts[i]
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if astream is not None:
            duration = float(pts[-1] * time_base) + float(1 / rate)
            _encode_audio(container, astream, duration)
    return path


def write_audio_only(path: str | Path, seconds: float = 1.0) -> Path:
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as container:
        stream = _add_audio(container)
        _encode_audio(container, stream, seconds)
    return path


def write_empty(path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(b"")
    return path


def write_text(path: str | Path) -> Path:
    """A text file with a video name: not a media container at all."""
    path = Path(path)
    path.write_text("camera 12 export log\n" * 200 + "this is not a video, just text with a .mp4 name\n")
    return path


def truncate(src: str | Path, dst: str | Path, fraction: float) -> Path:
    """Copy the first `fraction` of `src`'s bytes to `dst`: a cut upload."""
    data = Path(src).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def _find_box(data: bytes, fourcc: bytes) -> int:
    pos = data.find(fourcc)
    if pos < 4:
        raise ValueError(f"no {fourcc!r} in the file")
    return pos


def write_bogus_codec(path: str | Path, src: str | Path) -> Path:
    """`src` (an H.264 mp4) with its sample entry renamed to a codec tag nobody knows.

    The container still parses (ftyp/moov/mdat intact), the video stream is there,
    but its codec is unknown, so no decoder exists for it.
    """
    data = bytearray(Path(src).read_bytes())
    stsd = _find_box(bytes(data), b"stsd")  # the sample description, not ftyp's 'avc1' brand
    pos = bytes(data).find(b"avc1", stsd)
    if pos < 0:
        raise ValueError(f"{src}: no avc1 sample entry")
    data[pos : pos + 4] = b"zzz1"
    path = Path(path)
    path.write_bytes(bytes(data))
    return path


def write_garbled(path: str | Path, src: str | Path, seed: int = 0) -> Path:
    """`src` (an mp4) with every byte of its media data replaced by noise: the
    container parses, but no frame decodes."""
    data = bytearray(Path(src).read_bytes())
    pos = _find_box(bytes(data), b"mdat")
    size = int.from_bytes(data[pos - 4 : pos], "big")
    start, end = pos + 4, min(len(data), pos - 4 + size)
    rng = np.random.default_rng(seed)
    data[start:end] = rng.integers(0, 256, end - start, dtype=np.uint8).tobytes()
    path = Path(path)
    path.write_bytes(bytes(data))
    return path


def write_random_after_ftyp(path: str | Path, src: str | Path, seed: int = 0, n: int = 4096) -> Path:
    """`src`'s `ftyp` box followed by `n` random bytes (control characters included):
    an MP4 signature on a file that is noise after it."""
    data = Path(src).read_bytes()
    ftyp_size = int.from_bytes(data[:4], "big")
    assert data[4:8] == b"ftyp", "src must start with its ftyp box"
    noise = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
    path = Path(path)
    path.write_bytes(data[:ftyp_size] + noise)
    return path


def vfr_times(n_frames: int, seed: int = 0, lo_ms: int = 20, hi_ms: int = 70) -> list[float]:
    """Irregular frame times: gaps drawn uniformly from [lo_ms, hi_ms] milliseconds."""
    rng = np.random.default_rng(seed)
    gaps = rng.integers(lo_ms, hi_ms + 1, n_frames - 1)
    return [0.0] + list(np.cumsum(gaps) / 1000.0)


def write_rgb(path: str | Path, frames: np.ndarray, fps: int = 5, lossless: bool = True) -> Path:
    """An RGB H.264 video (libx264rgb: any size, 1x1 included, since no chroma subsampling)
    of `frames` [N, H, W, 3] uint8; lossless (crf 0) decodes back to exactly `frames`."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "rgb24"
        if lossless:
            stream.codec_context.options = {"crf": "0", "preset": "ultrafast"}
        for i, picture in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return Path(path)

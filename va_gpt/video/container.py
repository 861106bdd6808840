"""One opened video object: container sniffing, cut detection, stream facts and keyframe map.

`Video(uri, storage_options, threads)` opens an object through fsspec
(`fsspec.open(uri, "rb", **storage_options)`) and hands the file object to PyAV: nothing
is copied to local disk. For s3fs the read-ahead block is `default_block_size` in
storage_options (s3fs default 50 MiB per open file). Opening probes the first packets
(replayed later) for keyframe positions: the container index when it has one (MP4,
MKV), otherwise the first keyframes' pts, extrapolated as a regular grid.
`probe(uri, storage_options)` gives the `VideoInfo` without decoding a frame.
Every failure is a `DecodeError` of the right kind (va_gpt.video.errors).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import av
import fsspec
import numpy as np

from va_gpt.io.errors import is_forbidden
from va_gpt.video.errors import DecodeError, plain

# Decoder threads per video. FFmpeg's frame+slice threads (thread_type AUTO) used 0-15%
# more CPU per decoded video-second than one thread in the bench (full decode x_core
# 29.4-30.3 vs 30.0-34.3) and, with every core already busy, gave no wall-clock gain; the
# pipeline runs one decode task per CPU, so one thread per video is the default.
# `threads=0` (FFmpeg picks, one per core) lowers latency for a single video on idle cores.
DEFAULT_THREADS = 1

EPS = 1e-6  # seconds: timestamps closer than this are equal
PROBE_SECONDS = 30.0  # probe this much video at most (see _PROBE_KEYFRAMES, _PROBE_BYTES)
_AVIO_BUFFER = 256 * 1024
_PROBE_KEYFRAMES = 4  # keyframes to find when the container has no index
_PROBE_BYTES = 16 * 1024 * 1024  # ... or this much compressed data, whichever first


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, plus the keyframe spacing we measured."""

    uri: str
    container: str  # demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "mpegts"
    codec: str  # decoder name, e.g. "h264", "hevc"
    width: int
    height: int
    duration_s: float | None  # from the container header; None when it does not say
    fps: float | None  # native average frame rate (stream.average_rate)
    frames: int | None  # frame count from the header, when known
    has_audio: bool
    gop_s: float | None  # median keyframe interval, seconds; None: only one keyframe seen
    gop_max_s: float | None  # largest keyframe interval seen
    keyframes_indexed: bool  # True: the container index lists every keyframe (MP4, MKV)
    size_bytes: int | None


def _magic(head: bytes) -> str | None:
    """The container family a file's first bytes announce, if any."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"moof"):
        return "mp4"
    if head[:1] == b"\x47" and (len(head) < 189 or head[188:189] == b"\x47"):
        return "mpegts"
    if len(head) >= 193 and head[4:5] == b"\x47" and head[196:197] in (b"\x47", b""):
        return "mpegts"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF":
        return "avi"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpegps"
    if head[:4] in (b"\x00\x00\x00\x01", b"\x00\x00\x01\x09") or head[:3] == b"\x00\x00\x01":
        return "elementary"
    return None


def box_name(fourcc: bytes) -> str | None:
    """An MP4 box type as text when it is one (four printable ASCII characters, or \xa9 + three), else None.

    Random bytes read as a box header are never printed: they may hold control characters.
    """
    if len(fourcc) != 4:
        return None
    first = fourcc[:1] if fourcc[:1] != b"\xa9" else b"a"
    text = (first + fourcc[1:]).decode("latin-1")
    if not all(c.isascii() and (c.isalnum() or c in " -_") for c in text):
        return None
    return fourcc.decode("latin-1")


def mp4_cut(f, size: int) -> str | None:
    """If an MP4's top-level boxes run past the end of the file, say so (a cut upload)."""
    pos, boxes = 0, 0
    try:
        while pos + 8 <= size and boxes < 100_000:
            f.seek(pos)
            hdr = f.read(16)
            if len(hdr) < 8:
                break
            box_size = int.from_bytes(hdr[:4], "big")
            name = box_name(hdr[4:8])
            if name is None:
                return None  # not a box header: garbage after the boxes, not a cut upload
            if box_size == 1 and len(hdr) >= 16:
                box_size = int.from_bytes(hdr[8:16], "big")
            elif box_size == 0:  # extends to end of file
                return None
            if box_size < 8:
                return None
            if pos + box_size > size:
                return f"the file ends inside its '{name}' box ({size - pos} of {box_size} bytes present)"
            pos += box_size
            boxes += 1
        if 0 < size - pos < 8:
            return "the file ends inside a box header"
    except Exception:
        return None
    return None


def ts_cut(size: int | None) -> str | None:
    """If a transport stream's size is no whole number of packets, say so (a cut upload)."""
    if size and all(size % n for n in (188, 192, 204)):
        return "the file ends in the middle of a transport-stream packet"
    return None


class Video:
    """One opened object: fsspec file, PyAV container, its video stream and keyframe map."""

    def __init__(self, uri: str, storage_options: dict | None, threads: int):
        self.uri = uri
        self.storage_options = dict(storage_options or {})
        self.threads = threads
        self._of = None
        self.f = None
        self.container = None
        self.buffered: deque = deque()
        self._demux = None
        self._probe_error: BaseException | None = None
        self.seeks = 0

    # -- errors ------------------------------------------------------------------------
    def error(self, kind: str, why: str) -> DecodeError:
        return DecodeError(self.uri, kind, f"{self.uri}: {why}")

    def read_error(self, exc: BaseException) -> DecodeError:
        """A non-FFmpeg exception raised while reading the object (through PyAV's I/O callbacks)."""
        if isinstance(exc, FileNotFoundError):
            return self.error("missing", f"object disappeared while reading ({plain(exc)})")
        if is_forbidden(exc):
            return self.error("forbidden", f"access denied while reading (HTTP 403: {plain(exc)})")
        return self.error("storage", f"reading failed: {type(exc).__name__}: {plain(exc)}")

    # -- open ----------------------------------------------------------------------------
    def __enter__(self) -> Video:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for closer in (self.container, self.f):
            if closer is not None:
                try:
                    closer.close()
                except Exception:
                    pass
        self.container = self.f = None
        self.buffered = deque()
        self._demux = None

    def _open(self) -> None:
        uri = self.uri
        try:
            self._of = fsspec.open(uri, "rb", **self.storage_options)
            self.f = self._of.open()
        except (FileNotFoundError, IsADirectoryError) as e:
            raise self.error("missing", f"no such object ({plain(e)})") from None
        except Exception as e:
            if is_forbidden(e):
                raise self.error(
                    "forbidden", f"access denied: these credentials may not read it (HTTP 403: {plain(e)})"
                ) from None
            raise self.error("storage", f"could not open: {type(e).__name__}: {plain(e)}") from None
        try:
            size = getattr(self.f, "size", None)
            if not isinstance(size, int):
                self.f.seek(0, 2)
                size = self.f.tell()
            self.f.seek(0)
            head = self.f.read(512) if size else b""
            self.f.seek(0)
        except Exception as e:
            raise self.read_error(e) from None
        self.size = size
        if not size or not head:
            raise self.error("empty", "the object is empty (0 bytes)")
        self.magic = _magic(head)
        try:
            self.container = av.open(self.f, mode="r", buffer_size=_AVIO_BUFFER)
        except av.error.FFmpegError as e:
            raise self._open_failure(e) from None
        except Exception as e:
            raise self.read_error(e) from None
        c = self.container
        videos = list(c.streams.video)
        audios = list(c.streams.audio)
        if not videos:
            if audios:
                raise self.error(
                    "no_video_stream",
                    f"{c.format.name} file has no video stream (only {len(audios)} audio stream(s), "
                    f"codec {audios[0].codec_context.name if audios[0].codec_context else 'unknown'})",
                )
            if self.magic is None:
                raise self.error(
                    "not_video", f"not a video file (no audio or video streams; read as {c.format.name})"
                )
            if not c.streams:
                raise self.error(
                    "no_video_stream",
                    f"{c.format.name} file holds no streams at all (a recording that never wrote a frame)",
                )
            raise self.error("no_video_stream", f"{c.format.name} file has no video stream")
        v = videos[0]
        self.stream = v
        cc = v.codec_context
        if cc is None:
            tag = ""
            try:
                tag = f" (codec tag {v.codec_tag!r})" if getattr(v, "codec_tag", None) else ""
            except Exception:
                pass
            raise self.error(
                "unsupported_codec", f"no decoder for its video codec{tag}: the codec is unknown here"
            )
        try:
            if self.threads == 1:
                cc.thread_count = 1
            else:
                cc.thread_type = "AUTO"
                cc.thread_count = max(0, self.threads)
        except Exception:
            pass
        for s in audios:  # never demuxed: let FFmpeg drop their packets early
            try:
                s.discard = "all"
            except Exception:
                pass
        self.tb = v.time_base
        self._probe()
        self.info = self._info()

    def _open_failure(self, exc: av.error.FFmpegError) -> DecodeError:
        if isinstance(exc, av.error.DecoderNotFoundError):
            return self.error("unsupported_codec", f"no decoder for its codec ({plain(exc)})")
        if self.magic is None:
            return self.error(
                "not_video", "not a media container (unrecognised content; FFmpeg could not read it)"
            )
        if self.magic == "mp4":
            cut = mp4_cut(self.f, self.size)
            if cut:
                return self.error("truncated", f"MP4 is cut short: {cut}; no frame can be decoded")
        if self.magic == "mpegts" and ts_cut(self.size):
            return self.error("truncated", f"transport stream is cut short: {ts_cut(self.size)}")
        return self.error("corrupt", f"{self.magic} container could not be read ({plain(exc)})")

    # -- probe ---------------------------------------------------------------------------
    def _probe(self) -> None:
        """Buffer the first packets (replayed later) and find keyframe positions."""
        v, tb = self.stream, self.tb
        entries = []
        try:
            entries = [e for e in v.index_entries if e.is_keyframe]
        except Exception:
            entries = []
        indexed = len(entries) > 0
        self._demux = self.container.demux(v)
        key_pts: list[int] = []
        delta = None
        first_pts = None
        nbytes = 0
        try:
            for pkt in self._demux:
                self.buffered.append(pkt)
                if pkt.pts is not None:
                    if first_pts is None or pkt.pts < first_pts:
                        first_pts = pkt.pts
                if pkt.is_keyframe and pkt.pts is not None:
                    key_pts.append(pkt.pts)
                    if delta is None and pkt.dts is not None:
                        delta = pkt.pts - pkt.dts
                nbytes += pkt.size or 0
                if indexed and delta is not None:
                    break
                if len(key_pts) >= _PROBE_KEYFRAMES or nbytes > _PROBE_BYTES:
                    break
                if (
                    first_pts is not None
                    and pkt.pts is not None
                    and (pkt.pts - first_pts) * tb > PROBE_SECONDS
                ):
                    break
            else:
                self._demux = None  # the whole stream fit in the probe
        except av.error.FFmpegError as e:
            self._probe_error = e
        except Exception as e:
            raise self.read_error(e) from None
        start = v.start_time
        self.origin = start if start is not None else (first_pts if first_pts is not None else 0)
        if indexed:
            d = delta or 0
            pts = sorted({e.timestamp + d for e in entries})
            self.keyframes_complete = True
        else:
            pts = sorted(set(key_pts))
            self.keyframes_complete = False
        self.keyframes = [float((p - self.origin) * tb) for p in pts]
        gaps = np.diff(self.keyframes) if len(self.keyframes) > 1 else np.array([])
        self.gop_s = float(np.median(gaps)) if gaps.size else None
        self.gop_max_s = float(gaps.max()) if gaps.size else None
        self.gop_regular = bool(gaps.size) and float(gaps.max() - gaps.min()) <= 0.5 * self.frame_dur + EPS

    @property
    def frame_dur(self) -> float:
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
        return float(1 / rate) if rate else 1 / 30

    def _info(self) -> VideoInfo:
        c, v = self.container, self.stream
        duration = None
        if v.duration is not None:
            duration = float(v.duration * v.time_base)
        elif c.duration is not None:
            duration = c.duration / av.time_base
        rate = v.average_rate
        return VideoInfo(
            uri=self.uri,
            container=c.format.name,
            codec=v.codec_context.name,
            width=v.codec_context.width,
            height=v.codec_context.height,
            duration_s=duration,
            fps=float(rate) if rate else None,
            frames=v.frames or None,
            has_audio=bool(c.streams.audio),
            gop_s=self.gop_s,
            gop_max_s=self.gop_max_s,
            keyframes_indexed=self.keyframes_complete,
            size_bytes=self.size,
        )

    # -- keyframe map --------------------------------------------------------------------
    def key_before(self, t: float) -> float | None:
        """Time of the last keyframe at or before `t` (extrapolated on a regular grid past the probe)."""
        ks = self.keyframes
        if not ks or t < ks[0] - EPS:
            return None
        if self.keyframes_complete or t <= ks[-1] + EPS or not self.gop_s:
            return ks[bisect.bisect_right(ks, t + EPS) - 1]
        return ks[-1] + math.floor((t - ks[-1] + EPS) / self.gop_s) * self.gop_s

    def duration_estimate(self) -> float:
        if self.info.duration_s:
            return self.info.duration_s
        return max(self.keyframes[-1] if self.keyframes else 0.0, 1.0)

    # -- packets ------------------------------------------------------------------------
    def packets(self) -> Iterator:
        """Video packets from the current position: the probe's buffer first, then the demuxer."""
        while self.buffered:
            yield self.buffered.popleft()
        if self._probe_error is not None:
            err, self._probe_error = self._probe_error, None
            raise err
        demux = self._demux
        if demux is not None:
            for pkt in demux:  # noqa: UP028 (`yield from` an exhausted PyAV Cython generator raises)
                yield pkt
            if self._demux is demux:
                self._demux = None

    def seek(self, t: float) -> None:
        self.buffered = deque()
        self._probe_error = None
        ts = self.origin + max(0, math.floor(t / self.tb))
        self.container.seek(int(ts), backward=True, any_frame=False, stream=self.stream)
        self._demux = self.container.demux(self.stream)
        self.seeks += 1


def probe(uri: str, storage_options: dict | None = None) -> VideoInfo:
    """Container facts and keyframe spacing for one object, without decoding a frame."""
    with Video(uri, storage_options, DEFAULT_THREADS) as vid:
        return vid.info

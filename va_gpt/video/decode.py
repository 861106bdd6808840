"""Decode stage: object-store video -> fixed-length clips of sampled, resized RGB frames.

Public API
----------
- `iter_clips(uri, fps=, clip_len=, size=, strategy=, storage_options=, video_id=)`:
  a generator of `Clip`s; memory is bounded by one clip (plus one decoded frame).
- `decode_window(uri, start_s, end_s, fps=, size=)`: the samples of one time window,
  found by seeking to the keyframe before `start_s` (re-decoding around an interval).
- `probe(uri, storage_options)`: `VideoInfo` without decoding a frame.
- `Decode(fps, clip_len, size, strategy, storage_options)`: the Ray-Data-style callable;
  rows with `uri` + `video_id` in, a generator of one-clip batches out, errors as rows.
- `DecodeError(uri, kind, message)`: every failure, typed (`KINDS`).

Objects are read through fsspec (`fsspec.open(uri, "rb", **storage_options)`) and the
file object is handed to PyAV: nothing is copied to local disk. For s3fs the read-ahead
block is `default_block_size` in storage_options (s3fs default 50 MiB per open file).

Sampling (identical for every strategy)
---------------------------------------
Times are the video's own presentation timestamps, `(pts - stream.start_time) * time_base`,
so odd rates (27, 30000/1001, 30.067 fps) and variable frame rate come out right. Target
times are `k / fps`, k = 0, 1, 2, ... For each target the *nearest* decoded frame is taken
(ties go to the earlier frame), so a sample is at most half a native frame interval from its
target on constant-rate video. A source frame is emitted at most once: when two targets
pick the same frame (sampling faster than the video, or a gap in VFR footage) the second
target is skipped. After the last frame, one more target is served by that last frame only
if it lies less than half a native frame interval beyond it. `Clip.t` always holds the
chosen frame's real time, never the target.

Strategies
----------
- `full`: decode every frame, keep the sampled ones. Always correct; cost = every frame.
- `nonkey`: `skip_frame = NONKEY` and only keyframe packets are sent to the decoder, so
  only keyframes are ever candidates. It gives the same samples as `full` exactly when
  every target time has a keyframe within half a native frame interval, i.e. the keyframe
  grid contains the sampling grid: all-intra video, or a fixed GOP whose duration divides
  the sampling period (GOP 15 at 30 fps = 0.5 s with 2 fps sampling: yes; GOP 30 = 1 s or
  GOP 60 = 2 s with 2 fps: no, half or three quarters of the targets have no keyframe and
  would snap to one up to half a GOP away). Asked for explicitly it runs anyway (times
  stay honest, but they snap to keyframes); `auto` only picks it when the condition holds.
- `seek`: before decoding towards the next target, if the keyframe preceding that target
  lies beyond the last decoded frame, seek to it (`container.seek(..., backward=True)`) and
  decode forward; otherwise keep decoding. This skips the frames between a sample and the
  next target's keyframe, so it wins when samples are far apart relative to the GOP. Seeks
  that land after the target (MPEG-TS seeks are imprecise) are retried further back, so the
  samples are always those of `full`.
- `auto`: from the keyframe positions (the container index when it has one, e.g. MP4;
  otherwise the first keyframes' pts, extrapolated as a regular grid) it predicts the work
  of each strategy with costs measured by jobs/bench_decode.py (`COST_*` below): `nonkey`
  when it is exact, else `seek` when its predicted cost is below `SEEK_GAIN` of `full`,
  else `full`. Measured at 2 fps on 640x480 30 fps H.264, per CPU second, relative to
  full: GOP 15 nonkey 4.4-5.2x, seek 2.6-2.8x; GOP 30 seek 1.4-1.5x; GOP 60 seek
  1.1-1.2x (nonkey is not exact at GOP 30/60 there).

Damage and errors
-----------------
Every failure is a `DecodeError` with `.uri`, `.kind` (see `KINDS`) and a plain message.
A damaged or cut file that still decodes some frames is not an error: the frames before
the damage are yielded, the last clip has `partial=True` and the `VideoSummary` on it
says why. `truncated` is raised only when not even one frame decodes. A storage error
in the middle of a video is raised as `storage` after the clips already yielded (the
video is not damaged, the read failed: a retry may succeed).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import fsspec
import numpy as np

KINDS = (
    "missing",  # the object does not exist
    "storage",  # the object store / network failed while reading it
    "empty",  # zero bytes
    "not_video",  # not a media container at all
    "no_video_stream",  # a media file without video (e.g. audio only)
    "unsupported_codec",  # video stream whose codec has no decoder here
    "truncated",  # cut/damaged so that not one frame decodes
    "corrupt",  # any other decode failure
)

STRATEGIES = ("auto", "full", "nonkey", "seek")

# Cost model for `auto`, in units of "decode one average frame", measured with
# jobs/bench_decode.py (640x480 30 fps H.264 x264-veryfast with B-frames, GOP 15/30/60,
# 2 fps sampling, one thread). In the least loaded run a seek (demuxer seek + decoder
# flush + restart) cost 4.1-4.7 frames and a keyframe 3.3 frames plus 0.02 per packet
# demuxed and skipped; with these the predicted cost relative to full matched the
# measured one: seek 0.38/0.70/0.86 predicted vs 0.35/0.70/0.86 measured for GOP
# 15/30/60, nonkey 0.22 vs 0.22 for GOP 15. Noisier runs on the shared machine put GOP 60
# seek anywhere from 0.84 to 1.0, so seek needs a predicted gain of 10%.
COST_SEEK = 4.5
COST_KEYFRAME = 3.0
COST_DEMUX = 0.02  # demuxing one packet that nonkey does not decode
SEEK_GAIN = 0.9

# Decoder threads per video. FFmpeg's frame+slice threads (thread_type AUTO) used 0-15%
# more CPU per decoded video-second than one thread in the bench (full decode x_core
# 29.4-30.3 vs 30.0-34.3) and, with every core already busy, gave no wall-clock gain; the
# pipeline runs one decode task per CPU, so one thread per video is the default.
# `threads=0` (FFmpeg picks, one per core) lowers latency for a single video on idle cores.
DEFAULT_THREADS = 1

_EPS = 1e-6  # seconds: timestamps closer than this are equal
_AVIO_BUFFER = 256 * 1024
_PROBE_KEYFRAMES = 4  # keyframes to find when the container has no index
_PROBE_SECONDS = 30.0  # ... or this much video
_PROBE_BYTES = 16 * 1024 * 1024  # ... or this much compressed data, whichever first
_SEEK_TRIES = 4
_MAX_GLITCHES = 50  # decode errors skipped before a video counts as damaged from there on


# ------------------------------------------------------------------------------------
# Public types


class DecodeError(Exception):
    """A video that could not be decoded. `kind` is one of KINDS; `message` names the object."""

    def __init__(self, uri: str, kind: str, message: str):
        if kind not in KINDS:
            raise ValueError(f"unknown DecodeError kind {kind!r}; known: {KINDS}")
        super().__init__(message)
        self.uri = uri
        self.kind = kind
        self.message = message

    def __reduce__(self):
        return (DecodeError, (self.uri, self.kind, self.message))

    def __str__(self) -> str:
        return self.message


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


@dataclass(frozen=True)
class VideoSummary:
    """How the decode of one video ended; carried by its last clip."""

    strategy: str  # the strategy actually used (auto resolved)
    samples: int  # distinct sampled frames (overlap frames counted once)
    clips: int
    decoded_frames: int  # frames the decoder produced (work done)
    seeks: int
    glitches: int  # decode errors skipped (each loses the frames up to the next keyframe)
    partial: bool  # damaged after the yielded frames
    damage: str | None  # why, in plain words


@dataclass
class Clip:
    video_id: str
    uri: str
    index: int
    frames: np.ndarray  # uint8 [T, size, size, 3] RGB
    t: np.ndarray  # float64 [T], seconds from video start (the frames' own timestamps)
    first_is_overlap: bool  # frames[0] is the previous clip's last frame
    partial: bool  # the video was damaged after these frames (only ever on the last clip)
    is_last: bool
    info: VideoInfo
    summary: VideoSummary | None = None  # on the last clip only


# ------------------------------------------------------------------------------------
# Opening and error mapping


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


def _mp4_cut(f, size: int) -> str | None:
    """If an MP4's top-level boxes run past the end of the file, say so (a cut upload)."""
    pos, boxes = 0, 0
    try:
        while pos + 8 <= size and boxes < 100_000:
            f.seek(pos)
            hdr = f.read(16)
            if len(hdr) < 8:
                break
            box_size = int.from_bytes(hdr[:4], "big")
            name = hdr[4:8].decode("latin-1")
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


def _ts_cut(size: int | None) -> str | None:
    if size and all(size % n for n in (188, 192, 204)):
        return "the file ends in the middle of a transport-stream packet"
    return None


def _plain(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.replace("[Errno ", "[").strip()


class _Video:
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
            return self.error("missing", f"object disappeared while reading ({_plain(exc)})")
        return self.error("storage", f"reading failed: {type(exc).__name__}: {_plain(exc)}")

    # -- open ----------------------------------------------------------------------------
    def __enter__(self) -> _Video:
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
            raise self.error("missing", f"no such object ({_plain(e)})") from None
        except Exception as e:
            raise self.error("storage", f"could not open: {type(e).__name__}: {_plain(e)}") from None
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
            if self.magic is None or not c.streams:
                raise self.error(
                    "not_video", f"not a video file (no audio or video streams; read as {c.format.name})"
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
            return self.error("unsupported_codec", f"no decoder for its codec ({_plain(exc)})")
        if self.magic is None:
            return self.error(
                "not_video", "not a media container (unrecognised content; FFmpeg could not read it)"
            )
        if self.magic == "mp4":
            cut = _mp4_cut(self.f, self.size)
            if cut:
                return self.error("truncated", f"MP4 is cut short: {cut}; no frame can be decoded")
        if self.magic == "mpegts" and _ts_cut(self.size):
            return self.error("truncated", f"transport stream is cut short: {_ts_cut(self.size)}")
        return self.error("corrupt", f"{self.magic} container could not be read ({_plain(exc)})")

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
                    and (pkt.pts - first_pts) * tb > _PROBE_SECONDS
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
        self.gop_regular = bool(gaps.size) and float(gaps.max() - gaps.min()) <= 0.5 * self.frame_dur + _EPS

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
        if not ks or t < ks[0] - _EPS:
            return None
        if self.keyframes_complete or t <= ks[-1] + _EPS or not self.gop_s:
            return ks[bisect.bisect_right(ks, t + _EPS) - 1]
        return ks[-1] + math.floor((t - ks[-1] + _EPS) / self.gop_s) * self.gop_s

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


# ------------------------------------------------------------------------------------
# Sampling


class _Sampler:
    """Nearest-frame selection on the grid k / fps (ties to the earlier frame), each frame once."""

    def __init__(self, fps: float, start_s: float = 0.0, end_s: float = math.inf):
        self.fps = float(fps)
        self.k = max(0, math.ceil(start_s * self.fps - 1e-9))
        self.end_s = end_s
        self.prev: tuple[float, Any] | None = None
        self.last_emit: float | None = None

    @property
    def next_target(self) -> float | None:
        t = self.k / self.fps
        return t if t <= self.end_s + _EPS else None

    def _emit(self, pick, out: list) -> None:
        if self.last_emit is None or pick[0] > self.last_emit + _EPS:
            out.append(pick)
            self.last_emit = pick[0]

    def feed(self, t: float, frame) -> list:
        out: list = []
        while (target := self.next_target) is not None and target <= t + _EPS:
            if self.prev is not None and target - self.prev[0] <= t - target + _EPS:
                self._emit(self.prev, out)
            else:
                self._emit((t, frame), out)
            self.k += 1
        self.prev = (t, frame)
        return out

    def finish(self, frame_dur: float) -> list:
        out: list = []
        target = self.next_target
        if target is not None and self.prev is not None and target - self.prev[0] < frame_dur / 2 - _EPS:
            self._emit(self.prev, out)
        self.prev = None
        return out


@dataclass
class _Run:
    strategy: str
    decoded: int = 0
    glitches: int = 0
    damage: str | None = None
    error: DecodeError | None = None
    last_t: float = -math.inf


def _where(run: _Run) -> str:
    return "before the first frame" if run.last_t == -math.inf else f"after {run.last_t:.2f}s"


def _frame_time(vid: _Video, frame, last_t: float) -> float:
    if frame.pts is None:
        return last_t + vid.frame_dur if last_t > -math.inf else 0.0
    return float((frame.pts - vid.origin) * vid.tb)


def _frames(vid: _Video, sampler: _Sampler, run: _Run) -> Iterator[tuple[float, Any]]:
    """Decoded frames in increasing time, per `run.strategy`; records damage in `run`.

    A corrupt packet, a packet the decoder rejects or a frame flagged corrupt is a
    glitch: it is skipped along with everything up to the next keyframe. If no
    keyframe follows, the video is damaged from there on (`run.damage`, partial).
    """
    cc = vid.stream.codec_context
    if run.strategy == "nonkey":
        cc.skip_frame = "NONKEY"
    d = vid.frame_dur
    seeking = run.strategy == "seek"
    packets = vid.packets()
    # A TS cut mid-packet: its last frame comes out flagged corrupt (dropped below); the
    # size check still marks the video partial when that frame was never decoded (nonkey).
    ts_cut = _ts_cut(vid.size) if vid.magic == "mpegts" else None
    landing: float | None = None  # after a seek: the target the first frame must not pass
    seeked_for: float | None = None
    preroll = 0.0  # seconds to seek before a target (grows when seeks land late, e.g. TS)
    tries = 0
    first_key = vid.keyframes[0] if vid.keyframes else 0.0
    broken: str | None = None  # set while skipping to the next keyframe after a glitch

    def seek_target() -> float | None:
        target = sampler.next_target
        if not seeking or target is None or target == seeked_for:
            return None
        if vid.keyframes_complete or vid.gop_regular:
            k = vid.key_before(target)
            if k is None or (run.last_t == -math.inf and k <= first_key + _EPS):
                return None  # decoding from the start reaches it anyway
            return target if k > run.last_t + 0.5 * d else None
        # Irregular or unknown spacing, no index: seek only when the gap surely holds a
        # keyframe (longer than the longest GOP seen, or than the probe when it saw one).
        gop = vid.gop_max_s or _PROBE_SECONDS
        pos = run.last_t if run.last_t > -math.inf else first_key
        return target if target - pos > gop + d else None

    def seek(target: float, back: float) -> bool:
        nonlocal packets, landing, seeked_for, seeking
        try:
            vid.seek(max(0.0, target - back))
        except av.error.FFmpegError:
            seeking = False  # not seekable: keep decoding forward
            return False
        packets = vid.packets()
        landing = seeked_for = target
        return True

    def overshoot() -> bool:
        """The seek landed after its target: seek further back. False: give up seeking
        for this video and go on from here (this one sample may then be a later frame)."""
        nonlocal tries, preroll, landing, seeking
        tries += 1
        target = landing
        if tries <= _SEEK_TRIES:
            preroll += vid.gop_max_s or vid.gop_s or 1.0
            if seek(target, preroll if tries < _SEEK_TRIES else target + 1.0):  # last try: from 0
                return True
        landing, seeking = None, False
        return False

    while sampler.next_target is not None:
        if run.glitches > _MAX_GLITCHES:
            run.damage = f"too many decode errors ({run.glitches}); last: {broken}"
            return
        if landing is None and (target := seek_target()) is not None:
            tries = 0
            seek(target, preroll)
        try:
            pkt = next(packets, None)
        except av.error.FFmpegError as e:
            broken = broken or f"the data could not be read {_where(run)} ({_plain(e)})"
            break
        except Exception as e:
            run.error = vid.read_error(e)
            break
        eof = pkt is None
        if eof:
            if landing is not None and overshoot():  # a seek ran into the end of the file
                continue
            decoded = _flush(cc)
        else:
            if pkt.is_corrupt:
                broken = f"the file is cut or damaged {_where(run)} (incomplete packet)"
                run.glitches += 1
                continue
            if broken is not None or run.strategy == "nonkey":
                if not pkt.is_keyframe:
                    continue
                broken = None
            try:
                decoded = cc.decode(pkt)
            except av.error.FFmpegError as e:
                broken = f"decoding failed {_where(run)} ({_plain(e)})"
                run.glitches += 1
                continue
            except Exception as e:
                run.error = vid.read_error(e)
                break
        if isinstance(decoded, str):  # flush failed
            broken = broken or decoded
            break
        restart = False
        for frame in decoded:
            run.decoded += 1
            t = _frame_time(vid, frame, run.last_t)
            if landing is not None:
                if t > landing + _EPS and overshoot():
                    restart = True
                    break
                landing = None
            if frame.is_corrupt:
                broken = f"frame at {t:.2f}s is corrupt"
                run.glitches += 1
                break
            if t <= run.last_t + _EPS:
                continue  # already past it (a seek landed early) or out-of-order pts
            run.last_t = t
            yield t, frame
            if sampler.next_target is None:
                return
        if restart:
            continue
        if eof:
            break
    if run.error is None:
        if broken is not None:
            run.damage = broken
        elif ts_cut:
            run.damage = ts_cut


def _flush(cc) -> list | str:
    try:
        return list(cc.decode(None))
    except av.error.EOFError:  # already drained by the demuxer's final empty packet
        return []
    except av.error.FFmpegError as e:
        return f"decoding failed at the end of the stream ({_plain(e)})"


def _samples(vid: _Video, sampler: _Sampler, run: _Run) -> Iterator[tuple[float, Any]]:
    for t, frame in _frames(vid, sampler, run):
        yield from sampler.feed(t, frame)
    if run.error is None:
        yield from sampler.finish(vid.frame_dur)


def _zero_frames_error(vid: _Video, run: _Run) -> DecodeError:
    cut = None
    if vid.magic == "mp4":
        cut = _mp4_cut(vid.f, vid.size)
    elif vid.magic == "mpegts":
        cut = _ts_cut(vid.size)
    if cut or (run.damage and "incomplete packet" in run.damage):
        return vid.error(
            "truncated", f"file is cut or damaged: {cut or run.damage}; not one frame could be decoded"
        )
    why = run.damage or "the stream ended without a single decodable frame"
    return vid.error("corrupt", f"{vid.info.codec} video could not be decoded: {why}")


# ------------------------------------------------------------------------------------
# Strategy choice


def choose_strategy(vid: _Video, fps: float, start_s: float = 0.0, end_s: float | None = None) -> str:
    """`auto`'s rule: predicted work of each strategy over the targets, see module docstring."""
    d = vid.frame_dur
    end = vid.duration_estimate() if end_s is None else min(end_s, vid.duration_estimate())
    k0 = max(0, math.ceil(start_s * fps - 1e-9))
    last = end - 0.5 * d  # the last frame is at about end - d: targets past this get no frame
    targets = [k / fps for k in range(k0, int(math.floor(last * fps + 1e-9)) + 1)]
    if not targets or not vid.keyframes:
        return "full"
    span = max(end - start_s, d)
    full_cost = span / d
    # nonkey: exact when every target has a keyframe within half a frame.
    exact = vid.keyframes_complete or vid.gop_regular
    if exact:
        for t in targets:
            k = vid.key_before(t + 0.5 * d)
            if k is None or abs(t - k) > 0.5 * d + _EPS:
                exact = False
                break
    if exact:
        if vid.keyframes_complete:
            n_keys = sum(1 for k in vid.keyframes if start_s - _EPS <= k <= end + _EPS)
        else:
            n_keys = span / vid.gop_s if vid.gop_s else len(targets)
        nonkey_cost = COST_KEYFRAME * n_keys + COST_DEMUX * full_cost
        if nonkey_cost < full_cost:
            return "nonkey"
    # seek: simulate the decode position.
    if not (vid.keyframes_complete or vid.gop_regular):
        return "full"
    first_key = vid.keyframes[0]
    pos, cost = -math.inf, 0.0  # pos: time of the last decoded frame, as at run time
    for t in targets:
        k = vid.key_before(t)
        if k is None:  # before the first keyframe: decoded from the start anyway
            cost += max(t - first_key, 0.0) / d + 1 if pos == -math.inf else (t - pos) / d
        elif pos == -math.inf and k <= first_key + _EPS:
            cost += (t - k) / d + 1  # decoding from the start: no seek needed
        elif k > pos + 0.5 * d:
            cost += COST_SEEK + (t - k) / d + 1
        else:
            cost += (t - pos) / d
        pos = t
    if end_s is None:  # a whole video: both decode on from the last sample to the end
        cost += max(end - pos, 0.0) / d
    if cost < SEEK_GAIN * full_cost:
        return "seek"
    return "full"


def _resolve(vid: _Video, strategy: str, fps: float, start_s: float = 0.0, end_s: float | None = None) -> str:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "auto":
        return choose_strategy(vid, fps, start_s, end_s)
    return strategy


def _check_args(fps: float, size: int, clip_len: int | None = None) -> None:
    if not fps or fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if size <= 0:
        raise ValueError(f"size must be > 0, got {size}")
    if clip_len is not None and clip_len < 2:
        raise ValueError(f"clip_len must be >= 2 (one overlap frame + at least one new), got {clip_len}")


def _rgb(frame, size: int) -> np.ndarray:
    return frame.reformat(width=size, height=size, format="rgb24").to_ndarray()


# ------------------------------------------------------------------------------------
# Public functions


def probe(uri: str, storage_options: dict | None = None) -> VideoInfo:
    """Container facts and keyframe spacing for one object, without decoding a frame."""
    with _Video(uri, storage_options, DEFAULT_THREADS) as vid:
        return vid.info


def iter_clips(
    uri: str,
    *,
    fps: float,
    clip_len: int,
    size: int,
    strategy: str = "auto",
    storage_options: dict | None = None,
    video_id: str | None = None,
    threads: int = DEFAULT_THREADS,
) -> Iterator[Clip]:
    """Sampled, resized clips of one video, as a generator (memory: one clip).

    Each clip after the first starts with the previous clip's last frame. All clips have
    `clip_len` frames except the last, which has at least 2 (a video with a single
    sample gives one 1-frame clip). Raises DecodeError (see module docstring).
    """
    _check_args(fps, size, clip_len)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    video_id = uri if video_id is None else video_id
    with _Video(uri, storage_options, threads) as vid:
        run = _Run(_resolve(vid, strategy, fps))
        info = vid.info
        buf_f: list[np.ndarray] = []
        buf_t: list[float] = []
        pending: Clip | None = None
        index = 0
        samples = 0

        def make(first_overlap: bool) -> Clip:
            return Clip(
                video_id=video_id,
                uri=uri,
                index=index,
                frames=np.stack(buf_f),
                t=np.asarray(buf_t, dtype=np.float64),
                first_is_overlap=first_overlap,
                partial=False,
                is_last=False,
                info=info,
            )

        sampler = _Sampler(fps)
        for t, frame in _samples(vid, sampler, run):
            samples += 1
            arr = _rgb(frame, size)
            if pending is not None:
                yield pending
                pending = None
            buf_f.append(arr)
            buf_t.append(t)
            if len(buf_f) == clip_len:
                pending = make(index > 0)
                index += 1
                buf_f, buf_t = buf_f[-1:], buf_t[-1:]
        if run.error is not None:
            if pending is not None:
                yield pending
            raise run.error
        if samples == 0:
            raise _zero_frames_error(vid, run)
        partial = run.damage is not None
        if pending is not None and len(buf_f) <= 1:
            last = pending
        else:
            if pending is not None:
                yield pending
            last = make(index > 0)
            index += 1
        summary = VideoSummary(
            strategy=run.strategy,
            samples=samples,
            clips=last.index + 1,
            decoded_frames=run.decoded,
            seeks=vid.seeks,
            glitches=run.glitches,
            partial=partial,
            damage=run.damage,
        )
        last.is_last = True
        last.partial = partial
        last.summary = summary
        yield last


def decode_window(
    uri: str,
    start_s: float,
    end_s: float,
    *,
    fps: float,
    size: int,
    storage_options: dict | None = None,
    threads: int = DEFAULT_THREADS,
) -> tuple[np.ndarray, np.ndarray]:
    """The samples (same grid k / fps as `iter_clips`) with start_s <= target <= end_s.

    Seeks to the keyframe before `start_s` and decodes forward. Returns
    (frames uint8 [T, size, size, 3], t float64 [T]); T may be 0 when the window lies
    past the end of the video. Raises DecodeError.
    """
    _check_args(fps, size)
    if end_s < start_s:
        raise ValueError(f"end_s ({end_s}) must be >= start_s ({start_s})")
    with _Video(uri, storage_options, threads) as vid:
        run = _Run("seek")
        sampler = _Sampler(fps, start_s, end_s)
        frames: list[np.ndarray] = []
        times: list[float] = []
        for t, frame in _samples(vid, sampler, run):
            frames.append(_rgb(frame, size))
            times.append(t)
        if run.error is not None:
            raise run.error
        if not frames and run.decoded == 0 and run.damage is not None:
            raise _zero_frames_error(vid, run)
        if not frames:
            return np.zeros((0, size, size, 3), np.uint8), np.zeros((0,), np.float64)
        return np.stack(frames), np.asarray(times, dtype=np.float64)


# ------------------------------------------------------------------------------------
# Ray Data stage


OUTPUT_COLUMNS = (
    "video_id",
    "uri",
    "clip_index",
    "frames",
    "t",
    "first_is_overlap",
    "partial",
    "is_last",
    "error_kind",
    "error_message",
    "duration_s",
    "native_fps",
    "codec",
    "width",
    "height",
    "has_audio",
    "strategy",
)


class Decode:
    """Ray Data `map_batches` callable: rows with `uri` and `video_id` -> one batch per clip.

    Output columns (OUTPUT_COLUMNS): video_id, uri, clip_index, frames uint8
    [1, T, size, size, 3], t float64 [1, T], first_is_overlap, partial, is_last,
    error_kind, error_message, and video facts (duration_s, native_fps, codec, width,
    height, has_audio, strategy). Other input columns are carried through unchanged.

    A video that fails yields one row with `error_kind` set and empty frames
    [1, 0, size, size, 3]; a storage error in the middle of a video yields that row
    after the clips already emitted (treat a video with any error row as failed). A
    damaged video's last clip has `partial` True and `error_message` saying why, with
    `error_kind` None. Nothing is raised for bad input.
    """

    def __init__(
        self,
        fps: float,
        clip_len: int,
        size: int,
        strategy: str = "auto",
        storage_options: dict | None = None,
        threads: int = DEFAULT_THREADS,
    ):
        _check_args(fps, size, clip_len)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        self.fps = float(fps)
        self.clip_len = int(clip_len)
        self.size = int(size)
        self.strategy = strategy
        self.storage_options = dict(storage_options or {})
        self.threads = threads

    @classmethod
    def from_config(cls, cfg, size: int, storage_options: dict | None = None) -> Decode:
        """From a `va_gpt.config.DecodeConfig` and the encoder's image size."""
        return cls(cfg.fps, cfg.clip_len, size, cfg.strategy, storage_options)

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        for col in ("uri", "video_id"):
            if col not in batch:
                raise KeyError(f"Decode needs a {col!r} column; got {sorted(batch)}")
        n = len(batch["uri"])
        extra = [c for c in batch if c not in OUTPUT_COLUMNS]
        for i in range(n):
            carry = {c: batch[c][i] for c in extra}
            yield from self._video(str(batch["uri"][i]), str(batch["video_id"][i]), carry)

    def _video(self, uri: str, video_id: str, carry: dict) -> Iterator[dict[str, np.ndarray]]:
        next_index = 0
        try:
            for clip in iter_clips(
                uri,
                fps=self.fps,
                clip_len=self.clip_len,
                size=self.size,
                strategy=self.strategy,
                storage_options=self.storage_options,
                video_id=video_id,
                threads=self.threads,
            ):
                next_index = clip.index + 1
                yield self._clip_row(clip, carry)
        except DecodeError as e:
            yield self._error_row(video_id, uri, next_index, e.kind, e.message, carry)
        except Exception as e:  # a bug here, not bad input: still a row, never a crash
            msg = f"{uri}: internal error in the decode stage: {type(e).__name__}: {e}"
            yield self._error_row(video_id, uri, next_index, "corrupt", msg, carry)

    @staticmethod
    def _col(value, dtype=object) -> np.ndarray:
        out = np.empty(1, dtype=dtype)
        out[0] = value
        return out

    def _row(self, carry: dict, **cols) -> dict[str, np.ndarray]:
        row = {k: self._col(v) if not isinstance(v, np.ndarray) else v for k, v in cols.items()}
        for c, v in carry.items():
            row[c] = np.asarray([v])
        return row

    def _clip_row(self, clip: Clip, carry: dict) -> dict[str, np.ndarray]:
        info = clip.info
        message = None
        if clip.partial and clip.summary is not None:
            message = f"{clip.uri}: partial: {clip.summary.damage}"
        return self._row(
            carry,
            video_id=clip.video_id,
            uri=clip.uri,
            clip_index=np.asarray([clip.index], np.int64),
            frames=clip.frames[None],
            t=clip.t[None],
            first_is_overlap=np.asarray([clip.first_is_overlap]),
            partial=np.asarray([clip.partial]),
            is_last=np.asarray([clip.is_last]),
            error_kind=None,
            error_message=message,
            duration_s=np.asarray([np.nan if info.duration_s is None else info.duration_s]),
            native_fps=np.asarray([np.nan if info.fps is None else info.fps]),
            codec=info.codec,
            width=np.asarray([info.width], np.int64),
            height=np.asarray([info.height], np.int64),
            has_audio=np.asarray([info.has_audio]),
            strategy=clip.summary.strategy if clip.summary else None,
        )

    def _error_row(self, video_id, uri, index, kind, message, carry) -> dict[str, np.ndarray]:
        s = self.size
        return self._row(
            carry,
            video_id=video_id,
            uri=uri,
            clip_index=np.asarray([index], np.int64),
            frames=np.zeros((1, 0, s, s, 3), np.uint8),
            t=np.zeros((1, 0), np.float64),
            first_is_overlap=np.asarray([False]),
            partial=np.asarray([False]),
            is_last=np.asarray([True]),
            error_kind=kind,
            error_message=message,
            duration_s=np.asarray([np.nan]),
            native_fps=np.asarray([np.nan]),
            codec=None,
            width=np.asarray([0], np.int64),
            height=np.asarray([0], np.int64),
            has_audio=np.asarray([False]),
            strategy=None,
        )

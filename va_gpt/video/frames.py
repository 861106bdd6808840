"""Decoded frames of one opened video in time order, per strategy, with damage handling.

`sampled_frames(vid, sampler, run)` yields the sampled (time, av.VideoFrame) pairs; `run`
(a `Run`) records the work done and how the decode ended: `damage` (the frames so far
are good, the rest is lost: a partial video) or `error` (a storage failure mid-video).
A corrupt packet, a packet the decoder rejects or a frame flagged corrupt is a glitch:
it is skipped along with everything up to the next keyframe.

Non-reference frames that cannot be a sample are not decoded (`full` and `seek`): before a
packet goes to the decoder, `_Skip` looks at the times of the packets around it (the ones
already read and a few read ahead). When another packet lies strictly between it and the
next sample target, and one between the previous (still open) target and it, it is never
the nearest frame to a target, so the decoder gets `skip_frame = NONREF` for it: a
reference frame (one later frames are predicted from) is decoded anyway, a non-reference
one is dropped, and no other frame's pixels change. The nearest frame on either side of a
target is never dropped (no packet lies between it and the target), so the samples are
those of decoding every frame. Off after the first glitch (a damaged stream may lose the
frame that made another one skippable). On x264 footage with B-frames this drops about a
fifth of the frames a full decode makes; on P-only footage nothing.

Before a seek (`seek`, indexed containers), the decoder is drained as soon as every frame
the pending target can pick has gone in (`_Skip.drain_before_seek`), instead of feeding it
the packets after that frame only to get its delayed output and then throwing them away:
about two P-frames per seek on x264 footage with B-frames.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av

from va_gpt.video.container import EPS, PROBE_SECONDS, Video, mp4_cut, ts_cut
from va_gpt.video.errors import DecodeError, plain
from va_gpt.video.sampling import Sampler

_SEEK_TRIES = 4
_MAX_GLITCHES = 50  # decode errors skipped before a video counts as damaged from there on
_AHEAD = 8  # packets read ahead of the decoder, for their times (`_Skip`)
_HISTORY = 64  # times of the packets already read that `_Skip` keeps
# Packets looked at before draining the decoder: H.264/HEVC reorder at most 16 frames, so a
# frame shown before another is decoded at most 16 packets after it.
_REORDER = 16


@dataclass
class Run:
    strategy: str
    decoded: int = 0
    glitches: int = 0
    drains: int = 0  # times the decoder's delayed frames were drained before a seek
    damage: str | None = None
    error: DecodeError | None = None
    last_t: float = -math.inf


def _where(run: Run) -> str:
    return "before the first frame" if run.last_t == -math.inf else f"after {run.last_t:.2f}s"


def _frame_time(vid: Video, frame, last_t: float) -> float:
    if frame.pts is None:
        return last_t + vid.frame_dur if last_t > -math.inf else 0.0
    return float((frame.pts - vid.origin) * vid.tb)


class _Ahead:
    """A packet iterator read a few packets ahead; an error met ahead is raised at its place."""

    def __init__(self, packets: Iterator):
        self.packets = packets
        self.buf: deque = deque()
        self.err: BaseException | None = None
        self.end = False

    def fill(self, n: int) -> None:
        while len(self.buf) < n and self.err is None and not self.end:
            try:
                pkt = next(self.packets, None)
            except BaseException as e:  # re-raised by next_packet() where the caller reads it
                self.err = e
                return
            if pkt is None:
                self.end = True
            else:
                self.buf.append(pkt)

    def next_packet(self):
        self.fill(1)
        if self.buf:
            return self.buf.popleft()
        if self.err is not None:
            err, self.err = self.err, None
            raise err
        return None


class _Skip:
    """Which packets may be decoded with skip_frame = NONREF (module docstring); the targets
    are the Sampler's grid k / fps, the ones before `sampler.k` already served."""

    def __init__(self, vid: Video, sampler: Sampler):
        self.origin, self.tb, self.fps = vid.origin, float(vid.tb), sampler.fps
        self.sampler = sampler
        self.seen: deque = deque(maxlen=_HISTORY)  # times of packets read since the last seek
        self.on = False  # the decoder's skip_frame is NONREF now

    def reset(self) -> None:
        self.seen.clear()

    def time(self, pkt) -> float | None:
        if pkt.pts is None or pkt.is_corrupt:
            return None
        return (pkt.pts - self.origin) * self.tb

    def skippable(self, pkt, ahead: _Ahead) -> bool:
        """No sample target can pick this packet's frame: packets lie between it and both
        neighbouring targets (the earlier one only while it is still open)."""
        t = self.time(pkt)
        if t is None or pkt.is_keyframe:
            return False
        k_next = math.ceil((t - EPS) * self.fps)
        t_next = k_next / self.fps
        if t_next <= t + EPS:
            return False  # on a target
        ahead.fill(_AHEAD)
        known = [u for u in map(self.time, ahead.buf) if u is not None]
        known.extend(self.seen)
        if not any(t + EPS < u <= t_next + EPS for u in known):
            return False
        if k_next - 1 >= self.sampler.k:  # the previous target is still open
            t_prev = (k_next - 1) / self.fps
            return any(t_prev - EPS <= u < t - EPS for u in known)
        return True

    def before_decode(self, cc, pkt, ahead: _Ahead) -> None:
        skip = self.skippable(pkt, ahead)
        if skip != self.on:
            cc.skip_frame = "NONREF" if skip else "DEFAULT"
            self.on = skip
        t = self.time(pkt)
        if t is not None:
            self.seen.append(t)

    def drain_before_seek(self, vid: Video, ahead: _Ahead) -> bool:
        """Every frame the next target can pick has gone to the decoder (the first packet at or
        after it and, within the reorder bound read ahead, all before it), and the target after
        that has a keyframe of its own past everything sent: the decoder's delayed frames can be
        drained now, instead of decoding packets that the seek to that keyframe throws away."""
        s = self.sampler
        target = s.next_target
        if target is None:
            return False
        t_h = min((u for u in self.seen if u >= target - EPS), default=None)
        if t_h is None:
            return False
        ahead.fill(_REORDER)
        if len(ahead.buf) < _REORDER:  # near the end, or a read error ahead: decode on as usual
            return False
        for pkt in ahead.buf:
            u = self.time(pkt)
            if u is None or u <= t_h + EPS:
                return False
        t2 = (s.k + 1) / s.fps
        if t2 > s.end_s + EPS:
            return False
        key = vid.key_before(t2)
        return key is not None and key > max(self.seen) + 0.5 * vid.frame_dur

    def stop(self, cc) -> None:
        if self.on:
            cc.skip_frame = "DEFAULT"
            self.on = False


def _frames(vid: Video, sampler: Sampler, run: Run) -> Iterator[tuple[float, Any]]:
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
    packets = _Ahead(vid.packets())
    # Only on the k / fps grid (a Sampler); keyframes.py's own list of targets decodes all.
    skip = _Skip(vid, sampler) if run.strategy != "nonkey" and isinstance(sampler, Sampler) else None
    # A TS cut mid-packet: its last frame comes out flagged corrupt (dropped below); the
    # size check still marks the video partial when that frame was never decoded (nonkey).
    ts_short = ts_cut(vid.size) if vid.magic == "mpegts" else None
    landing: float | None = None  # after a seek: the target the first frame must not pass
    seeked_for: float | None = None
    preroll = 0.0  # seconds to seek before a target (grows when seeks land late, e.g. TS)
    tries = 0
    first_key = vid.keyframes[0] if vid.keyframes else 0.0
    broken: str | None = None  # set while skipping to the next keyframe after a glitch
    drain = drained = False  # drain the decoder now / its delayed frames were just drained
    resync = False  # after a drain: drop packets up to the next keyframe (unless a seek comes first)

    def seek_target() -> float | None:
        target = sampler.next_target
        if not seeking or target is None or target == seeked_for:
            return None
        if vid.keyframes_complete or vid.gop_regular:
            k = vid.key_before(target)
            if k is None or (run.last_t == -math.inf and k <= first_key + EPS):
                return None  # decoding from the start reaches it anyway
            return target if k > run.last_t + 0.5 * d else None
        # Irregular or unknown spacing, no index: seek only when the gap surely holds a
        # keyframe (longer than the longest GOP seen, or than the probe when it saw one).
        gop = vid.gop_max_s or PROBE_SECONDS
        pos = run.last_t if run.last_t > -math.inf else first_key
        return target if target - pos > gop + d else None

    def seek(target: float, back: float) -> bool:
        nonlocal packets, landing, seeked_for, seeking, resync, drained
        try:
            vid.seek(max(0.0, target - back))
        except av.error.FFmpegError:
            seeking = False  # not seekable: keep decoding forward
            return False
        packets = _Ahead(vid.packets())
        if skip is not None:
            skip.reset()
        resync = drained = False
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
        if drain:
            drain, drained, eof = False, True, False
            run.drains += 1
            decoded = _flush(cc)
            if isinstance(decoded, str):  # the delayed frames failed: a glitch
                broken = decoded
                run.glitches += 1
                cc.flush_buffers()
                drained = False
                continue
        else:
            try:
                pkt = packets.next_packet()
            except av.error.FFmpegError as e:
                broken = broken or f"the data could not be read {_where(run)} ({plain(e)})"
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
                if resync:
                    if not pkt.is_keyframe:
                        continue
                    resync = False
                if skip is not None:
                    if run.glitches:
                        skip.stop(cc)
                        skip = None
                    else:
                        skip.before_decode(cc, pkt, packets)
                try:
                    decoded = cc.decode(pkt)
                except av.error.FFmpegError as e:
                    broken = f"decoding failed {_where(run)} ({plain(e)})"
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
                if t > landing + EPS and overshoot():
                    restart = True
                    break
                landing = None
            if frame.is_corrupt:
                broken = f"frame at {t:.2f}s is corrupt"
                run.glitches += 1
                break
            if t <= run.last_t + EPS:
                continue  # already past it (a seek landed early) or out-of-order pts
            run.last_t = t
            yield t, frame
            if sampler.next_target is None:
                return
        if restart:
            continue
        if eof:
            break
        if drained:  # back out of draining: what comes next decodes anew from a keyframe
            drained = False
            cc.flush_buffers()
            resync = True
            skip.reset()
        elif (
            skip is not None
            and seeking
            and landing is None
            and vid.keyframes_complete
            and skip.drain_before_seek(vid, packets)
        ):
            drain = True
    if run.error is None:
        if broken is not None:
            run.damage = broken
        elif ts_short:
            run.damage = ts_short


def _flush(cc) -> list | str:
    try:
        return list(cc.decode(None))
    except av.error.EOFError:  # already drained by the demuxer's final empty packet
        return []
    except av.error.FFmpegError as e:
        return f"decoding failed at the end of the stream ({plain(e)})"


def sampled_frames(vid: Video, sampler: Sampler, run: Run) -> Iterator[tuple[float, Any]]:
    for t, frame in _frames(vid, sampler, run):
        yield from sampler.feed(t, frame)
    if run.error is None:
        yield from sampler.finish(vid.frame_dur)


def zero_frames_error(vid: Video, run: Run) -> DecodeError:
    cut = None
    if vid.magic == "mp4":
        cut = mp4_cut(vid.f, vid.size)
    elif vid.magic == "mpegts":
        cut = ts_cut(vid.size)
    if cut or (run.damage and "incomplete packet" in run.damage):
        return vid.error(
            "truncated", f"file is cut or damaged: {cut or run.damage}; not one frame could be decoded"
        )
    why = run.damage or "the stream ended without a single decodable frame"
    return vid.error("corrupt", f"{vid.info.codec} video could not be decoded: {why}")

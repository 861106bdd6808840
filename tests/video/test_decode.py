"""Decode stage: sample times, frame content, clips, strategies, storage, typed errors."""

from __future__ import annotations

import pickle
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests import videos
from tests.shared_paths import CAR_ACCIDENT
from va_gpt.video.decode import (
    KINDS,
    OUTPUT_COLUMNS,
    Clip,
    Decode,
    DecodeError,
    _Video,
    choose_strategy,
    decode_window,
    iter_clips,
    probe,
)

CAR = CAR_ACCIDENT
SIZE = 64  # large enough for the frame-index code to read back reliably


class Media:
    """Test videos, written on first use and shared by the whole session."""

    SPECS = {
        "cfr30": dict(seconds=3, fps=30),
        "cfr27": dict(seconds=3, fps=27),
        "ntsc": dict(seconds=3, fps=Fraction(30000, 1001)),
        "odd": dict(seconds=3, fps=Fraction(30067, 1000)),
        "vfr": dict(times=videos.vfr_times(90, seed=1)),
        "h264_audio": dict(seconds=2, audio=True),
        "hevc": dict(seconds=2, codec="libx265"),
        "hevc_audio": dict(seconds=2, codec="libx265", audio=True),
        "gop15": dict(seconds=4, gop=15, bframes=2),
        "gop30": dict(seconds=4, gop=30, bframes=2),
        "gop45": dict(seconds=4, gop=45, bframes=2),
        "gop30_ts": dict(seconds=4, gop=30, bframes=2, suffix=".ts"),
        "gop15_ts": dict(seconds=4, gop=15, suffix=".ts"),
        "frag": dict(seconds=4, gop=15, container_options={"movflags": "frag_keyframe+empty_moov"}),
        "one_frame": dict(times=[0.0]),
    }

    def __init__(self, root: Path):
        self.root = root
        self.cache: dict[str, Path] = {}

    def __call__(self, name: str) -> Path:
        if name not in self.cache:
            spec = dict(self.SPECS[name])
            suffix = spec.pop("suffix", ".mp4")
            self.cache[name] = videos.write_video(self.root / f"{name}{suffix}", **spec)
        return self.cache[name]

    def bad(self, name: str) -> Path:
        """Inputs that must fail (or decode partly), by name."""
        path = self.root / f"bad_{name}"
        if name in self.cache:
            return self.cache[name]
        if name == "empty":
            out = videos.write_empty(path.with_suffix(".mp4"))
        elif name == "text":
            out = videos.write_text(path.with_suffix(".mp4"))
        elif name == "audio_only":
            out = videos.write_audio_only(path.with_suffix(".m4a"))
        elif name == "bogus_codec":
            out = videos.write_bogus_codec(path.with_suffix(".mp4"), self("cfr30"))
        elif name == "garbled":
            out = videos.write_garbled(path.with_suffix(".mp4"), self("cfr30"))
        elif name == "cut_mp4":  # moov at the end, cut off: nothing decodes
            out = videos.truncate(self("gop15"), path.with_suffix(".mp4"), 0.6)
        elif name == "cut_frag":  # fragmented mp4: the first fragments survive
            out = videos.truncate(self("frag"), path.with_suffix(".mp4"), 0.55)
        elif name == "cut_ts":
            out = videos.truncate(self("gop15_ts"), path.with_suffix(".ts"), 0.55)
        elif name == "missing":
            out = path.with_suffix(".mp4")
        else:
            raise KeyError(name)
        self.cache[name] = out
        return out


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    return Media(tmp_path_factory.mktemp("decode_media"))


def decode_all(uri, fps=2.0, clip_len=4, size=SIZE, **kw) -> tuple[list[Clip], np.ndarray, np.ndarray]:
    """Clips, plus the distinct samples (overlap frames once): times and frames."""
    clips = list(iter_clips(str(uri), fps=fps, clip_len=clip_len, size=size, **kw))
    ts, fs = [], []
    for c in clips:
        skip = 1 if c.first_is_overlap else 0
        ts.append(c.t[skip:])
        fs.append(c.frames[skip:])
    return clips, np.concatenate(ts), np.concatenate(fs)


def indices(frames: np.ndarray) -> list[int]:
    return [videos.read_index(f) for f in frames]


def expected_nearest(frame_times: list[float], fps: float) -> list[int]:
    """Reference: for each target k/fps, the nearest frame (ties to the earlier), each frame once."""
    ft = np.asarray(frame_times)
    dur = ft[-1] + (ft[-1] - ft[-2] if len(ft) > 1 else 1.0)
    out: list[int] = []
    k = 0
    while True:
        target = k / fps
        if target > ft[-1] + 1e-9:
            # after the last frame: served by it only within half a frame interval
            half = (dur - ft[-1]) / 2
            if target - ft[-1] < half - 1e-9 and (not out or out[-1] != len(ft) - 1):
                out.append(len(ft) - 1)
            break
        i = int(np.argmin(np.abs(ft - target) + np.arange(len(ft)) * 1e-12))
        if not out or out[-1] != i:
            out.append(i)
        k += 1
    return out


# ---- timestamps and content ---------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "name,rate",
    [
        ("cfr30", Fraction(30)),
        ("cfr27", Fraction(27)),
        ("ntsc", Fraction(30000, 1001)),
        ("odd", Fraction(30067, 1000)),
    ],
)
def test_cfr_sample_times_and_content(media, name, rate):
    clips, t, frames = decode_all(media(name), fps=2.0)
    period, frame_dur = 0.5, float(1 / rate)
    n_frames = int(round(3 * rate))
    frame_times = [i * frame_dur for i in range(n_frames)]
    expect = expected_nearest(frame_times, 2.0)
    assert len(t) == len(expect) == 6
    for k, (tk, i) in enumerate(zip(t, expect)):
        assert abs(tk - k * period) <= frame_dur / 2 + 1e-6  # nearest frame: within half a frame
        assert tk == pytest.approx(frame_times[i], abs=1e-6)
    # the pixels are those of the frame at that time
    assert indices(frames) == expect
    info = clips[0].info
    assert info.fps == pytest.approx(float(rate), rel=1e-4)
    assert (info.width, info.height, info.codec) == (160, 120, "h264")


@pytest.mark.timeout(120)
def test_vfr_sample_times_and_content(media):
    times = videos.vfr_times(90, seed=1)
    _, t, frames = decode_all(media("vfr"), fps=4.0)
    expect = expected_nearest(times, 4.0)
    assert np.allclose(t, [times[i] for i in expect], atol=1e-6)
    for k, tk in enumerate(t[: int(times[-1] * 4)]):
        assert abs(tk - k / 4) <= 0.035 + 1e-6  # within half the largest frame gap (70 ms)
    assert indices(frames) == expect


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "name,codec,audio", [("h264_audio", "h264", True), ("hevc", "hevc", False), ("hevc_audio", "hevc", True)]
)
def test_codecs_with_and_without_audio(media, name, codec, audio):
    clips, t, frames = decode_all(media(name), fps=3.0)
    assert clips[0].info.codec == codec
    assert clips[0].info.has_audio is audio
    assert np.allclose(t, np.arange(6) / 3.0, atol=1 / 60 + 1e-6)
    assert indices(frames) == [round(x * 30) for x in t]
    assert frames.dtype == np.uint8 and frames.shape[1:] == (SIZE, SIZE, 3)


@pytest.mark.timeout(120)
def test_real_car_accident_clip():
    clips, t, frames = decode_all(CAR, fps=2.0, clip_len=4, size=32)
    assert len(t) == 8
    assert np.all(np.abs(t - np.arange(8) * 0.5) <= 1 / 60 + 1e-6)
    info = clips[0].info
    assert (info.codec, info.width, info.height, info.has_audio) == ("h264", 640, 480, True)
    assert info.fps == pytest.approx(30.0)
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert frames.shape == (8, 32, 32, 3) and frames.std() > 5  # real picture, not blank
    assert clips[-1].summary.partial is False


# ---- clips --------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("clip_len", [2, 3, 4, 5, 6, 7, 12])
def test_clip_overlap_and_lengths(media, clip_len):
    clips, t, _ = decode_all(media("cfr30"), fps=3.0, clip_len=clip_len)  # 9 samples
    assert len(t) == 9
    assert [c.index for c in clips] == list(range(len(clips)))
    for c in clips[:-1]:
        assert len(c.t) == clip_len and not c.is_last and c.summary is None
    last = clips[-1]
    assert last.is_last and last.summary is not None and 2 <= len(last.t) <= clip_len
    assert last.summary.samples == 9 and last.summary.clips == len(clips)
    assert clips[0].first_is_overlap is False
    for prev, cur in zip(clips, clips[1:]):
        assert cur.first_is_overlap is True
        assert cur.t[0] == prev.t[-1]
        np.testing.assert_array_equal(cur.frames[0], prev.frames[-1])
    for c in clips:
        assert c.frames.shape == (len(c.t), SIZE, SIZE, 3) and c.frames.dtype == np.uint8
        assert c.t.dtype == np.float64 and np.all(np.diff(c.t) > 0)
        assert c.partial is False


@pytest.mark.timeout(60)
def test_single_sample_video_gives_one_frame_clip(media):
    clips = list(iter_clips(str(media("one_frame")), fps=2.0, clip_len=4, size=SIZE))
    assert len(clips) == 1 and clips[0].frames.shape == (1, SIZE, SIZE, 3) and clips[0].is_last


@pytest.mark.timeout(60)
def test_two_sample_video_and_exact_multiple(media):
    # 3 s at 1 fps: 3 samples; clip_len 3 -> exactly one clip, no 1-frame tail
    clips = list(iter_clips(str(media("cfr30")), fps=1.0, clip_len=3, size=SIZE))
    assert [len(c.t) for c in clips] == [3]
    # clip_len 2 -> [s0 s1] [s1 s2]
    clips = list(iter_clips(str(media("cfr30")), fps=1.0, clip_len=2, size=SIZE))
    assert [list(c.t) for c in clips] == [[0.0, 1.0], [1.0, 2.0]]


# ---- strategies ---------------------------------------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", ["gop15", "gop30", "gop45", "gop30_ts", "gop15_ts", "frag", "vfr"])
def test_strategies_give_the_same_samples(media, name):
    uri = media(name)
    _, t_full, f_full = decode_all(uri, fps=2.0, strategy="full")
    ref_idx = indices(f_full)
    for strategy in ("seek", "auto"):
        clips, t, f = decode_all(uri, fps=2.0, strategy=strategy)
        assert len(t) == len(t_full), strategy
        assert np.max(np.abs(t - t_full)) < 1 / 30, strategy  # within one native frame (here: equal)
        assert indices(f) == ref_idx, strategy
    with _Video(str(uri), None, 1) as vid:
        chosen = choose_strategy(vid, 2.0)
    _, t_nk, f_nk = decode_all(uri, fps=2.0, strategy="nonkey")
    nonkey_exact = len(t_nk) == len(t_full) and np.max(np.abs(t_nk - t_full)) < 1 / 60
    if name in ("gop15", "gop15_ts", "frag"):  # keyframe every 0.5 s = the sampling period
        assert nonkey_exact and indices(f_nk) == ref_idx
        assert chosen == "nonkey"
    else:
        assert not nonkey_exact  # keyframes are too sparse for 2 fps
        assert chosen != "nonkey"


@pytest.mark.timeout(120)
def test_seek_skips_work_when_samples_are_sparse(media):
    uri = media("gop15")
    full = list(iter_clips(str(uri), fps=0.5, clip_len=4, size=SIZE, strategy="full"))[-1].summary
    seek = list(iter_clips(str(uri), fps=0.5, clip_len=4, size=SIZE, strategy="seek"))[-1].summary
    assert seek.seeks > 0 and seek.decoded_frames < full.decoded_frames / 3
    assert seek.samples == full.samples == 2


@pytest.mark.timeout(60)
def test_probe_reports_gop(media):
    info = probe(str(media("gop30")))
    assert info.gop_s == pytest.approx(1.0, abs=1e-3)
    assert info.keyframes_indexed is True and info.codec == "h264"
    ts = probe(str(media("gop30_ts")))
    assert ts.gop_s == pytest.approx(1.0, abs=1e-3) and ts.keyframes_indexed is False
    assert ts.container == "mpegts"


@pytest.mark.timeout(60)
def test_bad_arguments_are_value_errors(media):
    with pytest.raises(ValueError, match="strategy"):
        list(iter_clips(str(media("cfr30")), fps=2, clip_len=4, size=SIZE, strategy="fast"))
    with pytest.raises(ValueError, match="clip_len"):
        list(iter_clips(str(media("cfr30")), fps=2, clip_len=1, size=SIZE))


# ---- decode_window ------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["gop30", "gop30_ts", "gop45"])
def test_decode_window_matches_full_decode(media, name):
    uri = str(media(name))
    _, t_all, f_all = decode_all(uri, fps=4.0, strategy="full")
    frames, t = decode_window(uri, 1.6, 2.9, fps=4.0, size=SIZE)
    keep = slice(7, 12)  # targets k/4 for k = 7..11 (1.75 .. 2.75 s); sample k serves target k here
    np.testing.assert_allclose(t, t_all[keep], atol=1e-9)
    assert indices(frames) == indices(f_all[keep])
    assert frames.shape == (5, SIZE, SIZE, 3) and t.dtype == np.float64


@pytest.mark.timeout(60)
def test_decode_window_past_the_end_is_empty(media):
    frames, t = decode_window(str(media("gop30")), 10.0, 12.0, fps=2.0, size=SIZE)
    assert frames.shape == (0, SIZE, SIZE, 3) and t.shape == (0,)


# ---- object storage ------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_decode_from_s3(s3_store, media):
    fs = s3_store.filesystem()
    url = s3_store.url("test_decode/cam01/gop30.mp4")
    fs.put(str(media("gop30")), url)
    opts = s3_store.storage_options()
    clips, t, frames = decode_all(url, fps=2.0, storage_options=opts)
    _, t_local, f_local = decode_all(media("gop30"), fps=2.0)
    np.testing.assert_array_equal(t, t_local)
    np.testing.assert_array_equal(frames, f_local)
    assert clips[0].uri == url and clips[0].info.size_bytes == Path(media("gop30")).stat().st_size
    frames, t = decode_window(url, 1.0, 2.0, fps=2.0, size=SIZE, storage_options=opts)
    np.testing.assert_allclose(t, [1.0, 1.5, 2.0])
    assert probe(url, opts).gop_s == pytest.approx(1.0, abs=1e-3)


@pytest.mark.timeout(120)
def test_s3_missing_object_and_bad_credentials(s3_store, media):
    opts = s3_store.storage_options()
    url = s3_store.url("test_decode/nothing/here.mp4")
    with pytest.raises(DecodeError) as e:
        list(iter_clips(url, fps=2, clip_len=4, size=SIZE, storage_options=opts))
    assert e.value.kind == "missing" and url in e.value.message
    put = s3_store.url("test_decode/creds/a.mp4")
    s3_store.filesystem().put(str(media("cfr30")), put)
    bad = dict(opts, secret="wrong-secret")
    with pytest.raises(DecodeError) as e:
        list(iter_clips(put, fps=2, clip_len=4, size=SIZE, storage_options=bad))
    assert e.value.kind == "storage" and put in e.value.message


# ---- typed errors --------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "name,kind",
    [
        ("missing", "missing"),
        ("empty", "empty"),
        ("text", "not_video"),
        ("audio_only", "no_video_stream"),
        ("bogus_codec", "unsupported_codec"),
        ("cut_mp4", "truncated"),
        ("garbled", "corrupt"),
    ],
)
def test_bad_inputs_raise_typed_errors(media, name, kind):
    uri = str(media.bad(name))
    for call in (
        lambda: list(iter_clips(uri, fps=2, clip_len=4, size=SIZE)),
        lambda: decode_window(uri, 0.0, 1.0, fps=2, size=SIZE),
    ):
        with pytest.raises(DecodeError) as e:
            call()
        err = e.value
        assert err.kind == kind, err.message
        assert err.uri == uri and uri in err.message and uri in str(err)
        assert "Traceback" not in err.message
        assert err.__cause__ is None  # the library exception is not chained in
    if kind not in ("missing", "empty", "not_video"):
        assert kind in KINDS


@pytest.mark.timeout(60)
def test_decode_error_pickles_and_rejects_unknown_kinds():
    err = pickle.loads(pickle.dumps(DecodeError("s3://b/x.mp4", "truncated", "s3://b/x.mp4: cut")))
    assert (err.uri, err.kind, err.message) == ("s3://b/x.mp4", "truncated", "s3://b/x.mp4: cut")
    with pytest.raises(ValueError):
        DecodeError("u", "weird", "m")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,src", [("cut_frag", "frag"), ("cut_ts", "gop15_ts")])
@pytest.mark.parametrize("strategy", ["full", "seek", "nonkey"])
def test_truncated_file_yields_partial_frames(media, name, src, strategy):
    uri = media.bad(name)
    clips, t, frames = decode_all(uri, fps=2.0, strategy=strategy)
    _, t_full, f_full = decode_all(media(src), fps=2.0, strategy="full")
    assert 2 <= len(t) < len(t_full)
    np.testing.assert_allclose(t, t_full[: len(t)])  # the samples before the damage are the right ones
    assert indices(frames) == indices(f_full[: len(t)])
    assert clips[-1].partial is True and clips[-1].summary.partial is True
    assert clips[-1].summary.damage
    assert all(c.partial is False for c in clips[:-1])


# ---- the Ray Data callable ------------------------------------------------------------


@pytest.mark.timeout(120)
def test_decode_callable_yields_rows_and_error_rows(media):
    stage = Decode(fps=2.0, clip_len=4, size=SIZE, strategy="auto")
    uris = [
        str(media("cfr30")),
        str(media.bad("missing")),
        str(media.bad("text")),
        str(media.bad("cut_frag")),
    ]
    batch = {
        "uri": np.array(uris, dtype=object),
        "video_id": np.array(["ok", "gone", "txt", "cut"], dtype=object),
        "camera_id": np.array(["c1", "c2", "c3", "c4"], dtype=object),
    }
    out = list(stage(batch))  # no exception for bad input
    rows: dict[str, list[dict]] = {}
    for b in out:
        assert set(OUTPUT_COLUMNS) <= set(b) and "camera_id" in b
        assert all(len(v) == 1 for v in b.values())
        rows.setdefault(b["video_id"][0], []).append(b)
    ok = rows["ok"]
    assert [r["clip_index"][0] for r in ok] == [0, 1]
    assert ok[0]["frames"].shape == (1, 4, SIZE, SIZE, 3) and ok[0]["frames"].dtype == np.uint8
    assert ok[0]["t"].shape == (1, 4) and ok[0]["error_kind"][0] is None
    assert ok[-1]["is_last"][0] and not ok[0]["is_last"][0] and ok[1]["first_is_overlap"][0]
    assert ok[0]["camera_id"][0] == "c1" and ok[0]["codec"][0] == "h264"
    for vid, kind in (("gone", "missing"), ("txt", "not_video")):
        (row,) = rows[vid]
        assert row["error_kind"][0] == kind and row["uri"][0] in row["error_message"][0]
        assert row["frames"].shape == (1, 0, SIZE, SIZE, 3) and row["t"].shape == (1, 0)
        assert row["is_last"][0]
    cut = rows["cut"]
    assert (
        cut[-1]["partial"][0]
        and cut[-1]["error_kind"][0] is None
        and "partial" in cut[-1]["error_message"][0]
    )


@pytest.mark.timeout(60)
def test_decode_from_config(media):
    from va_gpt.config import DecodeConfig

    stage = Decode.from_config(DecodeConfig(fps=2.0, clip_len=3, strategy="full"), size=32)
    rows = list(stage({"uri": np.array([str(media("cfr30"))]), "video_id": np.array(["v"])}))
    assert [r["frames"].shape[1] for r in rows] == [3, 3, 2] and rows[0]["frames"].shape[2:] == (32, 32, 3)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_decode_in_ray_data(media):
    """The same callable as a Ray Data actor stage: mixed clip lengths and error rows travel."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        items = [
            {"uri": str(media("cfr30")), "video_id": "ok"},
            {"uri": str(media.bad("text")), "video_id": "txt"},
        ]
        ds = ray.data.from_items(items).map_batches(
            Decode,
            fn_constructor_kwargs=dict(fps=3.0, clip_len=4, size=32),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=1),
            num_cpus=1,
        )
        rows = sorted(ds.take_all(), key=lambda r: (r["video_id"], r["clip_index"]))
    finally:
        if started:
            ray.shutdown()
    ok = [r for r in rows if r["video_id"] == "ok"]
    assert [np.asarray(r["frames"]).shape[0] for r in ok] == [4, 4, 3]  # 9 samples, overlap 1
    assert all(r["error_kind"] is None for r in ok)
    (bad,) = [r for r in rows if r["video_id"] == "txt"]
    assert bad["error_kind"] == "not_video" and np.asarray(bad["frames"]).shape == (0, 32, 32, 3)

"""GPU throughput for a lent accelerator: camera-hours per GPU-hour, and the decode rate with NVDEC.

1. Encoder: DINOv2-S/14 and -B/14 at 224 x 224 (HF Dinov2Config built here, random weights:
   speed does not depend on them), inference_mode, bf16 autocast on CUDA (float32 on CPU),
   channels_last input, over a sweep of batch sizes. A camera sampled at FPS frames/s
   for one hour is 3600 * FPS frames, so camera-hours per GPU-hour = frames/s / FPS
   (encoder only; the demo's clips re-encode their context frames: ~1.3x the frames).
2. Decode: a 640x480 30 fps H.264 video with a 1 s GOP, every frame decoded with PyAV in
   software (FFmpeg threads) and with NVDEC (`hwaccel` cuda) where this PyAV/FFmpeg and the
   machine have it, else the line says why not; in video-seconds per wall-second.
3. The visual stage itself (pipeline.visual.Visual: encoder, SETS, classifier) on the device, as
   the nightly runs it: clips of the preset's clip_len carrying their context frames, prepared as
   the decode tasks prepare them, runtime.batch_size clips a call. The demo preset with its
   committed encoder and classifier, and the 7B preset's SETS side at real size (DINOv2-B/14
   random, its classifier random). New frames/s and camera-hours per GPU-hour, and the frames
   one CPU core prepares per second (va_gpt.ops.prepare: the decode tasks' share of the work).
4. The describe stage (pipeline.describe.Describe: re-decode of the interval, structured
   judgement, 6-beam description) at the 7B preset's real size with random weights (CLIP
   ViT-L/14 tower, Vicuna-7B-shaped Llama, bf16), on intervals of a real H.264 file: seconds
   per summary. Random text is as long as max_new_tokens allows, so this is the slow end.

    python -m jobs.bench_gpu                    # on the GPU machine: under 5 minutes
    python -m jobs.bench_gpu --device cpu --quick   # smoke test: a few seconds, figures meaningless
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import av
import numpy as np
import torch
from transformers import Dinov2Config, Dinov2Model

from jobs.bench_decode import _write
from va_gpt.config import load_preset, preset_from_dict, to_dict

FPS = 2.0  # sampled frames per second of footage (the presets' decode.fps)
MODELS = {  # name: (hidden, layers, heads)
    "dinov2-s14": (384, 12, 6),
    "dinov2-b14": (768, 12, 12),
}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def encoder_rates(device: str, batches: list[int], seconds: float, quick: bool) -> list[dict]:
    rows = []
    for name, (hidden, layers, heads) in MODELS.items():
        cfg = Dinov2Config(
            image_size=224,
            patch_size=14,
            hidden_size=hidden,
            num_hidden_layers=2 if quick else layers,
            num_attention_heads=heads,
            mlp_ratio=4,
        )
        model = Dinov2Model(cfg).eval().to(device)
        cuda = device.startswith("cuda")
        for bs in batches:
            x = torch.randn(bs, 3, 224, 224, device=device).contiguous(memory_format=torch.channels_last)
            with (
                torch.inference_mode(),
                torch.autocast("cuda" if cuda else "cpu", torch.bfloat16, enabled=cuda),
            ):
                try:
                    for _ in range(1 if quick else 3):  # warm-up (cuDNN / kernel selection)
                        model(pixel_values=x)
                    _sync(device)
                    n, t0 = 0, time.perf_counter()
                    while True:
                        model(pixel_values=x)
                        n += 1
                        _sync(device)
                        if quick or time.perf_counter() - t0 >= seconds:
                            break
                    dt = time.perf_counter() - t0
                except torch.OutOfMemoryError:
                    rows.append({"model": name, "batch": bs, "error": "out of memory"})
                    torch.cuda.empty_cache()
                    break
            fps = n * bs / dt
            rows.append(
                {
                    "model": name,
                    "batch": bs,
                    "dtype": "bf16-autocast" if cuda else "float32",
                    "frames_per_s": round(fps, 1),
                    "camera_h_per_gpu_h": round(fps / FPS, 1),
                }
            )
        del model
        if cuda:
            torch.cuda.empty_cache()
    return rows


def _decode_all(path: Path, hwaccel=None) -> float:
    """Video-seconds per wall-second, decoding every frame."""
    t0 = time.perf_counter()
    with av.open(str(path), hwaccel=hwaccel) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        n = sum(1 for _ in c.decode(s))
        dur = n / float(s.average_rate)
    return dur / (time.perf_counter() - t0)


def decode_rates(work: Path, seconds: float) -> dict:
    path = _write(work / f"gpu_640x480_30fps_gop30_{int(seconds)}s.mp4", 30, seconds)
    out = {"video": "640x480 30 fps H.264, GOP 30 (1 s)", "software_x": round(_decode_all(path), 1)}
    try:
        from av.codec.hwaccel import HWAccel, hwdevices_available  # noqa: PLC0415 (PyAV >= 14 only)
    except ImportError as e:
        out["nvdec"] = f"not available: this PyAV has no hwaccel ({e})"
        return out
    if "cuda" not in hwdevices_available():
        out["nvdec"] = f"not available: FFmpeg hw devices here are {list(hwdevices_available())}"
        return out
    try:
        out["nvdec_x"] = round(
            _decode_all(path, HWAccel(device_type="cuda", allow_software_fallback=False)), 1
        )
    except Exception as e:  # noqa: BLE001 (any failure means: no NVDEC on this machine)
        out["nvdec"] = f"not available: {type(e).__name__}: {e}"
    return out


def _preset(name: str, device: str, quick: bool, **parts) -> object:
    """Preset `name` on `device`: parts replace preset sections' keys ({"llm": {"source": None}})."""
    d = to_dict(load_preset(name))
    for part, keys in parts.items():
        d[part].update(keys)
    cuda = device.startswith("cuda")
    # int8 dynamic quantization is a CPU kernel; on a GPU the encoder runs in bf16
    d["runtime"].update(device=device, dtype="bfloat16" if cuda else "float32", encoder_int8=False)
    if quick:  # smoke test: 2 layers everywhere, a random encoder at the demo's width
        d["encoder"]["num_layers"] = 2
        if d["encoder"]["source"] is None:
            d["encoder"].update(hidden_size=192, num_heads=3)
        d["llm"].update(num_layers=2, hidden_size=256, num_heads=4, intermediate_size=512, vocab_size=4096)
    return preset_from_dict(d, f"bench preset {name}")


def _where_from() -> list[str]:
    """The project's own frames of the exception being handled: where a GPU run broke."""
    frames = traceback.extract_tb(sys.exc_info()[2])
    return [
        f"{f.filename.split('va_gpt/')[-1]}:{f.lineno} {f.line}" for f in frames if "va_gpt" in f.filename
    ]


def _objects(items: list) -> np.ndarray:
    """A 1-D object column of arrays of any shapes (Ray Data's numpy batch of ragged rows)."""
    col = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        col[i] = x
    return col


def _clip_rows(preset, n_new: int, rng) -> list[dict]:
    """Clips as the decode stage makes them: clip_len frames, each after the first carrying the
    classifier's context frames before its own new ones, all with the video's reference (and
    background: sets.background_samples)."""
    from va_gpt.ops.prepare import Preparation  # noqa: PLC0415
    from va_gpt.pipeline.visual import context_frames  # noqa: PLC0415 (heavy: only where used)
    from va_gpt.video.clips import background_frame  # noqa: PLC0415

    S, L, K = preset.decode_size, preset.decode.clip_len, preset.sets.background_samples
    C = context_frames(preset.classifier)
    video = rng.integers(0, 256, (n_new, S, S, 3), dtype=np.uint8)
    prepare = Preparation.of(preset.sets)
    background = background_frame(prepare(video[:K], video[0])[0])[None] if K > 1 else video[:0]
    rows, start = [], 0
    while start < n_new:
        ctx = min(C, start)
        new = min(L - ctx, n_new - start)
        idx = np.arange(start - ctx, start + new)
        rows.append(dict(video_id="bench", clip_index=len(rows), frames=video[idx], t=idx / FPS,
                         context=ctx, reference=video[0], background=background,
                         is_last=start + new >= n_new))  # fmt: skip
        start += new
    return rows


def visual_rates(device: str, seconds_of_footage: float, quick: bool) -> list[dict]:
    """The visual stage's new frames/s on `device` (section 3 of the module doc)."""
    from va_gpt.ops.prepare import Preparation  # noqa: PLC0415
    from va_gpt.pipeline.visual import Visual  # noqa: PLC0415

    out = []
    setups = {
        "demo": (_preset("demo", device, quick), None if quick else "models/demo/vagpt/classifier"),
        "va-gpt-7b (SETS side)": (_preset("va-gpt-7b", device, quick, encoder={"source": None}), None),
        # the preset's clips before: each re-encoded the classifier's 10 context frames, 2.7 frames a new one
        "va-gpt-7b (SETS side), clip_len 16": (
            _preset("va-gpt-7b", device, quick, encoder={"source": None}, decode={"clip_len": 16}),
            None,
        ),
    }
    for name, (preset, classifier) in setups.items():
        try:
            stage = Visual(preset, classifier)
            rows = _clip_rows(preset, max(8, int(seconds_of_footage * FPS)), np.random.default_rng(0))
            # The decode tasks prepare the frames (one CPU core each): timed apart, as their cost
            prepare = Preparation.of(preset.sets)
            t1 = time.perf_counter()
            for r in rows:  # the background comes prepared (va_gpt.video.clips)
                r["frames"], r["reference"] = prepare(r["frames"], r["reference"])
                r["prepared"] = prepare.label
            prep = time.perf_counter() - t1
            bs = preset.runtime.batch_size
            batches = [
                {k: _objects([r[k] for r in rows[i : i + bs]]) if k in ("frames", "t", "reference", "background")
                 else np.array([r[k] for r in rows[i : i + bs]]) for k in rows[0]}
                for i in range(0, len(rows), bs)
            ]  # fmt: skip
            stage(batches[0])  # warm-up: kernels, cuDNN choices
            _sync(device)
            t0 = time.perf_counter()
            n_new = 0
            for b in batches:
                res = stage(b)
                n_new += sum(len(s) for s in res["score"])
            _sync(device)
            dt = time.perf_counter() - t0
            fps = n_new / dt
            out.append({"stage": name, "frames": n_new, "clip_len": preset.decode.clip_len, "batch": bs,
                        "frames_per_s": round(fps, 1), "camera_h_per_gpu_h": round(fps / FPS, 1),
                        "prepare_frames_per_core_s": round(sum(len(r["frames"]) for r in rows) / prep, 1)})  # fmt: skip
        except Exception as e:  # noqa: BLE001 (a bench reports what broke and goes on)
            out.append({"stage": name, "error": f"{type(e).__name__}: {e}", "where": _where_from()})
        finally:
            stage = None
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    return out


def describe_rates(
    device: str, work: Path, intervals: int, quick: bool, checkpoint: str | None = None
) -> dict:
    """Seconds per interval summary of the describe stage (section 4 of the module doc); with
    `checkpoint`, of that demo-preset VA-GPT instead (the committed weights on the device)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel  # noqa: PLC0415

    from va_gpt.pipeline.describe import Describe  # noqa: PLC0415

    try:
        if checkpoint is not None:
            preset = _preset("demo", device, False)
            t0 = time.perf_counter()
            stage = Describe(preset, checkpoint_url=checkpoint)
            return _describe_run(stage, preset, f"demo, {checkpoint}", time.perf_counter() - t0, device, work,
                                 intervals, quick)  # fmt: skip
        tower = work / "clip-vit-l14"  # a random CLIP ViT-L/14 saved as a folder, as real weights come
        big = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
        small = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
        CLIPVisionModel(
            CLIPVisionConfig(image_size=224, patch_size=14, **(small if quick else big))
        ).save_pretrained(tower)
        preset = _preset("va-gpt-7b", device, quick, encoder={"source": None}, llm={"source": None},
                         vision_tower={"source": str(tower)})  # fmt: skip
        t0 = time.perf_counter()
        with torch.device(device):  # a random 7B Llama built on the GPU, not in host memory
            stage = Describe(preset)
        return _describe_run(stage, preset, "va-gpt-7b, random weights", time.perf_counter() - t0, device, work,
                             intervals, quick)  # fmt: skip
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}", "where": _where_from()}


def _describe_run(
    stage, preset, name: str, build_s: float, device: str, work: Path, intervals: int, quick: bool
):
    """Time `stage` over `intervals` rows on a real H.264 file (describe_rates)."""
    try:
        dur = 4.0 if quick else 30.0  # the test video's frame-index code holds 1024 frames (30 fps)
        video = _write(work / f"describe_640x480_{dur:g}s.mp4", 30, dur)
        t = np.arange(0, dur, 1 / FPS)
        score = (np.sin(t / 3.0) + 1) / 2
        starts = np.linspace(0.0, dur - 3.0, intervals)
        kinds = ["fighting", "falling", "vehicle_collision", "running_in_panic", "abandoned_object"]
        batch = {
            "video_id": np.array(["bench"] * intervals),
            "interval_id": np.arange(intervals),
            "uri": np.array([str(video)] * intervals),
            "start_s": starts,
            "end_s": starts + (2.0 if quick else 8.0),
            "t": _objects([t] * intervals),
            "score": _objects([score] * intervals),
            "label": np.array([kinds[i % len(kinds)] for i in range(intervals)], dtype=object),
        }
        warm = {k: v[: preset.runtime.batch_size] for k, v in batch.items()}
        stage(warm)
        _sync(device)
        t0 = time.perf_counter()
        res = stage(batch)
        _sync(device)
        dt = time.perf_counter() - t0
        errors = [json.loads(f).get("error") for f in res["fields"] if "error" in json.loads(f)]
        return {"preset": name, "build_s": round(build_s, 1), "intervals": intervals,
                "batch": preset.runtime.batch_size, "s_per_summary": round(dt / intervals, 3),
                "summaries_per_gpu_h": round(3600 * intervals / dt), "errors": errors[:3],
                "first_text": str(res["text"][0])[:200],
                "words_per_summary": round(np.mean([len(str(x).split()) for x in res["text"]]), 1),
                "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1) if device.startswith("cuda") else None}  # fmt: skip
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}", "where": _where_from()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--quick", action="store_true", help="smoke test: 2 layers, batch 1, one pass, short footage"
    )
    p.add_argument("--batches", default="16,64,128,256")
    p.add_argument("--seconds", type=float, default=8.0, help="timed seconds per (model, batch)")
    p.add_argument("--work", default=None, help="folder for the test video (default: a temp folder)")
    p.add_argument("--footage-s", type=float, default=600.0, help="seconds of footage per visual-stage run")
    p.add_argument("--intervals", type=int, default=24, help="intervals the describe stage summarises")
    p.add_argument("--out", default=None, help="also write the report (JSON) here")
    p.add_argument("--only", default="encoder,decode,visual,describe,describe-demo", help="sections to run")
    args = p.parse_args(argv)
    batches = [1] if args.quick else [int(b) for b in args.batches.split(",")]
    report = {"device": args.device, "quick": args.quick}
    if args.device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(args.device)
    only = set(args.only.split(","))
    report["encoder"] = (
        encoder_rates(args.device, batches, args.seconds, args.quick) if "encoder" in only else []
    )
    for r in report["encoder"]:
        print(
            f"  {r['model']:<11} batch {r['batch']:>4}  "
            + (
                r.get("error")
                or f"{r['frames_per_s']:>9} frames/s  {r['camera_h_per_gpu_h']:>9} camera-h per GPU-h at {FPS:g} fps"
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        if "decode" in only:
            report["decode"] = decode_rates(work, 2.0 if args.quick else 30.0)
            print("  decode", json.dumps(report["decode"]), flush=True)
        if "visual" in only:
            report["visual"] = visual_rates(args.device, 12.0 if args.quick else args.footage_s, args.quick)
            for r in report["visual"]:
                print("  visual", json.dumps(r), flush=True)
        if "describe" in only:
            report["describe"] = describe_rates(
                args.device, work, 2 if args.quick else args.intervals, args.quick
            )
            print("  describe", json.dumps(report["describe"]), flush=True)
        if "describe-demo" in only:
            report["describe_demo"] = describe_rates(
                args.device, work, 2 if args.quick else args.intervals, args.quick, "models/demo/vagpt"
            )
            print("  describe-demo", json.dumps(report["describe_demo"]), flush=True)
    if args.quick:
        print("  (quick: 2 layers, batch 1, one pass: a smoke test, the figures mean nothing)")
    print(json.dumps(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

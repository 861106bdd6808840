"""GPU throughput for a lent accelerator: camera-hours per GPU-hour, and the decode rate with NVDEC.

1. Encoder: DINOv2-S/14 and -B/14 at 224 x 224 (HF Dinov2Config built here, random weights:
   speed does not depend on them), inference_mode, bf16 autocast on CUDA (float32 on CPU),
   channels_last input, over a sweep of batch sizes. A camera sampled at FPS frames/s
   for one hour is 3600 * FPS frames, so camera-hours per GPU-hour = frames/s / FPS
   (encoder only; the demo's clips re-encode their context frames: ~1.3x the frames).
2. Decode: a 640x480 30 fps H.264 video with a 1 s GOP, every frame decoded with PyAV in
   software (FFmpeg threads) and with NVDEC (`hwaccel` cuda) where this PyAV/FFmpeg and the
   machine have it, else the line says why not; in video-seconds per wall-second.

    python -m jobs.bench_gpu                    # on the GPU machine: under 5 minutes
    python -m jobs.bench_gpu --device cpu --quick   # smoke test: a few seconds, figures meaningless
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import av
import torch
from transformers import Dinov2Config, Dinov2Model

from jobs.bench_decode import _write

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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--quick", action="store_true", help="smoke test: 2 layers, batch 1, one pass, 2 s video")
    p.add_argument("--batches", default="16,64,128,256")
    p.add_argument("--seconds", type=float, default=8.0, help="timed seconds per (model, batch)")
    p.add_argument("--work", default=None, help="folder for the test video (default: a temp folder)")
    args = p.parse_args(argv)
    batches = [1] if args.quick else [int(b) for b in args.batches.split(",")]
    report = {"device": args.device, "quick": args.quick}
    if args.device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(args.device)
    report["encoder"] = encoder_rates(args.device, batches, args.seconds, args.quick)
    for r in report["encoder"]:
        print(
            f"  {r['model']:<11} batch {r['batch']:>4}  "
            + (
                r.get("error")
                or f"{r['frames_per_s']:>9} frames/s  {r['camera_h_per_gpu_h']:>9} camera-h per GPU-h at {FPS:g} fps"
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        report["decode"] = decode_rates(Path(args.work or tmp), 2.0 if args.quick else 30.0)
    print("  decode", json.dumps(report["decode"]))
    if args.quick:
        print("  (quick: 2 layers, batch 1, one pass: a smoke test, the figures mean nothing)")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

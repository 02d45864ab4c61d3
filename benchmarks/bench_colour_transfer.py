"""Seconds per frame of the seam colour transfer (what `gpu_time.SEAM_SECONDS_PER_MPIXEL_FRAME` budgets).

    python benchmarks/bench_colour_transfer.py [--device cuda] [--height 480] [--width 832] [--frames 8]

Matches `--frames` new frames to one source frame, as an extension's seam does, on the given device (default: a
GPU where there is one). Frames are toy-world scenes with noise, so every quantile map has many levels.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sora_core import toyworld  # noqa: E402
from sora_core.engine.colour_transfer import match_seams as match_colour  # noqa: E402


def frames(count: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    scene = toyworld.Scene((toyworld.Thing("ball", "red", "moving right"),), "gray")
    clean = toyworld.render(scene, height, width, count, rng, inside=True)[0].astype(np.float32)
    return np.clip(clean + rng.normal(0, 6, clean.shape), 0, 255).astype(np.uint8)  # (T, H, W, 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    source = frames(1, args.height, args.width, rng)[0]
    new = frames(args.frames, args.height, args.width, rng)
    positions = np.arange(1, args.frames + 1)
    match_colour(new[:1], {0: source}, positions[:1], device=args.device)  # warm-up (CUDA start, allocations)
    times = []
    for _ in range(args.runs):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        match_colour(new, {0: source}, positions, device=args.device)
        times.append((time.perf_counter() - started) / args.frames)
    per_frame = float(np.median(times))
    mpixels = args.height * args.width / 1e6
    print(
        f"colour transfer on {args.device} ({torch.get_num_threads()} threads): {per_frame:.3f} s per "
        f"{args.width}x{args.height} frame, {per_frame / mpixels:.3f} s per megapixel-frame (median of {args.runs})"
    )


if __name__ == "__main__":
    main()

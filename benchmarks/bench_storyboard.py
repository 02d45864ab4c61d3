"""Seconds and peak memory of a storyboard: one card of 15 s against one card of 60 s, same model and settings.

    python benchmarks/bench_storyboard.py [--model sora-tiny] [--steps 4] [--threads 2]

Only one sampling window is in memory at a time and the story is kept as uint8 frames, so a minute should cost
four times the seconds of 15 s but not four times the memory (target: peak within 1.5x).
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_generate import PeakRSS  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402

from sora_core import SoraPipeline  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="sora-tiny")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    diffusers_logging.disable_progress_bar()
    pipe = SoraPipeline.from_pretrained(args.model, device="cpu")
    fps = pipe.preset.fps
    pipe.storyboard([("a red ball moving right on a black background", 9)], steps=1)  # warm-up
    print(f"model {args.model}, {pipe.preset.width}x{pipe.preset.height} at {fps:g} fps, {args.steps} steps")
    peaks = {}
    for seconds in (15, 60):
        cards = [("a red ball moving right on a black background", int(seconds * fps))]
        with PeakRSS() as peak:
            started = time.perf_counter()
            video = pipe.storyboard(cards, steps=args.steps)
            elapsed = time.perf_counter() - started
        peaks[seconds] = peak.mb
        print(f"{seconds:2d} s story: {video.num_frames} frames in {elapsed:6.1f} s, peak +{peak.mb:7.1f} MB")
    print(f"peak memory 60 s / 15 s: {peaks[60] / max(peaks[15], 1e-6):.2f}")


if __name__ == "__main__":
    main()

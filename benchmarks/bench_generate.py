"""Seconds per video and peak memory: SoraPipeline.generate, at full quality and in fast mode, against diffusers'
WanPipeline doing the same nominal work (checkpoint, size, frames, steps, guidance, prompt length).

    python benchmarks/bench_generate.py [--model sora-tiny] [--frames 17] [--size 96] [--steps 20] [--runs 5]

Runs alternate between the pipelines (interleaved) after one warm-up call each, so that machine noise hits all
alike; ratios are of the medians (ours / WanPipeline, below 1 is faster). Fast mode's frames are compared with full
quality's of the same seed (PSNR). A checkpoint that makes its videos image first (`animate_first_frame`, the bundled
one) does more work than WanPipeline's one pass: the comparison turns that off, unless `--image-first`.
"""

import argparse
import statistics
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffusers import WanPipeline  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402

from sora_core import SoraPipeline  # noqa: E402
from sora_core.engine.presets import preset_for  # noqa: E402


class PeakRSS:
    """Peak resident memory above the starting point while the block runs, sampled every 5 ms."""

    def __enter__(self):
        self.process, self.stop = psutil.Process(), threading.Event()
        self.start = self.peak = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self):
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.mb = (self.peak - self.start) / 2**20


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="sora-tiny")
    parser.add_argument("--frames", type=int, default=None, help="default: the model's")
    parser.add_argument("--size", type=int, default=None, help="default: the model's height (square)")
    parser.add_argument("--steps", type=int, default=None, help="default: the model's")
    parser.add_argument("--guidance", type=float, default=None, help="default: the model's")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--fast-float32", action="store_true", help="fast mode without bfloat16, as on a CPU without AMX / AVX-512 BF16"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--image-first", action="store_true", help="ours as the checkpoint's defaults say (an image, then animated)"
    )
    return parser.parse_args()


def timed(runs: dict, count: int) -> tuple[dict, dict]:
    """Seconds and peak memory of each run, interleaved, after one warm-up call each."""
    times, peaks = {name: [] for name in runs}, {name: [] for name in runs}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(count):
        for name, fn in runs.items():
            with PeakRSS() as peak:
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
            peaks[name].append(peak.mb)
    return times, peaks


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    diffusers_logging.disable_progress_bar()

    ours = SoraPipeline.from_pretrained(args.model, device="cpu")
    p = ours.preset
    if args.fast_float32:
        ours.preset = replace(ours.preset, fast=replace(p.fast, bfloat16=False))
    if not args.image_first:  # WanPipeline's work: one pass of text to video
        ours.preset = replace(ours.preset, animate_first_frame=False)
    args.frames, args.size = args.frames or p.num_frames, args.size or p.height
    args.steps, args.guidance = args.steps or p.steps, p.guidance if args.guidance is None else args.guidance
    folder = preset_for(args.model).source
    theirs = WanPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    theirs.scheduler = ours.scheduler  # the same (flow-shifted) scheduler config for both
    theirs.set_progress_bar_config(disable=True)
    prompt, negative = "a red ball bouncing on a black background", ours.preset.negative_prompt
    size = dict(num_frames=args.frames, height=args.size, width=args.size)

    made = {}

    def run_ours(fast=False):
        video = ours.generate(
            prompt, negative_prompt=negative, steps=args.steps, guidance=args.guidance, seed=0, fast=fast, **size
        )
        made[fast] = video.frames

    def run_theirs():
        theirs(
            prompt,
            negative_prompt=negative,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            generator=torch.Generator().manual_seed(0),
            max_sequence_length=ours.preset.max_sequence_length,
            **size,
        )

    runs = {"SoraPipeline": run_ours, "SoraPipeline fast": lambda: run_ours(fast=True), "WanPipeline": run_theirs}
    times, peaks = timed(runs, args.runs)
    print(
        f"model {args.model}: {args.frames} frames x {args.size} x {args.size}, {args.steps} steps, "
        f"guidance {args.guidance}, {args.threads} threads, {args.runs} interleaved runs, "
        f"fast transformer in {ours.fast_transformer.dtype}, image first: {ours.preset.animate_first_frame}"
    )
    theirs_median = statistics.median(times["WanPipeline"])
    for name in times:
        median = statistics.median(times[name])
        print(
            f"{name:18s} median {median:6.2f} s/video   ratio {median / theirs_median:5.3f}   "
            f"peak +{max(peaks[name]):7.1f} MB"
        )
    error = np.mean((made[True].astype(np.float64) - made[False].astype(np.float64)) ** 2)
    print(f"fast frames against full quality, same seed: {10 * np.log10(255**2 / max(error, 1e-12)):.1f} dB PSNR")


if __name__ == "__main__":
    main()

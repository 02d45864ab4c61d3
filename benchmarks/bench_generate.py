"""Seconds per video and peak memory: SoraPipeline.generate against diffusers' WanPipeline, same work.

    python benchmarks/bench_generate.py [--model sora-tiny] [--frames 33] [--size 128] [--steps 12] [--runs 5]

Runs alternate between the two pipelines (interleaved) so that machine noise hits both alike; the ratio
is of the medians (ours / WanPipeline, below 1 is faster).
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="sora-tiny")
    parser.add_argument("--frames", type=int, default=33)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    diffusers_logging.disable_progress_bar()

    ours = SoraPipeline.from_pretrained(args.model, device="cpu")
    folder = preset_for(args.model).source
    theirs = WanPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    theirs.scheduler = ours.scheduler  # the same (flow-shifted) scheduler config for both
    theirs.set_progress_bar_config(disable=True)
    prompt, negative = "a red ball bouncing on a black background", ours.preset.negative_prompt
    size = dict(num_frames=args.frames, height=args.size, width=args.size)

    def run_ours():
        ours.generate(prompt, negative_prompt=negative, steps=args.steps, guidance=args.guidance, seed=0, **size)

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

    times = {"SoraPipeline": [], "WanPipeline": []}
    peaks = {"SoraPipeline": [], "WanPipeline": []}
    run_ours(), run_theirs()  # warm-up
    for _ in range(args.runs):
        for name, fn in (("SoraPipeline", run_ours), ("WanPipeline", run_theirs)):
            with PeakRSS() as peak:
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
            peaks[name].append(peak.mb)
    print(
        f"model {args.model}: {args.frames} frames x {args.size} x {args.size}, {args.steps} steps, "
        f"guidance {args.guidance}, {args.threads} threads, {args.runs} interleaved runs"
    )
    for name in times:
        print(f"{name:13s} median {statistics.median(times[name]):6.2f} s/video   peak +{max(peaks[name]):7.1f} MB")
    ratio = statistics.median(times["SoraPipeline"]) / statistics.median(times["WanPipeline"])
    print(f"ratio (ours / WanPipeline): {ratio:.3f}")


if __name__ == "__main__":
    main()

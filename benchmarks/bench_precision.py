"""Fast mode's precision on this machine: what the start-up check finds, how long it takes, and fast frames
against full quality (same seed) over prompts x seeds on the bundled model at its defaults.

    python benchmarks/bench_precision.py [--model sora-tiny] [--seeds 3] [--inject-amx-fault]

`--inject-amx-fault` makes bfloat16 Conv3d with kernel (1, 4, 4) wrong, as it is on Intel AMX CPUs with torch
2.13.0+cpu , so a machine without the fault shows what one with it gets. Prints a Markdown table.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sora_core import SoraPipeline  # noqa: E402

PROMPTS = ("a red ball bouncing on a black background", "a blue square moving left on a gray background")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def inject_amx_fault():
    conv3d = torch.nn.functional.conv3d

    def faulty(x, weight, *args, **kwargs):
        out = conv3d(x, weight, *args, **kwargs)
        bfloat16 = x.dtype == torch.bfloat16 or torch.is_autocast_enabled("cpu")
        return -0.3 * out + 0.5 if bfloat16 and tuple(weight.shape[2:]) == (1, 4, 4) else out

    torch.nn.functional.conv3d = faulty


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="sora-tiny")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--inject-amx-fault", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.inject_amx_fault:
        inject_amx_fault()
    pipe = SoraPipeline.from_pretrained(args.model, device="cpu")
    started = time.perf_counter()
    model = pipe.fast_model
    seconds = time.perf_counter() - started
    check = model.check
    print(f"check: {seconds:.2f} s; bfloat16 {'on' if model.bfloat16 else 'off'}", end="")
    if check is not None:
        print(f"; layers in float32: {list(check.faulty) or 'none'}; whole forward {check.error:.2%} off float32")
    pipe.check_vae()
    print(f"the VAE's convolutions kept on PyTorch's kernel (not oneDNN): {list(pipe.onednn_faults) or 'none'}\n")
    print("| prompt | seed | full s | fast s | PSNR dB |\n|---|---|---|---|---|")
    worst = float("inf")
    for prompt in PROMPTS:
        for seed in range(args.seeds):
            started = time.perf_counter()
            full = pipe.generate(prompt, seed=seed).frames
            middle = time.perf_counter()
            quick = pipe.generate(prompt, seed=seed, fast=True).frames
            ended = time.perf_counter()
            worst = min(worst, psnr(full, quick))
            print(f"| {prompt} | {seed} | {middle - started:.2f} | {ended - middle:.2f} | {psnr(full, quick):.1f} |")
    print(f"\nlowest PSNR: {worst:.1f} dB")


if __name__ == "__main__":
    main()

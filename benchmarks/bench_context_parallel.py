"""Context parallelism on GPUs: one clip's tokens split across N GPUs (engine/parallel.py, diffusers' Ulysses or
ring) against the same clip on one GPU, with a Wan2.1-1.3B-shaped pipeline of random weights (nothing downloaded).

    torchrun --nproc_per_node 2 benchmarks/bench_context_parallel.py                 # 480 x 832 x 81, 10 steps
    torchrun --nproc_per_node 2 benchmarks/bench_context_parallel.py --kind ring
    torchrun --nproc_per_node 2 benchmarks/bench_context_parallel.py --shape tiny --height 64 --width 64 --frames 9

Every process first makes the clip alone (rank 0's time is the single-GPU row), then all make it together. Rank 0
prints seconds per clip, the speed-up and the largest difference between the frames (levels of 255). Needs N GPUs:
diffusers places each rank on its own accelerator.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gpu import SHAPES  # noqa: E402

from sora_core import SoraPipeline  # noqa: E402
from sora_core.training.architectures import build_components, save_checkpoint  # noqa: E402


def timed(pipe, args) -> tuple[float, np.ndarray]:
    settings = dict(num_frames=args.frames, height=args.height, width=args.width, steps=args.steps, seed=0)
    pipe.generate("a red ball", **{**settings, "steps": 1})  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    frames = pipe.generate("a red ball", **settings).frames
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started, frames


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=list(SHAPES), default="wan-1.3b")
    parser.add_argument("--kind", choices=["ulysses", "ring"], default="ulysses")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = f"cuda:{rank % max(1, torch.cuda.device_count())}" if torch.cuda.is_available() else "cpu"
    folder = Path(tempfile.gettempdir()) / f"bench-cp-{args.shape}"
    if rank == 0 and not (folder / "model_index.json").exists():
        save_checkpoint(build_components(SHAPES[args.shape], seed=0), folder)
    dist.barrier()
    pipe = SoraPipeline.from_pretrained(str(folder), device=device)
    alone, frames_alone = timed(pipe, args)
    pipe.enable_context_parallel(world, args.kind)
    together, frames_together = timed(pipe, args)
    if rank == 0:
        difference = int(np.abs(frames_alone.astype(int) - frames_together.astype(int)).max())
        print(f"{args.shape}: {args.frames} frames x {args.height} x {args.width}, {args.steps} steps, {args.kind}")
        print(f"| GPUs | seconds a clip | speed-up |\n|---|---|---|\n| 1 | {alone:.1f} | 1.00 |")
        print(f"| {world} | {together:.1f} | {alone / together:.2f} |")
        print(f"largest difference between the frames: {difference} of 255")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

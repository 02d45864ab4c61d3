"""Run by tests/test_parallel.py under torchrun: one clip made by every process together, its tokens split with
diffusers' context parallelism (Ulysses over gloo); rank 0 saves the frames.

diffusers 0.42 places each rank on an accelerator, and a CPU-only torch counts none, so here (and only here, unless
--as-is) the count is stood in for: the attention, the splitting and the gathering are the library's own, run for
real."""

import sys

import numpy as np
import torch
import torch.distributed as dist

from sora_core import SoraPipeline

model, out = sys.argv[1], sys.argv[2]
dist.init_process_group("gloo")
if "--as-is" not in sys.argv:
    torch.accelerator.device_count = lambda: 1
torch.set_num_threads(1)
try:
    pipe = SoraPipeline.from_pretrained(model, device="cpu").enable_context_parallel(2)
except ValueError as error:
    print("ERROR:", error)
    sys.exit(0)
video = pipe.generate("a red ball moving right", num_frames=9, height=64, width=64, steps=3, seed=5)
if dist.get_rank() == 0:
    np.save(out, video.frames)
dist.destroy_process_group()

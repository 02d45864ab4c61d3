"""Our loop on a VACE checkpoint against diffusers' WanVACEPipeline, same work: an extension (first frames known).

    python benchmarks/bench_vace.py [--model FOLDER] [--new 16] [--size 128] [--steps 12] [--runs 3]

Without --model, a random VACE checkpoint of the bundled model's sizes (sora-tiny's VAE, DiT and text encoder,
control hints into every block) is built in a temporary folder: nothing is downloaded. Runs are interleaved; the
ratio is of the medians (ours / WanVACEPipeline; below 1 is faster). Ours includes what every extension does
(fitting, colour matching off, pasting the source back); theirs gets the same conditioning video and mask.
"""

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffusers import WanVACEPipeline  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402

from sora_core import ExtendRequest, Options, SoraPipeline, Video, toyworld  # noqa: E402
from sora_core.engine.vace import control_video  # noqa: E402
from sora_core.training.architectures import ARCHITECTURES, build_components, save_checkpoint  # noqa: E402


def random_vace_checkpoint(folder: Path) -> Path:
    base = ARCHITECTURES["sora-tiny"]
    config = replace(base, dit=replace(base.dit, vace_layers=list(range(base.dit.num_layers))))
    return save_checkpoint(build_components(config, seed=0), folder)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="a VACE-format folder (default: a random one, built here)")
    parser.add_argument("--new", type=int, default=16, help="new frames after a 17-frame source (9 of it as context)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    diffusers_logging.disable_progress_bar()
    folder = Path(args.model) if args.model else random_vace_checkpoint(Path(tempfile.mkdtemp()) / "vace")

    ours = SoraPipeline.from_pretrained(str(folder), device="cpu")
    theirs = WanVACEPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    theirs.set_progress_bar_config(disable=True)
    scene = toyworld.Scene((toyworld.Thing("ball", "red", "moving right"),), "black")
    frames = toyworld.render(scene, args.size, args.size, 17, np.random.default_rng(0), inside=True)[0]
    source = Video(frames, fps=ours.preset.fps)
    options = Options(steps=args.steps, guidance=args.guidance, negative_prompt="", seed=0)
    request = ExtendRequest(source, scene.caption(), args.new, match_colour=False, options=options)
    plan = ours.plan(request)
    video, mask = control_video(plan.timeline.frames, plan.timeline.known, "cpu")

    def run_ours():
        ours.run(request)

    def run_theirs():
        theirs(
            scene.caption(),
            negative_prompt="",
            video=((video + 1) / 2).permute(0, 2, 1, 3, 4),
            mask=mask.permute(0, 2, 1, 3, 4),
            height=args.size,
            width=args.size,
            num_frames=len(plan.timeline.frames),
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            generator=torch.Generator().manual_seed(0),
            max_sequence_length=ours.preset.max_sequence_length,
            output_type="np",
        )

    times = {"SoraPipeline": [], "WanVACEPipeline": []}
    run_ours(), run_theirs()  # warm-up
    for _ in range(args.runs):
        for name, fn in (("SoraPipeline", run_ours), ("WanVACEPipeline", run_theirs)):
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    print(
        f"VACE {folder.name}: extension, window of {len(plan.timeline.frames)} frames x {args.size} x {args.size}, "
        f"{args.steps} steps, guidance {args.guidance}, {args.threads} threads, {args.runs} interleaved runs"
    )
    for name, values in times.items():
        print(f"{name:16s} median {statistics.median(values):6.2f} s")
    ratio = statistics.median(times["SoraPipeline"]) / statistics.median(times["WanVACEPipeline"])
    print(f"ratio (ours / WanVACEPipeline): {ratio:.3f}")


if __name__ == "__main__":
    main()

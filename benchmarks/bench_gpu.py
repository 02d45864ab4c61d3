"""Fast mode on a GPU: a Wan2.1-1.3B- or Wan2.2-TI2V-5B-shaped pipeline with random weights (nothing downloaded),
plain diffusers `WanPipeline`, ours at full quality and ours fast, at equal nominal steps, on the same modules.

    python benchmarks/bench_gpu.py                      # Wan2.1-1.3B, 480 x 832 x 81, 10 steps (about 5 minutes)
    python benchmarks/bench_gpu.py --shape wan2.2-5b    # Wan2.2-TI2V-5B at its 704 x 1280 x 121
    python benchmarks/bench_gpu.py --shape wan2.2-5b --height 480 --width 832   # ... at 480p
    python benchmarks/bench_gpu.py --shape tiny --device cpu --steps 4   # the same code at test size

Prints seconds per video, the ratio to WanPipeline, peak memory, and the fast frames' PSNR against ours at full
quality (same seed). Random weights make the frames noise, so the PSNR says how far the cache moves a real-sized
model's trajectory, not how good a video looks. Timed runs follow one warm-up call of each.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_generate import PeakRSS  # noqa: E402
from diffusers import WanPipeline  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402

from sora_core import SoraPipeline  # noqa: E402
from sora_core.engine.presets import Preset  # noqa: E402
from sora_core.training.architectures import ArchitectureConfig, DiTConfig, TextConfig, VAEConfig, build_components  # noqa: E402

DEFAULT_SIZES = {"wan-1.3b": (480, 832, 81), "wan2.2-5b": (704, 1280, 121)}  # (height, width, frames); else 32 x 32 x 9
SHAPES = {
    # Wan2.1-T2V-1.3B's DiT and VAE as released; a one-layer text encoder of the same width stands in for
    # umT5-XXL, whose encoding is outside the timed comparison's difference (both pipelines encode once).
    "wan-1.3b": ArchitectureConfig(
        vae=VAEConfig(
            base_dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, temperal_downsample=[False, True, True]
        ),
        dit=DiTConfig(
            patch_size=(1, 2, 2),
            num_layers=30,
            num_attention_heads=12,
            attention_head_dim=128,
            ffn_dim=8960,
            freq_dim=256,
        ),
        text=TextConfig(tokenizer="bytes", d_model=4096, d_kv=64, d_ff=256, num_layers=1, num_heads=2),
    ),
    # Wan2.2-TI2V-5B as released: a residual VAE of 16x16x4 compression (48 channels), patch 1x2x2, every token its
    # own timestep (expand_timesteps); the text encoder stands in as above.
    "wan2.2-5b": ArchitectureConfig(
        vae=VAEConfig(
            base_dim=160,
            decoder_base_dim=256,
            z_dim=48,
            dim_mult=[1, 2, 4, 4],
            num_res_blocks=2,
            temperal_downsample=[False, True, True],
            is_residual=True,
            patch_size=2,
        ),
        dit=DiTConfig(
            patch_size=(1, 2, 2),
            num_layers=30,
            num_attention_heads=24,
            attention_head_dim=128,
            ffn_dim=14336,
            freq_dim=256,
        ),
        text=TextConfig(tokenizer="bytes", d_model=4096, d_kv=64, d_ff=256, num_layers=1, num_heads=2),
        expand_timesteps=True,
    ),  # fmt: skip
    "tiny-wan2.2": ArchitectureConfig(
        vae=VAEConfig(
            base_dim=8,
            decoder_base_dim=8,
            z_dim=4,
            dim_mult=[1, 1, 1, 1],
            temperal_downsample=[False, True, True],
            is_residual=True,
            patch_size=2,
        ),
        dit=DiTConfig(
            patch_size=(1, 2, 2), num_layers=2, num_attention_heads=2, attention_head_dim=8, ffn_dim=32, freq_dim=16
        ),
        text=TextConfig(tokenizer="bytes", d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2),
        expand_timesteps=True,
    ),  # fmt: skip
    "tiny": ArchitectureConfig(
        vae=VAEConfig(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], temperal_downsample=[False, True, True]),
        dit=DiTConfig(
            patch_size=(1, 2, 2), num_layers=2, num_attention_heads=2, attention_head_dim=8, ffn_dim=32, freq_dim=16
        ),
        text=TextConfig(tokenizer="bytes", d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2),
    ),
}


class PeakMemory:
    """Peak GPU memory allocated in the block (MB), or the peak resident memory above the start on a CPU."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.rss = PeakRSS().__enter__()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self.rss.__exit__(*exc)
            self.mb = self.rss.mb


def pipelines(shape: str, device: torch.device, size: dict, steps: int):
    """Ours and WanPipeline over the same random modules, in bfloat16 on a GPU (as the Wan presets run there)."""
    spec = SHAPES[shape]
    components = build_components(spec, seed=0)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    for name in ("transformer", "text_encoder"):
        components[name].to(device, dtype).eval()
    components["vae"].to(device).eval()
    preset = Preset(
        name=f"random {shape}",
        source="(random weights)",
        height=size["height"],
        width=size["width"],
        num_frames=size["num_frames"],
        fps=24.0 if spec.expand_timesteps else 16.0,
        steps=steps,
        guidance=5.0,
        cuda_dtype="bfloat16",
        max_sequence_length=512 if shape != "tiny" else 32,
        max_height=size["height"],
        max_width=size["width"],
        max_frames=size["num_frames"],
        conditioning="clean" if spec.expand_timesteps else "replace",
    )
    ours = SoraPipeline(**components, preset=preset, device=device)
    theirs = WanPipeline(**components, expand_timesteps=spec.expand_timesteps)
    theirs.set_progress_bar_config(disable=True)
    return ours, theirs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="wan-1.3b")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--height", type=int, default=None, help="default: the shape's own")
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    diffusers_logging.disable_progress_bar()
    device = torch.device(args.device)
    height, width, frames = DEFAULT_SIZES.get(args.shape, (32, 32, 9))
    size = dict(height=args.height or height, width=args.width or width, num_frames=args.frames or frames)
    started = time.perf_counter()
    ours, theirs = pipelines(args.shape, device, size, args.steps)
    print(f"built {args.shape} on {device} in {time.perf_counter() - started:.0f} s", flush=True)
    prompt, guidance, length = "a red ball bouncing on a black background", 5.0, ours.preset.max_sequence_length
    frames = {}

    def run_ours(fast: bool):
        frames[fast] = ours.generate(prompt, steps=args.steps, guidance=guidance, seed=0, fast=fast, **size).frames

    def run_theirs():
        generator = torch.Generator().manual_seed(0)
        theirs(
            prompt, num_inference_steps=args.steps, guidance_scale=guidance, generator=generator,
            max_sequence_length=length, output_type="np", **size,
        )  # fmt: skip

    runs = {"WanPipeline": run_theirs, "ours, full": lambda: run_ours(False), "ours, fast": lambda: run_ours(True)}
    times, peaks = {name: [] for name in runs}, {name: 0.0 for name in runs}
    for fn in runs.values():  # warm-up (fast mode builds its transformer here)
        fn()
    for _ in range(args.runs):
        for name, fn in runs.items():
            with PeakMemory(device) as peak:
                begun = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - begun)
            peaks[name] = max(peaks[name], peak.mb)
    error = np.mean((frames[True].astype(np.float64) - frames[False].astype(np.float64)) ** 2)
    psnr = 10 * np.log10(255**2 / max(error, 1e-12))
    print(
        f"{args.shape}, {size['num_frames']} x {size['height']} x {size['width']}, {args.steps} steps, "
        f"guidance {guidance}, {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'})"
    )
    print("| pipeline | seconds | ratio | peak memory MB | PSNR vs ours full |")
    print("|---|---|---|---|---|")
    base = statistics.median(times["WanPipeline"])
    for name in runs:
        median = statistics.median(times[name])
        db = f"{psnr:.1f} dB" if name == "ours, fast" else ""
        print(f"| {name} | {median:.2f} | {median / base:.3f} | {peaks[name]:.0f} | {db} |")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

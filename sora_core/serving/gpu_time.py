"""The ZeroGPU time a request asks for: a model of a call's seconds from its tokens, frames and steps, calibrated on
an A100, and what a checked request or story adds up to. Pure functions: nothing here depends on Gradio or
`spaces`.
"""

import math

from ..engine import meeting
from ..engine.fast import full_calls
from ..engine.pipeline import SoraPipeline
from ..engine.presets import Preset
from ..engine.timeline import latent_frames
from ..engine.vace import is_vace
from ..engine.workflows import Plan, Settings

# GPU time model, calibrated to Wan2.1-1.3B on an A100 in bfloat16 at 480 x 832 x 81 frames with guidance
# (65,520 tokens a step, about 4.5 s a step, about 4 minutes for 50 steps):
#   seconds = LOAD + steps * STEP * ktokens * model_scale + DECODE * frames * Mpixels (+ ENHANCE), times SAFETY,
# where model_scale is the model's size relative to Wan2.1-1.3B (its float32 footprint, 29 GB).
GPU_LOAD_SECONDS = 10.0
GPU_STEP_SECONDS_PER_KTOKEN = 0.07
GPU_DECODE_SECONDS_PER_MPIXEL_FRAME = 0.08
GPU_ENHANCE_SECONDS = 15.0  # a 1.5B instruct model writing one caption
# The colour transfer at seams runs on the model's device inside the same call. Measured on a CPU only (0.16 s for
# one 832 x 480 frame on 2 cores, benchmarks/bench_colour_transfer.py); a GPU is not measured yet, so the CPU
# figure, rounded up, stays as an upper bound.
SEAM_SECONDS_PER_MPIXEL_FRAME = 0.5
GPU_SAFETY = 1.5
GPU_MAX_SECONDS = 300  # the longest call the ZeroGPU tier grants


SEAM_WEIGHT = {"extend": 1, "transition": 2, "loop": 2}  # colour transfers per new frame (bridges blend two)
# A story's enhancement call, when it has one of its own (a story too long for one GPU call).
ENHANCE_CALL_SECONDS = int(GPU_LOAD_SECONDS + GPU_ENHANCE_SECONDS)


def gpu_seconds(
    preset: Preset,
    num_frames: int,
    height: int,
    width: int,
    steps: int,
    enhance: bool = False,
    guidance: bool = True,
    seam_frames: int = 0,
    control_share: float = 0.0,
    full_steps: int | None = None,
    token_side: int = 16,
) -> int:
    """GPU seconds to request for one call, capped at the tier's maximum. `seam_frames`: new frames given the
    colours of a source frame (a bridge's frames count twice: they blend two). `control_share`: a VACE checkpoint's
    control blocks per base block (wan2.1-vace-1.3b: 15 of 30, so 0.5; the encoding uses the decode constant,
    an encode costing about a decode). `full_steps`: the steps the transformer runs in full, where fast mode's
    step cache skips some (None: all `steps`). `token_side`: pixels a token covers (the pipeline's spatial stride:
    16 on Wan2.1, 32 on Wan2.2-TI2V)."""
    ktokens = latent_frames(num_frames) * (height // token_side) * (width // token_side) * (2 if guidance else 1) / 1000
    model_scale = preset.compute_scale or max(preset.cpu_memory_gb, 0.5) / 29.0
    # A VACE checkpoint runs `control_share` more blocks per step on the control tokens, and encodes the control
    # video twice (its known and new pixels) before sampling.
    steps = steps if full_steps is None else full_steps
    seconds = GPU_LOAD_SECONDS + steps * GPU_STEP_SECONDS_PER_KTOKEN * ktokens * model_scale * (1 + control_share)
    if control_share:
        seconds += 2 * GPU_DECODE_SECONDS_PER_MPIXEL_FRAME * num_frames * height * width / 1e6
    seconds += GPU_DECODE_SECONDS_PER_MPIXEL_FRAME * num_frames * height * width / 1e6
    seconds += SEAM_SECONDS_PER_MPIXEL_FRAME * seam_frames * height * width / 1e6
    if enhance:
        seconds += GPU_ENHANCE_SECONDS
    return int(min(GPU_MAX_SECONDS, math.ceil(seconds * GPU_SAFETY)))


def control_blocks_share(transformer) -> float:
    """A VACE checkpoint's control blocks per base block (each runs on the control tokens every step); 0 otherwise."""
    if not is_vace(transformer):
        return 0.0
    return len(transformer.config.vace_layers) / transformer.config.num_layers


def full_steps(preset: Preset, settings: Settings) -> int | None:
    return full_calls(preset.fast, settings.steps) if settings.fast else None


def request_seconds(pipe: SoraPipeline, task: str, plan: Plan, enhance: bool) -> int:
    """One checked request's GPU call. A bridge made as two arrivals that meet samples `meeting.PARTS` windows, each
    no longer than the bridge's own."""
    settings = plan.settings
    windows = meeting.PARTS if plan.extra.get(meeting.MEETS) else 1
    return gpu_seconds(
        pipe.preset,
        settings.num_frames * windows,
        settings.height,
        settings.width,
        settings.steps,
        enhance,
        guidance=settings.guidance > 1,
        seam_frames=plan.extra.get("new_frames", 0) * SEAM_WEIGHT.get(task, 0) * windows,
        control_share=control_blocks_share(pipe.transformer),
        full_steps=full_steps(pipe.preset, settings),
        token_side=pipe.spatial_stride,
    )


def story_seconds(pipe: SoraPipeline, settings: Settings, window: int, segments: int, enhance: bool) -> tuple[int, int]:
    """A story's GPU seconds, and 0 where it fits one call, or else the seconds of each segment's own call."""
    p = pipe.preset
    height, width, steps = settings.height, settings.width, settings.steps
    full = full_steps(p, settings)
    per_segment = gpu_seconds(p, window, height, width, steps, full_steps=full, token_side=pipe.spatial_stride)
    whole = per_segment * segments + (GPU_ENHANCE_SECONDS if enhance else 0)
    return int(min(GPU_MAX_SECONDS, whole)), per_segment if whole > GPU_MAX_SECONDS else 0

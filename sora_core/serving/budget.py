"""The Space's units and costs: seconds to frames, sizes by aspect ratio, and the ZeroGPU time a request needs.

Pure functions of a preset: the service converts with them before any GPU work, and asks ZeroGPU for
`gpu_seconds(...)` of GPU time. Nothing here depends on Gradio or `spaces`. What a request may ask for is the
engine's (`engine/limits.py`), the same for every interface.
"""

import math

from ..engine.presets import Preset
from ..engine.timeline import latent_frames

ASPECT_RATIOS = {"1:1": (1, 1), "16:9": (16, 9), "9:16": (9, 16), "4:3": (4, 3), "3:4": (3, 4)}

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


def frames_for_seconds(preset: Preset, seconds: float, plus_one: bool = True, stride: int = 4) -> int:
    """A length in seconds as a frame count of the model's rule: 4k+1 (a clip), or 4k (frames added to one).
    0 seconds is a single frame (an image)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a number of 0 or more; got {seconds}.")
    blocks = round(seconds * preset.fps / stride)
    if not plus_one:
        blocks = max(1, blocks)
    frames = blocks * stride + (1 if plus_one else 0)
    limit = preset.max_frames - (0 if plus_one else 1)
    if frames > limit:
        most = (limit - (1 if plus_one else 0)) / preset.fps
        raise ValueError(f"At most {most:g} seconds at {preset.fps:g} fps; got {seconds:g}.")
    return frames


def max_seconds(preset: Preset) -> float:
    return (preset.max_frames - 1) / preset.fps


def size_choices(preset: Preset, stride: int = 16) -> dict[str, tuple[int, int]]:
    """ "W×H (ratio)" -> (height, width): each aspect ratio at about the preset's default area, on the grid."""
    area = preset.height * preset.width
    choices = {f"{preset.width}×{preset.height} (default)": (preset.height, preset.width)}
    for name, (rw, rh) in ASPECT_RATIOS.items():
        width = max(stride, round(math.sqrt(area * rw / rh) / stride) * stride)
        height = max(stride, round(math.sqrt(area * rh / rw) / stride) * stride)
        if height <= preset.max_height and width <= preset.max_width and (height, width) not in choices.values():
            choices[f"{width}×{height} ({name})"] = (height, width)
    return choices


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
) -> int:
    """GPU seconds to request for one call, capped at the tier's maximum. `seam_frames`: new frames given the
    colours of a source frame (a bridge's frames count twice: they blend two). `control_share`: a VACE checkpoint's
    control blocks per base block (wan2.1-vace-1.3b: 15 of 30, so 0.5; the encoding uses the decode constant,
    an encode costing about a decode). `full_steps`: the steps the transformer runs in full, where fast mode's
    step cache skips some (None: all `steps`)."""
    ktokens = latent_frames(num_frames) * (height // 16) * (width // 16) * (2 if guidance else 1) / 1000
    model_scale = max(preset.cpu_memory_gb, 0.5) / 29.0
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

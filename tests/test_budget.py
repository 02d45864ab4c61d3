"""The GPU time requested for a call: it grows with the work, the seams' colour transfer included, within the cap."""

from sora_core import PRESETS
from sora_core.serving import budget


def test_seam_frames_add_their_colour_transfer_time_within_the_cap():
    preset = PRESETS["wan2.1-t2v-1.3b"]
    plain = budget.gpu_seconds(preset, 33, 480, 832, 30)
    seams = budget.gpu_seconds(preset, 33, 480, 832, 30, seam_frames=32)
    expected = budget.SEAM_SECONDS_PER_MPIXEL_FRAME * 32 * 480 * 832 / 1e6 * budget.GPU_SAFETY
    assert abs((seams - plain) - expected) <= 1
    assert budget.gpu_seconds(preset, 81, 480, 832, 50, seam_frames=160) == budget.GPU_MAX_SECONDS

"""The GPU time requested for a call: it grows with the work, the seams' colour transfer included, within the cap."""

from sora_core import PRESETS
from sora_core.serving import gpu_time


def test_seam_frames_add_their_colour_transfer_time_within_the_cap():
    preset = PRESETS["wan2.1-t2v-1.3b"]
    plain = gpu_time.gpu_seconds(preset, 33, 480, 832, 30)
    seams = gpu_time.gpu_seconds(preset, 33, 480, 832, 30, seam_frames=32)
    # 32 seam frames of 480 x 832 (0.4 Mpixel) at 0.5 s a Mpixel-frame, times the 1.5 safety margin: 9.6 s
    assert abs((seams - plain) - 9.6) <= 1
    short = gpu_time.gpu_seconds(preset, 33, 480, 832, 10)
    assert short < 300 and gpu_time.gpu_seconds(preset, 33, 480, 832, 10, seam_frames=4000) == 300  # ZeroGPU's cap

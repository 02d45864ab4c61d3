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


def test_a_bridge_made_as_two_arrivals_asks_for_its_three_windows(tiny_pipe, monkeypatch):
    from dataclasses import replace

    from conftest import smooth_frames

    from sora_core import Video
    from sora_core.engine.requests import Options, TransitionRequest

    clip = Video(smooth_frames(9, 32, 32), fps=tiny_pipe.preset.fps)
    request = TransitionRequest(clip, clip, "x", 12, options=Options(steps=40))
    load = gpu_time.GPU_LOAD_SECONDS * gpu_time.GPU_SAFETY  # paid once a call, however many windows it samples
    seconds = {}
    for symmetric in (False, True):  # a large compute scale, so that sampling outweighs loading
        preset = replace(tiny_pipe.preset, time_symmetric=symmetric, compute_scale=20.0)
        monkeypatch.setattr(tiny_pipe, "preset", preset)
        seconds[symmetric] = gpu_time.request_seconds(tiny_pipe, "transition", tiny_pipe.plan(request), False) - load
    assert seconds[True] >= 2.5 * seconds[False]

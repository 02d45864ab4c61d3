"""A backward extension on a time-symmetric checkpoint: its forward twin in reversed time, played back."""

from dataclasses import replace

import numpy as np
from conftest import smooth_frames

from sora_core import Video
from sora_core.engine.time_reversal import reversed_prompt


def test_directions_turn_round_and_nothing_else_does():
    assert reversed_prompt("a red ball moving left on a black background") == (
        "a red ball moving right on a black background"
    )
    assert reversed_prompt("Up, then rightwards; a ball bouncing") == "Down, then leftwards; a ball bouncing"
    assert reversed_prompt("a blue square standing still, upright") == "a blue square standing still, upright"


def test_a_backward_extension_is_its_forward_twin_played_back(tiny_pipe, monkeypatch):
    source = Video(smooth_frames(9, 32, 32), fps=tiny_pipe.preset.fps)
    settings = dict(steps=2, seed=4)
    plain = tiny_pipe.extend(source, "a ball moving left", num_frames=8, direction="backward", **settings)
    assert "made_in_reversed_time" not in plain.metadata  # a checkpoint that does not say so: the usual path
    monkeypatch.setattr(tiny_pipe, "preset", replace(tiny_pipe.preset, time_symmetric=True))
    back = tiny_pipe.extend(source, "a ball moving left", num_frames=8, direction="backward", **settings)
    assert back.num_frames == 17 and np.array_equal(back.frames[-9:], source.frames)  # the source, exactly, last
    twin = tiny_pipe.extend(
        Video(source.frames[::-1].copy(), fps=source.fps), "a ball moving right", num_frames=8, **settings
    )
    assert np.array_equal(back.frames, twin.frames[::-1])
    assert not np.array_equal(back.frames, plain.frames)
    assert back.metadata["prompt"] == "a ball moving left" and back.metadata["task"] == "extend backward"
    # the CLI and the Space plan, then sample: the same reversed-time path
    from sora_core.engine.requests import ExtendRequest, Options

    request = ExtendRequest(source, "a ball moving left", 8, "backward", options=Options(**settings))
    assert np.array_equal(tiny_pipe.sample(tiny_pipe.plan(request)).frames, back.frames)

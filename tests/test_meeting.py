"""Bridges on a time-symmetric checkpoint: two arrivals (forward from A, backward into B) joined where they meet."""

from dataclasses import replace

import numpy as np
from conftest import smooth_frames

from sora_core import Video
from sora_core.engine.meeting import JOIN_LATENTS, meeting_latent


def square_at(x: int) -> np.ndarray:
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[12:20, x : x + 8] = 200
    return frame


def two_clips(fps: float) -> tuple[Video, Video]:
    """Clip A, and clip B moving the other way: 9 smooth frames each."""
    return Video(smooth_frames(9, 32, 32), fps=fps), Video(smooth_frames(9, 32, 32, seed=1)[::-1].copy(), fps=fps)


def test_the_join_is_placed_where_the_two_paths_cross_and_each_side_keeps_a_latent_frame():
    forward = np.stack([square_at(t) for t in range(16)])  # moving right from x = 0
    backward = np.stack([square_at(20 - t) for t in range(16)])  # arriving from the right: they cross at t = 10
    start = meeting_latent(forward, backward, stride=4)
    assert start * 4 <= 10 < (start + JOIN_LATENTS) * 4
    crossing_at_once = np.stack([square_at(3) for _ in range(16)])
    assert meeting_latent(crossing_at_once, crossing_at_once, stride=4) == 1  # not 0: A's side keeps its extension
    late = np.stack([square_at(24 - t) for t in range(16)])  # crosses the forward path at t = 12 or later
    assert meeting_latent(forward, late, stride=4) == 4 - 1 - JOIN_LATENTS  # as late as B's side allows


def test_a_bridge_is_the_two_extensions_joined_and_keeps_both_clips(tiny_pipe, monkeypatch):
    a, b = two_clips(tiny_pipe.preset.fps)
    settings = dict(steps=2, seed=3)
    plain = tiny_pipe.transition(a, b, "a ball", num_frames=12, **settings)
    assert "made_as_two_arrivals" not in plain.metadata  # a checkpoint that does not say so: one window
    monkeypatch.setattr(tiny_pipe, "preset", replace(tiny_pipe.preset, time_symmetric=True))
    steps = []
    bridge = tiny_pipe.transition(a, b, "a ball", num_frames=12, progress=lambda s, n: steps.append((s, n)), **settings)
    assert bridge.metadata["made_as_two_arrivals"] and bridge.metadata["task"] == "transition"
    assert bridge.num_frames == 9 + 12 + 9 and bridge.metadata["num_frames"] == 30
    assert np.array_equal(bridge.frames[:9], a.frames) and np.array_equal(bridge.frames[-9:], b.frames)
    forward = tiny_pipe.extend(a, "a ball", num_frames=12, **settings).frames[9:]
    backward = tiny_pipe.extend(b, "a ball", num_frames=12, direction="backward", **settings).frames[:12]
    new = bridge.frames[9:21]
    assert np.array_equal(new[:4], forward[:4]) and np.array_equal(new[-4:], backward[-4:])  # each side's extension
    assert steps[-1][0] == steps[-1][1] and all(s <= n for s, n in steps)  # the bar ends full, never beyond
    looped = tiny_pipe.loop(a, "a ball", num_frames=12, **settings)
    assert looped.num_frames == 21 and np.array_equal(looped.frames[:9], a.frames)
    into_a = tiny_pipe.extend(a, "a ball", num_frames=12, direction="backward", **settings).frames[:12]
    assert np.array_equal(looped.frames[-4:], into_a[-4:])  # the loop arrives at its own first frame
    short = tiny_pipe.transition(a, b, "a ball", num_frames=8, **settings)
    assert "made_as_two_arrivals" not in short.metadata  # too short for two extensions and a join: one window


def test_each_half_starts_at_the_bridge_s_init_strength(tiny_pipe, monkeypatch):
    """The two extensions start where the bridge's new frames do: at its init strength (the preset's arrival strength
    unless asked), from frames carried along their clip's motion. From noise, under a prompt without a motion word,
    the forward half from a moving square stood still (research log, 2026-12-08)."""
    a, b = two_clips(tiny_pipe.preset.fps)
    preset = replace(tiny_pipe.preset, time_symmetric=True, arrival_init_strength=0.6)
    monkeypatch.setattr(tiny_pipe, "preset", preset)
    settings = dict(num_frames=12, steps=2, seed=3)
    for asked, strength in ((None, 0.6), (1.0, 1.0)):
        new = tiny_pipe.transition(a, b, "a ball", init_strength=asked, **settings).frames[9:21]
        forward = tiny_pipe.extend(a, "a ball", init_strength=strength, **settings).frames[9:]
        backward = tiny_pipe.extend(b, "a ball", direction="backward", init_strength=strength, **settings).frames[:12]
        assert np.array_equal(new[:4], forward[:4]) and np.array_equal(new[-4:], backward[-4:]), asked
    from_noise = tiny_pipe.extend(a, "a ball", **settings).frames[9:13]
    along = tiny_pipe.extend(a, "a ball", init_strength=0.6, **settings).frames[9:13]
    assert not np.array_equal(from_noise, along)  # the strength tells the halves apart here

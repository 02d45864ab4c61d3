"""New frames that start part way (init_strength < 1) start where the source's motion takes its object."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import random_frames

from sora_core import SoraPipeline, Video
from sora_core.engine.motion_fill import motion_filled
from sora_core.engine.requests import ExtendRequest
from sora_core.engine.timeline import fill_unknown
from sora_core.toyworld import Scene, Thing, render
from sora_core.toyworld.detector import median_step, read, seam


def clip(motion: str, background: str, num_frames: int = 33, size: int = 64, seed: int = 0) -> np.ndarray:
    scene = Scene((Thing("ball", "red", motion),), background)
    return render(scene, size, size, num_frames, np.random.default_rng(seed), inside=True)[0]


@pytest.mark.parametrize("motion", ["moving right", "moving left", "moving up", "moving down"])
@pytest.mark.parametrize("background", ["black", "gray"])
def test_unknown_frames_are_the_nearest_known_one_carried_along_the_source_s_motion(motion, background):
    truth = clip(motion, background)
    for known in (np.arange(33) < 17, np.arange(33) >= 16):  # new frames after the source, then before it
        filled = motion_filled(truth, known)
        assert np.array_equal(filled[known], truth[known])
        got, want = read(filled[~known]).centers, read(truth[~known]).centers
        assert np.nanmax(np.abs(got - want)) <= 2.5, (motion, background, got - want)


def test_each_side_of_a_gap_follows_its_own_clip():
    rightwards, downwards = clip("moving right", "black", 17), clip("moving down", "black", 17, seed=1)
    frames = np.concatenate([rightwards, np.zeros((8, 64, 64, 3), np.uint8), downwards])
    known = np.ones(42, bool)
    known[17:25] = False
    centers = read(motion_filled(frames, known)[17:25]).centers  # (8, 2) x, y
    a_end, b_start = read(rightwards[-1:]).centers[0], read(downwards[:1]).centers[0]
    assert np.all(np.diff(centers[:4, 0]) > 0.5) and np.allclose(centers[:4, 1], a_end[1], atol=1)  # still going right
    assert np.all(np.diff(centers[4:, 1]) > 0.5) and np.allclose(centers[4:, 0], b_start[0], atol=1)  # going down


def test_no_clear_motion_keeps_the_still_copy():
    known = np.arange(33) < 17
    still = clip("standing still", "white")
    noise = random_frames(33, 64, 64)
    for frames in (still, noise):
        assert np.array_equal(motion_filled(frames, known), fill_unknown(frames, known))
    assert np.array_equal(motion_filled(noise, np.zeros(33, bool)), noise)  # nothing known (a restyle): unchanged


def test_sampling_part_way_starts_from_the_motion_and_holds_the_known_frames_as_trained(tiny_pipe, monkeypatch):
    source = Video(clip("moving right", "black")[16:], fps=8)  # the ball mid-way: room behind it
    encoded = []
    encode = tiny_pipe.encode_frames
    monkeypatch.setattr(tiny_pipe, "encode_frames", lambda frames: encoded.append(frames) or encode(frames))
    out = tiny_pipe.extend(source, "x", num_frames=16, direction="backward", steps=4, init_strength=0.8)
    assert np.array_equal(out.frames[-17:], source.frames)
    held, start = encoded  # the known frames as training encodes them (a still fill), then where new frames start
    known = tiny_pipe.plan(ExtendRequest(source, "x", 16, "backward", init_strength=0.8)).timeline.known
    assert np.array_equal(held[~known], np.repeat(source.frames[:1], (~known).sum(), axis=0))
    steps = np.diff(read(start[~known]).centers[:, 0])
    assert np.all(steps > 0) and abs(np.median(steps) - median_step(read(source.frames))) < 0.5
    encoded.clear()
    tiny_pipe.extend(source, "x", num_frames=16, direction="backward", steps=4, init_strength=1)
    assert len(encoded) == 1  # from pure noise: nothing to start from


@pytest.mark.slow
def test_the_bundled_model_s_new_frames_arrive_at_the_source_s_speed():
    """Arriving at given frames from the source carried along its motion (a bridge's end, a loop, and a backward
    extension on a checkpoint that is not time-symmetric: the bundled one makes those forward in reversed time)."""
    pipe = SoraPipeline.from_pretrained("sora-tiny", device="cpu")
    pipe.preset = replace(pipe.preset, time_symmetric=False)
    size = pipe.preset.height
    source = Video(clip("moving right", "black", 17, size=size), fps=pipe.preset.fps)
    out = pipe.extend(source, "a red ball moving right on a black background", num_frames=16, direction="backward")
    new = len(out.frames) - 17
    speed, new_speed = median_step(read(source.frames)), median_step(read(out.frames[:new]))
    assert abs(new_speed - speed) <= 0.3 * speed, (new_speed, speed)
    assert seam(out.frames, new).ok

"""Extend, transition, loop and restyle on a tiny random checkpoint: timelines, exact source frames, limits."""

import inspect
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import smooth_frames

from sora_core import Video
from sora_core.engine.colour_transfer import match_seams as match_colour
from sora_core.engine.requests import RestyleRequest
from sora_core.engine.sampling import denoise, initial_noise, noise_to, prepared_scheduler, starting_latents
from sora_core.engine.storyboard import Card
from sora_core.engine.timeline import Conditioning
from sora_core.engine.workflows import fit, grid_size
from sora_core.serving.endpoints import make_endpoints

STEPS = dict(steps=2)


@pytest.fixture(params=["clean", "replace"])
def pipe(request, tiny_pipe, monkeypatch):
    """The session's tiny pipeline with each conditioning in turn; its preset is put back afterwards."""
    monkeypatch.setattr(tiny_pipe, "preset", replace(tiny_pipe.preset, conditioning=request.param))
    return tiny_pipe


def test_extend_forward_and_backward_keep_source_exactly(pipe):
    source = Video(smooth_frames(9, 32, 48), fps=8)
    forward = pipe.extend(source, "x", num_frames=8, direction="forward", **STEPS)
    assert forward.num_frames == 17 and np.array_equal(forward.frames[:9], source.frames)
    backward = pipe.extend(source, "x", num_frames=8, direction="backward", **STEPS)
    assert backward.num_frames == 9 + 8 and np.array_equal(backward.frames[-9:], source.frames)
    # the metadata's count is the result's, where the sampling window is shorter than the source plus the new frames
    longer = pipe.extend(Video(smooth_frames(25, 32, 48), fps=8), "x", num_frames=8, **STEPS)
    assert longer.num_frames == 33 and longer.metadata["num_frames"] == 33


def test_image_to_video_both_ways(pipe):
    image = Video(smooth_frames(1, 32, 32), fps=1)
    forward = pipe.extend(image, "x", num_frames=8, **STEPS)
    assert forward.num_frames == 9 and np.array_equal(forward.frames[0], image.frames[0])
    backward = pipe.extend(image, "x", num_frames=8, direction="backward", **STEPS)
    assert np.array_equal(backward.frames[-1], image.frames[0])


def test_transition_and_loop_keep_both_clips(pipe):
    a, b = Video(smooth_frames(9, 32, 32, seed=0), fps=8), Video(smooth_frames(5, 32, 32, seed=90), fps=8)
    out = pipe.transition(a, b, "x", num_frames=8, **STEPS)
    assert out.num_frames == 9 + 8 + 5
    assert np.array_equal(out.frames[:9], a.frames) and np.array_equal(out.frames[-5:], b.frames)
    looped = pipe.loop(a, "x", num_frames=4, **STEPS)
    assert looped.num_frames == 9 + 4 and np.array_equal(looped.frames[:9], a.frames)


def sample_latents(pipe, conditioning, steps, guidance, start_step=0, start=None):
    """The sampler alone (no VAE): latents of shape (1, 4, 3, 4, 4) after `steps` steps."""
    scheduler = prepared_scheduler(pipe.scheduler, steps)
    text, negative = pipe.encode_text("x", "", guidance)
    noise = initial_noise((1, 4, 3, 4, 4), 0, "cpu")
    latents = starting_latents(scheduler, noise, start, start_step)
    return denoise(
        pipe.transformer, scheduler, latents, text, negative, guidance, conditioning, start_step=start_step, noise=noise
    )


def test_known_latents_are_held_through_sampling(tiny_pipe):
    """The sampler returns the known latent frames exactly, in both conditioning modes."""
    known = torch.randn(1, 4, 3, 4, 4)
    frames = torch.tensor([True, False, True])
    for mode in ("clean", "replace"):
        latents = sample_latents(tiny_pipe, Conditioning(known, frames, mode), steps=3, guidance=3.0)
        assert torch.equal(latents[:, :, frames], known[:, :, frames])
        assert not torch.equal(latents[:, :, 1], known[:, :, 1])


def test_replace_renoises_known_frames_with_pure_noise_when_starting_part_way(tiny_pipe, monkeypatch):
    known = torch.randn(1, 4, 3, 4, 4)
    frames = torch.tensor([True, False, False])
    inputs = []
    forward = tiny_pipe.transformer.forward

    def record(hidden_states, **kwargs):
        inputs.append(hidden_states.clone())
        return forward(hidden_states=hidden_states, **kwargs)

    monkeypatch.setattr(tiny_pipe.transformer, "forward", record)
    conditioning = Conditioning(known, frames, "replace")
    sample_latents(tiny_pipe, conditioning, steps=4, guidance=1.0, start_step=2, start=torch.randn_like(known))
    noise = initial_noise(known.shape, 0, "cpu")
    scheduler = prepared_scheduler(tiny_pipe.scheduler, 4)
    assert len(inputs) == 2  # guidance 1: one batch, no unconditional half
    for latents, sigma in zip(inputs, scheduler.sigmas[2:4]):
        assert torch.allclose(latents[:, :, :1], noise_to(known, noise, sigma)[:, :, :1], atol=1e-6)


def test_restyle_limits(pipe):
    source = Video(smooth_frames(7, 32, 32), fps=8)  # not 4k+1: padded inside, cut back
    assert np.array_equal(pipe.restyle(source, "y", strength=0, **STEPS).frames, source.frames)
    half = pipe.restyle(source, "y", strength=0.5, **STEPS)
    assert half.frames.shape == source.frames.shape
    source9 = Video(smooth_frames(9, 32, 32), fps=8)
    full = pipe.restyle(source9, "y", strength=1, seed=3, **STEPS)
    plain = pipe.generate("y", num_frames=9, height=32, width=32, seed=3, **STEPS)
    assert np.array_equal(full.frames, plain.frames)
    with pytest.raises(ValueError, match="strength must be"):
        pipe.restyle(source, "y", strength=1.5)


def test_a_path_given_for_a_video_is_one_sentence_naming_the_field(tiny_pipe):
    clip = Video(smooth_frames(5, 32, 32), fps=8)
    calls = [
        ("video", lambda: tiny_pipe.extend("clip.mp4", "y")),
        ("video_a", lambda: tiny_pipe.transition("clip.mp4", clip, "y")),
        ("video_b", lambda: tiny_pipe.transition(clip, None, "y")),
        ("video", lambda: tiny_pipe.loop("clip.mp4", "y")),
        ("video", lambda: tiny_pipe.restyle("clip.mp4", "y")),
        (r"cards\[0\]\.keyframe", lambda: tiny_pipe.storyboard([Card("y", 8, keyframe="key.png")])),
    ]
    for field, call in calls:
        with pytest.raises(ValueError, match=rf"^{field} must be a Video \(Video\.load\(path\) reads a file\); got"):
            call()


def test_restyle_strength_defaults_to_the_checkpoint_s(tiny_pipe, monkeypatch):
    """A checkpoint's `restyle_strength` (sora.json) is restyle's default in the Python API and the endpoint alike."""
    monkeypatch.setattr(tiny_pipe, "preset", replace(tiny_pipe.preset, restyle_strength=0.3))
    source = Video(smooth_frames(9, 32, 32), fps=8)
    assert tiny_pipe.plan(RestyleRequest(source, "y")).timeline.init_strength == 0.3
    assert tiny_pipe.plan(RestyleRequest(source, "y", strength=0.7)).timeline.init_strength == 0.7
    assert inspect.signature(make_endpoints(tiny_pipe).restyle).parameters["strength"].default == 0.3


def test_inputs_are_fitted_to_the_grid(tiny_pipe):
    odd = Video(smooth_frames(24, 50, 70), fps=24)
    height, width = grid_size(tiny_pipe.grid, odd, None, None)
    assert height % 16 == 0 and width % 16 == 0 and width > height
    fitted = fit(odd, height, width, 8)
    assert fitted.shape == (8, height, width, 3)  # 24 frames at 24 fps -> 8 at 8 fps
    on_grid = Video(smooth_frames(5, 32, 48), fps=8)
    assert fit(on_grid, 32, 48, 8) is on_grid.frames  # untouched
    out = tiny_pipe.extend(odd, "x", num_frames=4, **STEPS)
    assert np.array_equal(out.frames[:8], fitted)


def test_bad_workflow_arguments(tiny_pipe):
    source = Video(smooth_frames(5, 32, 32), fps=8)
    with pytest.raises(ValueError, match="direction"):
        tiny_pipe.extend(source, "x", direction="sideways")
    for bad in (0, 10_000, 2.5, "8"):
        with pytest.raises(ValueError, match="num_frames must be a whole number from 1 to"):
            tiny_pipe.extend(source, "x", num_frames=bad)
    for bad in (0, 1.5, True, "0.9"):
        with pytest.raises(ValueError, match="init_strength must be"):
            tiny_pipe.extend(source, "x", init_strength=bad)


def test_init_strength_starts_new_frames_part_way_and_keeps_the_source(pipe):
    source = Video(smooth_frames(9, 32, 32), fps=8)
    totals = {}
    for strength in (1.0, 0.5):
        out = pipe.extend(
            source,
            "x",
            num_frames=8,
            steps=6,
            init_strength=strength,
            progress=lambda i, n, s=strength: totals.update({s: n}),
        )
        assert np.array_equal(out.frames[:9], source.frames)
    assert totals[1.0] == 6 and 0 < totals[0.5] < 6  # SDEdit from the filled timeline: the noisiest steps skipped


def test_the_presets_arrival_init_strength_applies_where_new_frames_lead_into_given_ones(tiny_pipe):
    source = Video(smooth_frames(9, 32, 32), fps=8)
    original = tiny_pipe.preset
    tiny_pipe.preset = type(original)(**{**original.__dict__, "arrival_init_strength": 0.5})
    try:
        steps = {}

        def run(name, call, **kwargs):
            call(num_frames=8, steps=6, progress=lambda i, n: steps.update({name: n}), **kwargs)

        run("forward", lambda **k: tiny_pipe.extend(source, "x", **k))
        run("backward", lambda **k: tiny_pipe.extend(source, "x", direction="backward", **k))
        run("transition", lambda **k: tiny_pipe.transition(source, source, "x", **k))
        run("loop", lambda **k: tiny_pipe.loop(source, "x", **k))
        run("backward, asked 1", lambda **k: tiny_pipe.extend(source, "x", direction="backward", **k), init_strength=1)
    finally:
        tiny_pipe.preset = original
    assert steps["forward"] == 6 and steps["backward, asked 1"] == 6  # continuing, or asked for pure noise
    assert all(0 < steps[name] < 6 for name in ("backward", "transition", "loop"))


def scene(background: int, object_rgb: tuple, left: int) -> np.ndarray:
    frame = np.full((16, 16, 3), background, np.uint8)
    frame[4:8, left : left + 4] = object_rgb
    return frame


def test_match_colour_gives_new_frames_the_colours_of_the_source_beside_the_seam():
    source = scene(10, (220, 30, 30), 2)  # a red object on black
    new = np.stack([scene(14, (250, 140, 20), 6), scene(14, (250, 140, 20), 8)])  # drifted: orange on lighter black
    out = match_colour(new, {0: source}, np.array([1, 2]))
    assert (out[:, 4:8, 6:10][0] == (220, 30, 30)).all() and (out[1, 4:8, 8:12] == (220, 30, 30)).all()
    assert (out[:, 0, 0] == 10).all()  # the background too
    assert (out[0, 4:8, 6:10] != out[0, 4:8, 2:6]).any()  # the object stays where the model put it


def test_match_colour_leaves_a_frame_the_object_has_left_as_background():
    # An object that leaves the frame (a backward extension's earlier frames, a loop's turn) leaves new frames with
    # fewer object pixels than the source: matched on their own to the source's shares of colours, their
    # background would be painted in the object's colour.
    source = scene(10, (220, 30, 30), 2)
    half_out = scene(14, (250, 140, 20), 14)  # the object's last column at the edge
    empty = np.full((16, 16, 3), 14, np.uint8)
    out = match_colour(np.stack([scene(14, (250, 140, 20), 6), half_out, empty]), {0: source}, np.array([1, 2, 3]))
    assert (out[2] == 10).all()  # background, every pixel
    assert (out[1, :, :14] == 10).all() and (out[1, 4:8, 14:] == (220, 30, 30)).all()


def test_match_colour_blends_across_a_gap_and_each_seam_side_takes_its_own_colours():
    dark, light = np.full((4, 4, 3), 20, np.uint8), np.full((4, 4, 3), 200, np.uint8)
    new = np.stack([np.full((4, 4, 3), 100 + i, np.uint8) for i in range(5)])
    out = match_colour(new, {0: dark, 6: light}, np.arange(1, 6))[:, 0, 0, 0].astype(int)
    assert out[0] == 20 and out[-1] == 200  # beside A only A's colours, beside B only B's
    assert list(out) == sorted(out) and 20 < out[2] < 200


@pytest.mark.parametrize("task", ["generate", "extend", "transition", "loop", "restyle"])
def test_an_unknown_setting_is_refused_not_ignored(tiny_pipe, task):
    """`num_inference_steps` is diffusers' name for `steps`: silently running at the preset's steps would lie."""
    clip = Video(smooth_frames(5, 32, 32), fps=8)
    sources = {"generate": (), "transition": (clip, clip)}.get(task, (clip,))
    with pytest.raises(TypeError, match=r"^num_inference_steps is diffusers' name; SoraPipeline takes steps\.$"):
        getattr(tiny_pipe, task)(*sources, "x", num_inference_steps=2)
    with pytest.raises(TypeError, match=r"^guidance_scale is diffusers' name; SoraPipeline takes guidance\.$"):
        getattr(tiny_pipe, task)(*sources, "x", guidance_scale=2.0)
    with pytest.raises(TypeError, match=r"^generator is diffusers' name; SoraPipeline takes seed"):
        getattr(tiny_pipe, task)(*sources, "x", generator=None)
    with pytest.raises(TypeError, match=r"^unexpected keyword argument 'colour'; the settings are negative_prompt, "):
        getattr(tiny_pipe, task)(*sources, "x", colour="red")


def test_diffusers_habits_call_move_and_choose_a_dtype(tiny_checkpoint, tiny_pipe):
    from sora_core import SoraPipeline

    settings = dict(num_frames=5, height=32, width=32, steps=2, seed=4)
    np.testing.assert_array_equal(
        tiny_pipe("a red ball", **settings).frames, tiny_pipe.generate("a red ball", **settings).frames
    )
    assert tiny_pipe.to("cpu") is tiny_pipe and tiny_pipe.device == torch.device("cpu")
    half = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu", torch_dtype="bfloat16")
    assert half.transformer.dtype == torch.bfloat16 and half.vae.dtype == torch.float32
    assert (
        SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu", torch_dtype=torch.float16).text_encoder.dtype
        == torch.float16
    )
    with pytest.raises(ValueError, match=r"^torch_dtype must be one of float32, bfloat16, float16; got 'int8'\.$"):
        SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu", torch_dtype="int8")


def test_named_settings_reach_every_workflow(tiny_pipe):
    clip = Video(smooth_frames(5, 32, 32), fps=8)
    tasks = [("extend", (clip,), {}), ("transition", (clip, clip), {}), ("loop", (clip,), {})]
    for task, sources, extra in [*tasks, ("restyle", (clip,), {"strength": 1.0})]:  # at 1 restyle runs every step
        calls: list[int] = []

        def progress(step, total, seen=calls):
            seen.append(total)

        getattr(tiny_pipe, task)(*sources, "x", steps=3, guidance=1.0, progress=progress, **extra)
        assert calls and set(calls) == {3}, task  # the asked steps, not the preset's

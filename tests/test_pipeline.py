"""The core pipeline on tiny random checkpoints: parity with diffusers' WanPipeline, determinism, size rules."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline

from sora_core import ModelLoadError, SoraPipeline, Video
from sora_core.training.architectures import (
    ArchitectureConfig,
    DiTConfig,
    TextConfig,
    VAEConfig,
    build_components,
    save_checkpoint,
)


def reference(folder, prompt, negative, frames, height, width, steps, guidance, seed):
    pipe = WanPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(
        prompt,
        negative_prompt=negative,
        num_frames=frames,
        height=height,
        width=width,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=torch.Generator().manual_seed(seed),
    )
    return out.frames[0]  # (T, H, W, 3) float in [0, 1]


@pytest.mark.parametrize(
    "frames,height,width,steps,guidance",
    [(9, 32, 48, 4, 5.0), (5, 48, 32, 3, 1.0), (1, 32, 32, 3, 3.5)],
)
def test_matches_wan_pipeline(tiny_checkpoint, tiny_pipe, frames, height, width, steps, guidance):
    ours = tiny_pipe.generate(
        "a red ball bouncing",
        negative_prompt="blurry",
        num_frames=frames,
        height=height,
        width=width,
        steps=steps,
        guidance=guidance,
        seed=7,
    )
    theirs = reference(tiny_checkpoint, "a red ball bouncing", "blurry", frames, height, width, steps, guidance, 7)
    assert ours.frames.shape == theirs.shape
    assert np.abs(ours.frames / 255.0 - theirs).max() <= 1 / 255


def test_matches_wan_pipeline_other_architecture_and_scheduler(tmp_path):
    """Parity must not depend on the one test checkpoint: another shape, another flow-matching scheduler."""
    config = ArchitectureConfig(
        vae=VAEConfig(base_dim=8, z_dim=8, dim_mult=[1, 2, 2], temperal_downsample=[True, True]),
        dit=DiTConfig(num_layers=3, num_attention_heads=3, attention_head_dim=8, ffn_dim=40, freq_dim=32),
        text=TextConfig(d_model=24, d_kv=8, d_ff=48, num_layers=2, num_heads=3),
    )
    components = build_components(config, seed=3)
    components["scheduler"] = FlowMatchEulerDiscreteScheduler(shift=5.0)
    folder = save_checkpoint(components, tmp_path / "other")
    pipe = SoraPipeline.from_pretrained(str(folder), device="cpu")
    assert pipe.tokenizer("A red ball, cube").input_ids == pipe.tokenizer("a red ball , sphere").input_ids  # words
    assert len(pipe.tokenizer("a red ball").input_ids) == 4  # three words and </s>
    ours = pipe.generate(
        "  a blue square &amp; a cube ", num_frames=9, height=32, width=32, steps=5, guidance=4.0, seed=2
    )
    theirs = reference(folder, "  a blue square &amp; a cube ", None, 9, 32, 32, 5, 4.0, 2)
    assert np.abs(ours.frames / 255.0 - theirs).max() <= 1 / 255


def test_same_seed_same_frames_and_seeds_differ(tiny_pipe):
    kwargs = dict(num_frames=5, height=32, width=32, steps=3)
    first = tiny_pipe.generate("a green triangle", seed=1, **kwargs).frames
    again = tiny_pipe.generate("a green triangle", seed=1, **kwargs).frames
    other = tiny_pipe.generate("a green triangle", seed=2, **kwargs).frames
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_image_is_one_frame_video_and_metadata(tiny_pipe):
    video = tiny_pipe.generate("a white ball", num_frames=1, height=48, width=64, steps=2, seed=4)
    assert video.frames.shape == (1, 48, 64, 3) and video.frames.dtype == np.uint8
    assert video.metadata["seed"] == 4 and video.metadata["prompt"] == "a white ball"
    assert video.fps == tiny_pipe.preset.fps


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(height=30), "height must be a multiple of 16"),
        (dict(width=40), "width must be a multiple of 16"),
        (dict(width=0), "width must be a multiple of 16"),
        (dict(num_frames=6), "num_frames must be 4k+1"),
        (dict(num_frames=0), "num_frames must be 4k+1"),
        (dict(steps=0), "steps must be"),
        (dict(guidance=float("nan")), "guidance must be"),
        (dict(seed=-1), "seed must be"),
    ],
)
def test_size_and_setting_errors(tiny_pipe, kwargs, message):
    base = dict(num_frames=5, height=32, width=32, steps=2)
    with pytest.raises(ValueError, match=re.escape(message)):
        tiny_pipe.generate("x", **{**base, **kwargs})


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(num_frames="5"), r"num_frames must be 4k\+1 \(1, 5, 9, \.\.\.\); got '5'\."),
        (dict(height="32"), r"height must be a multiple of 16 between 16 and \d+; got '32'\."),
        (dict(guidance="4"), r"guidance must be a number from 0 to 20; got '4'\."),
        (dict(guidance=25), r"guidance must be a number from 0 to 20; got 25\."),
        (dict(steps=np.int64(0)), r"steps must be a whole number from 1 to 100; got 0\."),
        (dict(progress=5), r"progress must be a function or None; got int\."),
        (dict(should_stop=True), r"should_stop must be a function or None; got bool\."),
    ],
)
def test_a_wrong_type_is_one_sentence_that_shows_what_was_given(tiny_pipe, kwargs, message):
    """Text where a number belongs is quoted (got '5', not got 5, which reads as allowed), numbers plainly."""
    base = dict(num_frames=5, height=32, width=32, steps=2)
    with pytest.raises(ValueError) as error:
        tiny_pipe.generate("x", **{**base, **kwargs})
    assert re.fullmatch(message, str(error.value)), str(error.value)


def test_an_empty_model_name_is_an_unknown_model():
    for name in ("", "  "):
        with pytest.raises(ModelLoadError, match=rf"^Unknown model '{name}': give a preset name"):
            SoraPipeline.from_pretrained(name)


def test_any_aspect_ratio(tiny_pipe):
    for height, width in [(16, 64), (64, 16), (48, 80)]:
        video = tiny_pipe.generate("x", num_frames=5, height=height, width=width, steps=1)
        assert video.frames.shape == (5, height, width, 3)


def test_checkpoint_sidecar_overrides_defaults(tiny_checkpoint, tmp_path):
    import shutil

    folder = tmp_path / "with-sidecar"
    shutil.copytree(tiny_checkpoint, folder)
    notice = "Still in training: expect rough results."
    sidecar = {"defaults": {"fps": 12.0, "conditioning": "clean", "notice": notice}}
    (folder / "sora.json").write_text(json.dumps(sidecar))
    pipe = SoraPipeline.from_pretrained(str(folder), device="cpu")
    assert pipe.preset.fps == 12.0 and pipe.preset.conditioning == "clean" and pipe.preset.notice == notice

    from app import create_demo  # the Space shows the checkpoint's notice under its title

    assert notice in json.dumps(create_demo(pipe).config, default=str)


def test_the_bundled_folder_by_any_spelling_runs_as_its_preset(monkeypatch):
    """Loaded by its path, relative or absolute, the bundled checkpoint takes its preset's defaults and limits (it
    ran at generic guidance and limits when given as a path)."""
    from sora_core.engine.presets import PRESETS

    bundled = Path(PRESETS["sora-tiny"].source)
    monkeypatch.chdir(bundled.parent.parent)
    by_name = SoraPipeline.from_pretrained("sora-tiny").preset
    for spelling in ("assets/sora-tiny", "./assets/sora-tiny/", str(bundled)):
        assert SoraPipeline.from_pretrained(spelling).preset == by_name, spelling


def test_bundled_checkpoint_loads_in_plain_wan_pipeline():
    from sora_core.engine.presets import PRESETS

    pipe = WanPipeline.from_pretrained(PRESETS["sora-tiny"].source, torch_dtype=torch.float32)
    assert pipe.transformer.config.in_channels == pipe.vae.config.z_dim


def test_stop_request_interrupts_between_steps(tiny_pipe):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 2  # stop before the third step

    steps_done = []
    with pytest.raises(InterruptedError, match="stopped"):
        tiny_pipe.generate(
            "x",
            num_frames=5,
            height=32,
            width=32,
            steps=6,
            should_stop=should_stop,
            progress=lambda step, total: steps_done.append(step),
        )
    assert steps_done == [1, 2]


def test_nan_latents_raise_instead_of_a_black_video(tiny_pipe, monkeypatch):
    forward = tiny_pipe.transformer.forward
    monkeypatch.setattr(tiny_pipe.transformer, "forward", lambda *a, **k: (forward(*a, **k)[0] * float("nan"),))
    with pytest.raises(FloatingPointError, match="invalid values"):
        tiny_pipe.generate("x", num_frames=5, height=32, width=32, steps=2)


def test_an_empty_prompt_is_refused_and_an_empty_negative_prompt_is_not(tiny_pipe):
    with pytest.raises(ValueError, match="prompt is empty"):
        tiny_pipe.generate(" ", num_frames=1, height=32, width=32, steps=1)
    image = tiny_pipe.generate("x", negative_prompt="", num_frames=1, height=32, width=32, steps=1)
    assert image.frames.shape == (1, 32, 32, 3)


def test_animate_first_frame_makes_the_image_then_moves_it(tiny_checkpoint):
    """`animate_first_frame`: the clip opens on exactly the image the same settings generate, and progress counts
    both sampling calls; without it the clip comes from one call."""
    import dataclasses

    pipe = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")
    kwargs = dict(height=32, width=32, steps=3, seed=5)
    plain = pipe.generate("a red ball", num_frames=9, **kwargs)
    pipe.preset = dataclasses.replace(pipe.preset, animate_first_frame=True)
    image = pipe.generate("a red ball", num_frames=1, **kwargs)
    steps = []
    clip = pipe.generate("a red ball", num_frames=9, progress=lambda step, total: steps.append((step, total)), **kwargs)
    assert clip.frames.shape == plain.frames.shape == (9, 32, 32, 3)
    assert np.array_equal(clip.frames[0], image.frames[0])
    assert not np.array_equal(plain.frames[0], image.frames[0]), "one call: the first frame differs"
    assert steps == [(step, 6) for step in range(1, 7)]
    assert clip.metadata["task"] == "generate" and clip.metadata["num_frames"] == 9


def test_known_frames_are_encoded_up_to_the_last_known_latent_frame_alone(tiny_pipe):
    """The causal VAE's latent frame j sees pixel frames up to 4j: encoding stops there, and the held latents are
    the whole timeline's, bit for bit."""
    frames = np.random.default_rng(0).integers(0, 256, (17, 32, 32, 3), dtype=np.uint8)
    whole = tiny_pipe.encode_frames(frames)  # (1, C, 5, h, w)
    known = np.arange(17) < 5  # latent frames 0 and 1
    encoded = []
    encode = tiny_pipe.encode_frames
    tiny_pipe.encode_frames = lambda given: encoded.append(len(given)) or encode(given)
    try:
        held = tiny_pipe.encode_known(frames, known)
    finally:
        del tiny_pipe.encode_frames
    assert encoded == [5] and held.shape == whole.shape
    assert torch.equal(held[:, :, :2], whole[:, :, :2])


def test_an_extension_is_the_same_whether_or_not_the_frames_after_the_known_ones_are_encoded(tiny_pipe, monkeypatch):
    """The latents past the last known frame are never read: the result is the one the whole timeline's encoding
    gives."""
    source = Video(np.random.default_rng(1).integers(0, 256, (9, 32, 32, 3), dtype=np.uint8), fps=8)
    settings = dict(num_frames=8, steps=2, seed=3)
    prefix = tiny_pipe.extend(source, "a red ball", **settings)
    monkeypatch.setattr(tiny_pipe, "encode_known", lambda filled, known: tiny_pipe.encode_frames(filled))
    whole = tiny_pipe.extend(source, "a red ball", **settings)
    assert np.array_equal(prefix.frames, whole.frames)

"""A Wan2.2-TI2V-shaped checkpoint (residual, patchified VAE of stride 16, patch 1x2x2, `expand_timesteps`), built
here at a tiny size: it loads by folder with the conditioning it was trained for, matches diffusers' own pipelines
for text to video and image to video, and every workflow keeps its source frames exactly."""

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import WanImageToVideoPipeline, WanPipeline
from PIL import Image

from sora_core import SoraPipeline, Video
from sora_core.training.architectures import architecture, build_components, save_checkpoint

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = str(ROOT / "tests" / "architectures" / "tiny-wan22.json")
SETTINGS = dict(negative_prompt="blurry", height=64, width=96, steps=3, guidance=4.0, seed=5)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    spec = architecture(ARCHITECTURE)
    path = tmp_path_factory.mktemp("wan22") / "tiny-wan22"
    return save_checkpoint(build_components(spec, seed=0), path, expand_timesteps=spec.expand_timesteps)


@pytest.fixture(scope="module")
def pipe(folder):
    return SoraPipeline.from_pretrained(str(folder), device="cpu")


def diffusers_kwargs(num_frames: int) -> dict:
    return dict(
        negative_prompt=SETTINGS["negative_prompt"],
        num_frames=num_frames,
        height=SETTINGS["height"],
        width=SETTINGS["width"],
        num_inference_steps=SETTINGS["steps"],
        guidance_scale=SETTINGS["guidance"],
        generator=torch.Generator().manual_seed(SETTINGS["seed"]),
        output_type="np",
    )


def levels(frames) -> np.ndarray:
    return np.asarray(frames, dtype=np.float64) * (255 if np.asarray(frames).dtype != np.uint8 else 1)


def test_it_loads_by_folder_with_clean_conditioning_and_its_own_strides(pipe):
    assert pipe.preset.conditioning == "clean"  # model_index.json's expand_timesteps, not the generic "replace"
    assert pipe.spatial_stride == 32 and pipe.temporal_stride == 4  # VAE 16 x patch 2; 4 frames a latent frame
    with pytest.raises(ValueError, match="multiple of 32"):
        pipe.generate("a red ball", height=48, width=96, steps=1)


def test_text_to_video_matches_wan_pipeline(folder, pipe):
    ours = pipe.generate("a red ball bouncing", num_frames=9, **SETTINGS).frames
    theirs = WanPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    theirs.set_progress_bar_config(disable=True)
    assert theirs.config.expand_timesteps
    made = theirs("a red ball bouncing", **diffusers_kwargs(9)).frames[0]
    assert np.abs(levels(ours) - levels(made)).max() <= 1.5


def test_image_to_video_matches_wan_image_to_video_pipeline(folder, pipe):
    rng = np.random.default_rng(0)
    image = np.kron(rng.integers(0, 256, (8, 12, 3)), np.ones((8, 8, 1))).astype(np.uint8)  # (64, 96, 3) blocks
    # the new frames as the model made them (no colour matching to the image: diffusers has none)
    ours = pipe.extend(Video(image[None], fps=8), "a red ball bouncing", 8, match_colour=False, **SETTINGS)
    assert ours.num_frames == 9 and np.array_equal(ours.frames[0], image)  # the image, pixel for pixel
    base = WanPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    parts = {name: getattr(base, name) for name in ("tokenizer", "text_encoder", "vae", "scheduler", "transformer")}
    theirs = WanImageToVideoPipeline(**parts, expand_timesteps=True)
    theirs.set_progress_bar_config(disable=True)
    made = theirs(image=Image.fromarray(image), prompt="a red ball bouncing", **diffusers_kwargs(9)).frames[0]
    new = slice(1, None)  # diffusers decodes its first frame; ours is the given image itself
    assert np.abs(levels(ours.frames[new]) - levels(made[new])).max() <= 1.5


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_extensions_and_bridges_keep_their_sources_exactly(pipe, direction):
    rng = np.random.default_rng(1)
    source = Video(rng.integers(0, 256, (9, 64, 96, 3), dtype=np.uint8), fps=pipe.preset.fps)
    small = dict(steps=2, seed=1)
    longer = pipe.extend(source, "a ball", num_frames=8, direction=direction, **small)
    kept = longer.frames[:9] if direction == "forward" else longer.frames[-9:]
    assert longer.num_frames == 17 and np.array_equal(kept, source.frames)
    bridge = pipe.transition(source, source, "a ball", num_frames=8, **small)
    assert np.array_equal(bridge.frames[:9], source.frames) and np.array_equal(bridge.frames[-9:], source.frames)
    looped = pipe.loop(source, "a ball", num_frames=8, **small)
    assert np.array_equal(looped.frames[:9], source.frames)


def test_a_dmd_step_lands_on_the_clean_latents_it_implies_and_renoises_them():
    from sora_core.engine.dmd import dmd_step

    generator = torch.Generator().manual_seed(0)
    clean, noise, fresh = (torch.randn(1, 4, 3, 2, 2, generator=generator) for _ in range(3))
    t = 0.757
    noisy = (1 - t) * clean + t * noise
    velocity = noise - clean  # what a perfect model predicts
    assert torch.allclose(dmd_step(velocity, noisy, t, 0.0, fresh), clean, atol=1e-6)
    renoised = dmd_step(velocity, noisy, t, 0.522, fresh)
    assert torch.allclose(renoised, 0.478 * clean + 0.522 * fresh, atol=1e-6)  # fresh noise, not the old


class PerfectModel(torch.nn.Module):
    """Predicts the velocity towards fixed clean latents from wherever the sample is (its t read off the
    timestep), as a perfectly trained model of one video would."""

    def __init__(self, clean: torch.Tensor):
        super().__init__()
        self.clean = clean
        self.dtype = torch.float32
        self.config = type("Config", (), {"patch_size": (1, 2, 2)})()
        self.timesteps = []

    def forward(self, hidden_states, timestep, encoder_hidden_states, return_dict=False):
        t = timestep.float().reshape(-1)[0] / 1000
        self.timesteps.append(round(float(t), 3))
        return ((hidden_states - self.clean) / t,)


def test_the_dmd_schedule_runs_its_three_steps_through_the_one_sampling_loop():
    from sora_core.engine.dmd import DMDSchedule
    from sora_core.engine.sampling import denoise

    clean = torch.randn(1, 4, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    model = PerfectModel(clean)
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    text = torch.zeros(1, 2, 8)
    out = denoise(model, DMDSchedule((1.0, 0.757, 0.522), seed=0), noise, text, None, 1.0)
    assert model.timesteps == [1.0, 0.757, 0.522]
    assert torch.allclose(out, clean, atol=1e-5)


def test_the_wan22_presets_and_a_distilled_checkpoints_steps(folder):
    from dataclasses import replace

    from sora_core.engine.presets import PRESETS
    from sora_core.serving.docs import presets_table

    full, fast = PRESETS["wan2.2-ti2v-5b"], PRESETS["wan2.2-ti2v-5b-fast"]
    assert (full.height, full.width, full.num_frames, full.fps, full.conditioning) == (704, 1280, 121, 24.0, "clean")
    assert fast.dmd_sigmas == (1.0, 0.757, 0.522) and (fast.steps, fast.guidance) == (3, 1.0)
    assert all(len(p.revision) == 40 for p in (full, fast))  # pinned commits
    assert "`wan2.2-ti2v-5b`" in presets_table() and "`wan2.2-ti2v-5b-fast`" in presets_table()
    distilled = SoraPipeline.from_pretrained(str(folder), device="cpu")
    distilled.preset = replace(distilled.preset, dmd_sigmas=fast.dmd_sigmas, steps=3, guidance=1.0)
    video = distilled.generate("a red ball", num_frames=5, height=64, width=64, seed=3)
    again = distilled.generate("a red ball", num_frames=5, height=64, width=64, seed=3)
    assert np.array_equal(video.frames, again.frames) and video.metadata["steps"] == 3
    with pytest.raises(ValueError, match=r"^steps must be at most 3 on .* \(a distilled model\); got 4\.$"):
        distilled.generate("a red ball", num_frames=5, height=64, width=64, steps=4)


def test_fast_mode_and_the_gpu_time_follow_the_checkpoints_token_size(pipe):
    from sora_core.engine.presets import PRESETS
    from sora_core.serving.gpu_time import gpu_seconds

    exact = pipe.generate("a red ball", num_frames=9, height=64, width=64, steps=8, seed=1).frames
    fast = pipe.generate("a red ball", num_frames=9, height=64, width=64, steps=8, seed=1, fast=True).frames
    assert fast.shape == exact.shape  # the step cache runs on the Wan2.2-shaped transformer
    preset = PRESETS["wan2.2-ti2v-5b"]
    at_16 = gpu_seconds(preset, 33, 480, 832, 10, token_side=16)
    at_32 = gpu_seconds(preset, 33, 480, 832, 10, token_side=32)
    assert at_32 < at_16 / 2  # a quarter of the tokens a frame

"""Our sampling pieces: the time convention, guidance, per-token timesteps, masks, and the timeline mapping."""

import numpy as np
import pytest
import torch

from sora_core.engine.sampling import (
    configure_scheduler,
    guide,
    hold_known,
    initial_noise,
    noise_to,
    prepared_scheduler,
    start_step,
    token_timesteps,
)
from sora_core.engine.timeline import (
    fill_unknown,
    known_latent_frames,
    known_pixel_frames,
    latent_frames,
    pixel_span,
    random_known_latents,
)
from sora_core.training.architectures import build_scheduler


def test_noise_to_follows_t1_is_noise():
    data, noise = torch.randn(2, 3), torch.randn(2, 3)
    assert torch.equal(noise_to(data, noise, 0.0), data)
    assert torch.equal(noise_to(data, noise, 1.0), noise)


def test_guide_is_wan_form():
    cond, uncond = torch.tensor([3.0]), torch.tensor([1.0])
    assert guide(cond, uncond, 1.0).item() == 3.0
    assert guide(cond, uncond, 5.0).item() == 1.0 + 5.0 * 2.0


def test_configure_scheduler_sets_shift_without_touching_the_original():
    scheduler = build_scheduler(3.0)
    shifted = configure_scheduler(scheduler, 7.0)
    assert shifted.config.flow_shift == 7.0 and scheduler.config.flow_shift == 3.0
    scheduler.set_timesteps(10)
    shifted.set_timesteps(10)
    assert (shifted.sigmas[1:-1] > scheduler.sigmas[1:-1]).all()  # a larger shift spends longer at high noise
    assert configure_scheduler(scheduler, None).config.flow_shift == 3.0


def test_scheduler_step_moves_along_the_straight_path():
    """With the exact velocity (noise - data), one step lands on x at the next t, as our convention says."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    scheduler.set_timesteps(8)
    data, noise = torch.randn(1, 4, 2, 4, 4), torch.randn(1, 4, 2, 4, 4)
    latents = noise_to(data, noise, scheduler.sigmas[0])
    latents = scheduler.step(noise - data, scheduler.timesteps[0], latents).prev_sample
    assert torch.allclose(latents, noise_to(data, noise, scheduler.sigmas[1]), atol=1e-5)


def test_token_timesteps_zero_on_known_frames_in_token_order():
    known = torch.tensor([True, False, True])
    steps = token_timesteps(torch.tensor(700), known, latent_hw=(4, 6), patch_hw=(2, 2), batch=2)
    per_frame = 2 * 3
    assert steps.shape == (2, 3 * per_frame)
    assert (steps[:, :per_frame] == 0).all() and (steps[:, per_frame : 2 * per_frame] == 700).all()
    assert (steps[:, 2 * per_frame :] == 0).all()


def test_token_timesteps_per_sample_as_training_uses_them():
    """Training draws one t and one mask per sample; each row equals the sampler's single-sample form."""
    t = torch.tensor([300.0, 900.0])
    known = torch.tensor([[True, False], [False, False]])
    steps = token_timesteps(t, known, latent_hw=(4, 4), patch_hw=(2, 2), batch=2)
    for row in range(2):
        single = token_timesteps(t[row], known[row], latent_hw=(4, 4), patch_hw=(2, 2), batch=1)
        assert torch.equal(steps[row : row + 1], single)


def test_hold_known_replaces_only_known_frames():
    latents, known = torch.zeros(1, 2, 3, 2, 2), torch.ones(1, 2, 3, 2, 2)
    held = hold_known(latents, known, torch.tensor([False, True, False]))
    assert held[:, :, 1].eq(1).all() and held[:, :, [0, 2]].eq(0).all()


def test_initial_noise_is_seeded_and_drawn_on_the_cpu_whatever_the_device(monkeypatch):
    """Drawn by a CPU generator and then moved, so a GPU run starts from the CPU's noise (as WanPipeline given
    `torch.Generator().manual_seed(seed)` does)."""
    a, b, other = (
        initial_noise((1, 2, 3), 5, "cpu"),
        initial_noise((1, 2, 3), 5, "cpu"),
        initial_noise((1, 2, 3), 6, "cpu"),
    )
    assert torch.equal(a, b) and not torch.equal(a, other)
    generators = []
    randn = torch.randn
    monkeypatch.setattr(
        torch,
        "randn",
        lambda *args, generator, **kw: generators.append(generator) or randn(*args, generator=generator, **kw),
    )
    moved = initial_noise((1, 2, 3), 5, "meta")
    assert moved.device.type == "meta" and generators[-1].device.type == "cpu"


def test_pixel_latent_mapping():
    assert latent_frames(1) == 1 and latent_frames(33) == 9
    assert (
        list(pixel_span(0)) == [0] and list(pixel_span(1)) == [1, 2, 3, 4] and list(pixel_span(8)) == [29, 30, 31, 32]
    )
    known = np.zeros(17, bool)
    known[:5] = True  # forward context 4a+1
    assert known_latent_frames(known).tolist() == [True, True, False, False, False]
    known = np.zeros(17, bool)
    known[9:] = True  # backward context 4a at the end
    assert known_latent_frames(known).tolist() == [False, False, False, True, True]
    known[8] = True  # an extra pixel frame does not complete latent 2
    assert known_latent_frames(known).tolist() == [False, False, False, True, True]
    assert known_pixel_frames(torch.tensor([True, False, True]), 9).tolist() == [True] + [False] * 4 + [True] * 4


def test_fill_unknown_copies_nearest_known_frames():
    frames = np.arange(9)[:, None]
    known = np.array([1, 0, 0, 0, 0, 0, 0, 1, 1], bool)
    assert fill_unknown(frames, known)[:, 0].tolist() == [0, 0, 0, 0, 7, 7, 7, 7, 8]
    video = torch.arange(9.0).view(1, 1, 9, 1, 1)
    assert fill_unknown(video, known).flatten().tolist() == [0, 0, 0, 0, 7, 7, 7, 7, 8]


@pytest.mark.parametrize("count", [1, 2, 5, 9])
def test_random_training_masks_are_sora_style(count):
    rng = np.random.default_rng(0)
    kinds = set()
    for _ in range(200):
        known = random_known_latents(count, rng).tolist()
        assert not all(known)
        if any(known):
            kinds.add((known[0], known[-1]))
    if count >= 2:
        assert {(True, False), (False, True)} <= kinds
    if count >= 3:
        assert (True, True) in kinds  # both ends: a transition


def test_sdedit_start_step_matches_strength():
    scheduler = prepared_scheduler(build_scheduler(3.0), 20)
    assert start_step(scheduler, 1.0) == 0
    starts = [start_step(scheduler, s) for s in (0.9, 0.6, 0.3, 0.05)]
    assert starts == sorted(starts) and 0 < starts[0] and starts[-1] <= 19
    assert scheduler.sigmas[starts[1]] <= 0.6 < scheduler.sigmas[starts[1] - 1]

"""Colour transfer at seams: objects and backgrounds take the target's colours, flat areas stay flat."""

import numpy as np
import torch

from sora_core.engine.colour_transfer import colour_levels, transfer_colours


def scene(background, object_rgb, left: int, size: int = 32) -> np.ndarray:
    frame = np.zeros((size, size, 3), np.uint8)
    frame[:] = background
    frame[8:16, left : left + 8] = object_rgb
    return frame


def test_an_object_whose_channels_overlap_the_background_takes_the_target_colour():
    # Per-channel matching alone mixes object and background where their levels interleave: here the drifted
    # object's blue (12) sits below the background's (20), the target's object blue (30) above its background's.
    target = scene((10, 10, 20), (220, 30, 30), 4)
    drifted = scene((14, 12, 20), (200, 40, 12), 12)
    out = np.round(transfer_colours(drifted, colour_levels(target)))
    assert np.abs(out[8:16, 12:20] - (220, 30, 30)).max() <= 2  # the object, where the new frame has it
    assert np.abs(out[0, 0] - (10, 10, 20)).max() <= 2


def test_flat_areas_stay_flat_and_a_frame_matched_to_itself_is_unchanged():
    frame = scene((128, 128, 128), (40, 70, 230), 6)
    noisy = np.clip(frame + np.random.default_rng(0).normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
    out = np.round(transfer_colours(frame, colour_levels(noisy)))
    assert len(np.unique(out[20:].reshape(-1, 3), axis=0)) == 1  # no speckle on the flat background
    assert np.abs(transfer_colours(noisy, colour_levels(noisy)) - noisy).max() <= 1


def test_the_target_may_have_another_size():
    target = scene((10, 10, 10), (220, 30, 30), 0).repeat(2, axis=0).repeat(2, axis=1)  # 64 x 64, same shares
    out = transfer_colours(scene((0, 0, 0), (250, 140, 20), 0), colour_levels(target))
    assert out.shape == (32, 32, 3)
    assert np.abs(out[0, 20] - 10).max() <= 2 and np.abs(out[9, 2] - (220, 30, 30)).max() <= 2


def test_a_change_of_scene_keeps_its_contrast_instead_of_collapsing():
    # Monotone maps cannot swap dark and light: a white-on-black frame matched to black-on-white would merge.
    target = scene((245, 245, 245), (30, 190, 60), 0)
    out = transfer_colours(scene((0, 0, 0), (250, 140, 20), 0), colour_levels(target))
    assert np.abs(out[0, 20] - out[9, 2]).max() > 100  # object and background still apart
    assert np.abs(out.reshape(-1, 3).mean(0) - target.reshape(-1, 3).mean(0)).max() <= 1


def test_a_tensor_frame_comes_back_as_a_tensor_with_the_same_levels():
    target = scene((10, 10, 20), (220, 30, 30), 4)
    drifted = scene((14, 12, 20), (200, 40, 12), 12)
    levels = colour_levels(torch.from_numpy(target))
    out = transfer_colours(torch.from_numpy(drifted), levels)
    assert isinstance(out, torch.Tensor) and out.shape == drifted.shape
    assert np.array_equal(out.numpy(), transfer_colours(drifted, colour_levels(target)))

"""The reduced-precision self-check (engine/precision.py) with faults injected, so that a machine whose kernels are
right still proves the fallbacks: a wrong bfloat16 patch embedding (the Intel AMX fault of issue 27), a wrong
attention (a fault no single layer shows), a wrong oneDNN convolution; and fast mode, the page's switch and
training's --precision bf16 as each of them must react."""

import copy
import logging

import numpy as np
import pytest
import torch
from test_fast import psnr
from test_onednn import conv3d_names

from sora_core import SoraPipeline
from sora_core.engine import fast, onednn, precision
from sora_core.serving.ui import Page
from sora_core.training import train
from sora_core.training.config import TrainConfig

PROMPT = "a red ball bouncing on a black background"
SMALL = dict(num_frames=5, steps=8, seed=0)  # the bundled model at its size, fewer frames and steps


@pytest.fixture
def bfloat16_cpu(monkeypatch):
    """Fast mode tries bfloat16 on this CPU whatever it has (slow where it is not native, right all the same)."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)


@pytest.fixture
def wrong_patch_embedding(monkeypatch):
    """bfloat16 Conv3d with kernel (1, 4, 4) gives wrong values, as it does on Intel AMX CPUs with torch 2.13, as a
    bfloat16 module and under autocast (which casts below Python, so it is asked here)."""
    conv3d = torch.nn.functional.conv3d

    def faulty(x, weight, *args, **kwargs):
        out = conv3d(x, weight, *args, **kwargs)
        bfloat16 = x.dtype == torch.bfloat16 or torch.is_autocast_enabled("cpu")
        return -0.3 * out + 0.5 if bfloat16 and tuple(weight.shape[2:]) == (1, 4, 4) else out

    monkeypatch.setattr(torch.nn.functional, "conv3d", faulty)


def inject_wrong_attention(monkeypatch):
    """bfloat16 attention gives wrong values: no matmul or convolution layer shows it, the whole forward does."""
    attention = torch.nn.functional.scaled_dot_product_attention

    def faulty(query, *args, **kwargs):
        out = attention(query, *args, **kwargs)
        return out.flip(-2) if query.dtype == torch.bfloat16 else out

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", faulty)


@pytest.fixture
def wrong_attention(monkeypatch):
    inject_wrong_attention(monkeypatch)


def bundled():
    return SoraPipeline.from_pretrained("sora-tiny", device="cpu")


def test_a_wrong_bfloat16_layer_is_named_and_runs_in_float32(bfloat16_cpu, wrong_patch_embedding, caplog):
    pipe = bundled()
    with caplog.at_level(logging.WARNING, logger="sora_core"):
        model = pipe.fast_model
    assert model.bfloat16 and model.check.faulty == ("patch_embedding",) and model.passed
    assert "patch_embedding" in caplog.text and "runs in float32" in caplog.text
    assert pipe.fast_transformer.patch_embedding.weight.dtype == torch.float32
    assert pipe.fast_transformer.blocks[0].ffn.net[0].proj.weight.dtype == torch.bfloat16
    assert pipe.fast_transformer.dtype == torch.bfloat16  # the sampler still feeds it bfloat16
    full = pipe.generate(PROMPT, **SMALL).frames
    assert psnr(full, pipe.generate(PROMPT, fast=True, **SMALL).frames) >= 28
    # The injected fault is a real one: the same bfloat16 copy without the check draws something else (20.3 dB
    # on the bundled model, its image model drawing the first frame; the checked copy, over 28).
    pipe._fast_model = fast.FastModel(fast.to_bfloat16(copy.deepcopy(pipe.transformer)), bfloat16=True)
    assert psnr(full, pipe.generate(PROMPT, fast=True, **SMALL).frames) < 24


def test_a_fault_no_layer_shows_turns_bfloat16_off(bfloat16_cpu, wrong_attention, caplog):
    pipe = bundled()
    with caplog.at_level(logging.WARNING, logger="sora_core"):
        model = pipe.fast_model
    assert not model.bfloat16 and model.check.faulty == () and model.check.error > precision.MODEL_TOLERANCE
    assert not model.passed and "fast mode runs in float32" in caplog.text
    assert pipe.fast_transformer is pipe.transformer
    full = pipe.generate(PROMPT, **SMALL).frames
    assert psnr(full, pipe.generate(PROMPT, fast=True, **SMALL).frames) >= 28


def test_the_page_starts_fast_only_where_the_check_passed(bfloat16_cpu, monkeypatch):
    pipe = bundled()
    assert Page(pipe, api=None).fast_default is True
    assert "bfloat16, checked against float32" in Page(pipe, api=None).fast_label
    inject_wrong_attention(monkeypatch)
    faulty = bundled()
    assert Page(faulty, api=None).fast_default is False
    assert "bfloat16" not in Page(faulty, api=None).fast_label


def test_a_right_machine_finds_nothing_and_the_check_is_cheap(bfloat16_cpu):
    import time

    pipe = bundled()
    started = time.perf_counter()
    model = pipe.fast_model
    seconds = time.perf_counter() - started
    assert model.check.faulty == () and model.check.error < 0.02, model.check
    pipe.check_vae()
    assert pipe.onednn_faults == ()
    assert seconds < 5, f"the start-up check took {seconds:.1f} s"  # ~0.3 s measured; loose for a busy machine


def test_training_in_bfloat16_moves_a_wrong_layer_to_float32(wrong_patch_embedding, caplog):
    transformer = copy.deepcopy(bundled().transformer)
    inputs = precision.probe_inputs(transformer)
    with torch.no_grad():
        expected = transformer(**inputs, return_dict=False)[0]
    with caplog.at_level(logging.WARNING, logger="sora_core"):
        train.check_bfloat16(TrainConfig(precision="bf16"), transformer)
    assert "patch_embedding" in caplog.text
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        got = transformer(**inputs, return_dict=False)[0]
    assert precision.relative_error(got, expected) < 0.02


def test_training_in_bfloat16_refuses_a_model_still_off(wrong_attention):
    transformer = bundled().transformer
    with pytest.raises(SystemExit, match=r"^--precision bf16: bfloat16 is \d+% off float32 .* --precision fp32\.$"):
        train.check_bfloat16(TrainConfig(precision="bf16"), transformer)
    train.check_bfloat16(TrainConfig(precision="fp32"), transformer)  # float32 asks no check


def test_a_wrong_onednn_convolution_keeps_the_reference_kernel(monkeypatch, caplog):
    onednn_convolution = torch.mkldnn_convolution

    def faulty(x, weight, *args):
        out = onednn_convolution(x, weight, *args)
        return out * 0.5 if weight.shape[0] == weight.shape[1] and weight.shape[2] == 3 else out

    monkeypatch.setattr(torch, "mkldnn_convolution", faulty)
    pipe = bundled()
    latents = torch.randn(pipe.latent_shape(5, 32, 32), generator=torch.Generator().manual_seed(0))
    with caplog.at_level(logging.WARNING, logger="sora_core"):
        checked = pipe.decode_latents(latents)  # the VAE's first use: checked, then routed
    skipped = pipe.onednn_faults
    assert skipped and "oneDNN check" in caplog.text and skipped[0] in caplog.text
    onednn.route(pipe.vae, skip=conv3d_names(pipe.vae))
    reference = pipe.decode_latents(latents)
    onednn.route(pipe.vae)
    unchecked = pipe.decode_latents(latents)
    assert np.abs(reference.astype(int) - checked.astype(int)).max() <= 1
    assert np.abs(reference.astype(int) - unchecked.astype(int)).max() > 20


def test_a_check_that_cannot_run_leaves_fast_mode_in_float32(bfloat16_cpu, monkeypatch, caplog):
    """The check runs when the page is built: whatever goes wrong in it must not stop the Space from starting."""

    def broken(*args, **kwargs):
        raise RuntimeError("Input type (c10::BFloat16) and bias type (float) should be the same")

    monkeypatch.setattr(precision, "layer_records", broken)
    pipe = bundled()
    with caplog.at_level(logging.WARNING, logger="sora_core"):
        model = pipe.fast_model
    assert not model.bfloat16 and not model.passed and pipe.fast_transformer is pipe.transformer
    assert "bfloat16 check could not run (RuntimeError: Input type" in caplog.text
    assert Page(pipe, api=None).fast_default is False

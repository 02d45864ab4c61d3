"""Fast mode's transformer compiled ahead of time (serving/ahead.py), for real with AOTInductor on the CPU: the
compiled model gives fast mode's frames (to float rounding) at any grid size within the preset's limits, on the
plain and the VACE transformer; other calls run the plain forward, the exact path is untouched, and a failure leaves
fast mode uncompiled. The capture is ZeroGPU's own `spaces.aoti_capture`; its `aoti_compile` needs a CUDA build of
torch, so compiling is torch's AOTInductor on the CPU here."""

import ast
import contextlib
import importlib.util
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
import torch
from conftest import tiny_lora

from sora_core import SoraPipeline, Video
from sora_core.engine.fast import FastSettings
from sora_core.serving import ahead

pytestmark = pytest.mark.slow  # AOTInductor compiles

PROMPT = "a red ball moving right on a black background"


def zero_gpu_capture():
    """ZeroGPU's own `spaces.aoti_capture`, from the installed spaces package: its module imports CUDA-only parts,
    so the function is compiled from that file's source alone (it needs only `contextlib` and `patch`)."""
    path = Path(importlib.util.find_spec("spaces").origin).parent / "zero" / "torch" / "aoti.py"
    tree = ast.parse(path.read_text())
    function = next(node for node in tree.body if getattr(node, "name", None) == "aoti_capture")
    namespace = {"contextlib": contextlib, "patch": patch, "torch": torch, "Any": Any, "Callable": Callable}
    exec(compile(ast.Module([function], []), str(path), "exec"), namespace)
    return namespace["aoti_capture"]


capture = zero_gpu_capture()


class Counted:
    """An AOTInductor model compiled from the exported program, counting its calls."""

    def __init__(self, exported):
        package = torch._inductor.aoti_compile_and_package(exported, package_path=tempfile.mkdtemp() + "/model.pt2")
        self.model, self.calls = torch._inductor.aoti_load_package(package), 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.model(*args, **kwargs)


AOTI = ahead.Aoti(capture=capture, compile=Counted)


def wan_like(checkpoint, lora_folder) -> SoraPipeline:
    """The tiny checkpoint with fast mode as on the Wan presets: a step-distilled LoRA, no step cache, guidance 1."""
    pipe = SoraPipeline.from_pretrained(str(checkpoint), device="cpu")
    lora = tiny_lora(pipe.transformer, lora_folder)
    pipe.preset = replace(
        pipe.preset, fast=FastSettings(cache="", steps=3, guidance=1.0, lora=lora, bfloat16=False), max_frames=33
    )
    return pipe


def same_frames(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to float rounding: the compiled kernels sum in another order (transformer outputs agree to ~1e-6),
    which moves a rare pixel by a few levels after decoding and colour matching (10 of 59,904 values by 2-3)."""
    gap = np.abs(a.astype(int) - b.astype(int))
    return gap.max() <= 4 and (gap > 1).mean() <= 0.001


SIZES = [dict(num_frames=9, height=32, width=32), dict(num_frames=1, height=48, width=32)]


@pytest.fixture(scope="module")
def compiled(tiny_checkpoint, tmp_path_factory):
    """(pipe, fast frames per size before compiling, full-quality frames before, the log line)."""
    pipe = wan_like(tiny_checkpoint, tmp_path_factory.mktemp("lora"))
    fast_before = [pipe.generate(PROMPT, seed=3, fast=True, **size).frames for size in SIZES]
    full_before = pipe.generate(PROMPT, seed=3, **SIZES[0]).frames
    message = ahead.compile_fast_transformer(pipe, aoti=AOTI)
    return pipe, fast_before, full_before, message


def test_compiled_fast_mode_gives_the_same_frames_at_every_size(compiled):
    pipe, fast_before, _, message = compiled
    assert message == "Fast mode's transformer is compiled ahead of time."
    forward = pipe.fast_transformer.forward
    assert isinstance(forward, ahead.AheadOfTime)
    for size, before in zip(SIZES, fast_before):
        calls = forward.compiled.calls
        after = pipe.generate(PROMPT, seed=3, fast=True, **size).frames
        assert forward.compiled.calls == calls + 3, "every step went through the compiled model"
        assert same_frames(after, before), size


def test_the_exact_path_stays_plain(compiled):
    pipe, _, full_before, _ = compiled
    assert pipe.transformer is not pipe.fast_transformer
    assert "forward" not in vars(pipe.transformer)
    assert np.array_equal(pipe.generate(PROMPT, seed=3, **SIZES[0]).frames, full_before)


def test_calls_the_compiled_model_was_not_made_for_run_the_plain_forward(compiled, tiny_checkpoint, tmp_path):
    pipe, *_ = compiled
    forward = pipe.fast_transformer.forward
    plain = wan_like(tiny_checkpoint, tmp_path)  # the same random LoRA (seeded), uncompiled
    plain.fast_transformer.load_state_dict(pipe.fast_transformer.state_dict())
    options = dict(guidance=3.0, **SIZES[0])  # guidance back on: cond and uncond as a batch of two
    calls = forward.compiled.calls
    ours = pipe.generate(PROMPT, seed=3, fast=True, **options).frames
    assert forward.compiled.calls == calls
    assert np.array_equal(ours, plain.generate(PROMPT, seed=3, fast=True, **options).frames)


def test_grid_limits_follow_the_preset(compiled):
    pipe, *_ = compiled
    limits = ahead.grid_limits(pipe)
    assert limits.frames == (33 - 1) // pipe.temporal_stride + 1
    assert limits.patched_height == pipe.preset.max_height // pipe.spatial_stride
    forward = pipe.fast_transformer.forward
    example = forward.example["hidden_states"]
    grid = torch.zeros(example[2][:2] + (limits.frames, 2, 4))
    assert forward.grid_fits(grid, example)
    assert not forward.grid_fits(torch.zeros(example[2][:2] + (limits.frames + 1, 2, 4)), example)
    assert not forward.grid_fits(torch.zeros(example[2][:2] + (1, 3, 4)), example), "half a patch"
    assert not forward.grid_fits(grid.double(), example)


def test_a_failed_compile_leaves_fast_mode_plain(tiny_checkpoint, tmp_path):
    pipe = wan_like(tiny_checkpoint, tmp_path)

    def broken(exported):
        raise RuntimeError("no C++ compiler")

    message = ahead.compile_fast_transformer(pipe, aoti=ahead.Aoti(capture=capture, compile=broken))
    assert message == "Fast mode runs uncompiled: compiling failed (RuntimeError: no C++ compiler)."
    assert "forward" not in vars(pipe.fast_transformer)
    assert pipe.generate(PROMPT, seed=3, fast=True, **SIZES[0]).frames.shape == (9, 32, 32, 3)


def test_not_compiled_where_it_would_not_help(tiny_checkpoint):
    caching = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")
    caching.preset = replace(caching.preset, fast=FastSettings(cache="taylorseer"))
    assert "taylorseer step cache" in ahead.compile_fast_transformer(caching, aoti=AOTI)
    shared = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")
    shared.preset = replace(shared.preset, fast=FastSettings(cache="", bfloat16=False))
    assert "exact transformer" in ahead.compile_fast_transformer(shared, aoti=AOTI)
    for pipe in (caching, shared):
        assert "forward" not in vars(pipe.fast_transformer)


def test_on_a_cpu_build_of_torch_the_space_serves_uncompiled(tiny_checkpoint, tmp_path):
    pipe = wan_like(tiny_checkpoint, tmp_path)
    with patch.object(torch.version, "cuda", None):  # a CPU build, whichever torch runs the tests
        message = ahead.compile_on_zero_gpu(pipe)  # spaces.GPU is a no-op off Spaces; its AOTI needs CUDA torch
    assert message == (
        "Fast mode runs uncompiled: compiling failed (RuntimeError: ZeroGPU's AOTI helpers need a CUDA build of torch)."
    )
    assert "forward" not in vars(pipe.fast_transformer)


def test_a_vace_transformer_compiles_with_its_control_stream(tiny_vace_checkpoint, tmp_path):
    """The Space's GPU model is the VACE preset: its control stream shares the latent grid's dynamic sizes."""
    pipe = wan_like(tiny_vace_checkpoint, tmp_path)
    source = Video(pipe.generate(PROMPT, seed=1, num_frames=5, height=32, width=32).frames, fps=8)
    made = {
        "generate": lambda: pipe.generate(PROMPT, seed=3, fast=True, **SIZES[0]).frames,
        "extend": lambda: pipe.extend(source, PROMPT, num_frames=8, seed=3, fast=True, height=48, width=32).frames,
    }
    before = {task: make() for task, make in made.items()}
    assert ahead.compile_fast_transformer(pipe, aoti=AOTI) == "Fast mode's transformer is compiled ahead of time."
    assert "control_hidden_states" in pipe.fast_transformer.forward.example
    for task, make in made.items():
        calls = pipe.fast_transformer.forward.compiled.calls
        after = make()
        assert pipe.fast_transformer.forward.compiled.calls == calls + 3, task
        assert same_frames(after, before[task]), task

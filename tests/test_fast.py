"""Fast mode (engine/fast.py): caches leave no state behind, the bfloat16 fallback, the LoRA wiring against
diffusers, the GPU estimate, and the quality bound on the bundled model."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import tiny_lora

from sora_core import SoraPipeline
from sora_core.engine import fast
from sora_core.engine.fast import FastSettings
from sora_core.engine.workflows import Grid
from sora_core.serving import gpu_time

PROMPT = "a red ball bouncing on a black background"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def leftovers(pipe) -> list[str]:
    """What fast mode could leave on the pipeline's modules: cache hooks."""
    found = []
    for name, transformer in (("transformer", pipe.transformer), ("fast", pipe.fast_transformer)):
        if transformer.is_cache_enabled:
            found.append(f"{name}: cache enabled")
    return found


@pytest.fixture
def fast_pipe(tiny_checkpoint):
    """A fresh tiny pipeline per test: fast mode builds and caches its own transformer."""
    return SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")


def test_fast_false_is_unchanged_by_fast_calls_before_it(fast_pipe):
    settings = dict(num_frames=5, height=32, width=32, steps=8, seed=3)
    before = fast_pipe.generate(PROMPT, **settings).frames
    made_fast = fast_pipe.generate(PROMPT, fast=True, **settings)
    after = fast_pipe.generate(PROMPT, **settings).frames
    np.testing.assert_array_equal(before, after)
    assert made_fast.metadata["fast"] is True
    assert leftovers(fast_pipe) == []


def test_two_fast_calls_in_a_row_agree(fast_pipe):
    settings = dict(num_frames=5, height=32, width=32, steps=8, seed=5, fast=True)
    first = fast_pipe.generate(PROMPT, **settings).frames
    second = fast_pipe.generate(PROMPT, **settings).frames
    np.testing.assert_array_equal(first, second)


def test_a_stopped_fast_call_leaves_nothing_behind(fast_pipe):
    settings = dict(num_frames=5, height=32, width=32, steps=8, seed=7)
    reference_fast = fast_pipe.generate(PROMPT, fast=True, **settings).frames
    reference = fast_pipe.generate(PROMPT, **settings).frames
    calls = iter(range(100))
    with pytest.raises(InterruptedError):
        fast_pipe.generate(PROMPT, fast=True, should_stop=lambda: next(calls) == 4, **settings)
    assert leftovers(fast_pipe) == []
    np.testing.assert_array_equal(fast_pipe.generate(PROMPT, **settings).frames, reference)
    np.testing.assert_array_equal(fast_pipe.generate(PROMPT, fast=True, **settings).frames, reference_fast)


def test_the_step_cache_skips_transformer_blocks(fast_pipe):
    """With TaylorSeer at interval 2 after a warm-up of 2, 8 steps run the blocks 2 + 3 times, not 8."""
    fast_pipe.preset = replace(fast_pipe.preset, fast=FastSettings(cache_warmup=2, bfloat16=False))
    block_calls = []
    fast_pipe.transformer.blocks[0].ffn.register_forward_pre_hook(lambda module, args: block_calls.append(1))
    fast_pipe.generate(PROMPT, num_frames=5, height=32, width=32, steps=8, fast=True)
    assert len(block_calls) == fast.full_calls(fast_pipe.preset.fast, 8) == 5
    block_calls.clear()
    fast_pipe.generate(PROMPT, num_frames=5, height=32, width=32, steps=8)
    assert len(block_calls) == 8


def test_bfloat16_only_where_the_cpu_has_it(fast_pipe, monkeypatch):
    """Forced fallback: a CPU without AMX or AVX-512 BF16 keeps fast mode in float32 on the same transformer."""
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert not fast.native_bfloat16("cpu")
    assert fast_pipe.fast_transformer is fast_pipe.transformer
    video = fast_pipe.generate(PROMPT, num_frames=5, height=32, width=32, steps=4, fast=True)
    assert video.num_frames == 5


def test_bfloat16_copy_keeps_the_float32_modules(fast_pipe):
    original = {name: p.clone() for name, p in fast_pipe.transformer.named_parameters()}
    copy = fast.build_transformer(fast_pipe.transformer, FastSettings(), "cpu", force_bfloat16=True).transformer
    assert copy is not fast_pipe.transformer
    keep = fast_pipe.transformer._keep_in_fp32_modules
    for name, parameter in copy.named_parameters():
        kept = any(part in keep for part in name.split("."))
        assert parameter.dtype == (torch.float32 if kept else torch.bfloat16), name
    for name, parameter in fast_pipe.transformer.named_parameters():  # the exact path's weights are untouched
        assert parameter.dtype == torch.float32
        torch.testing.assert_close(parameter, original[name], rtol=0, atol=0)


def test_lora_fused_as_diffusers_fuses_it(tiny_checkpoint, tmp_path):
    from diffusers import WanPipeline

    ours = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")
    lora = tiny_lora(ours.transformer, tmp_path / "lora")
    ours.preset = replace(ours.preset, fast=FastSettings(cache="", lora=lora, bfloat16=False))
    theirs = WanPipeline.from_pretrained(tiny_checkpoint, torch_dtype=torch.float32)
    theirs.load_lora_weights(lora.source, weight_name=lora.weight_name)
    theirs.fuse_lora(lora_scale=lora.scale)
    hidden = torch.randn(1, ours.transformer.config.in_channels, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    context = torch.randn(1, 6, ours.transformer.config.text_dim, generator=torch.Generator().manual_seed(2))
    step = torch.tensor([500.0])
    with torch.no_grad():
        expected = theirs.transformer(hidden, step, context, return_dict=False)[0]
        got = ours.fast_transformer(hidden, step, context, return_dict=False)[0]
        plain = ours.transformer(hidden, step, context, return_dict=False)[0]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert (got - plain).abs().max() > 1e-3, "the LoRA changes the fast transformer"
    assert not any("lora" in name for name, _ in ours.fast_transformer.named_parameters()), "fused and unloaded"


def test_a_lora_for_the_base_model_loads_into_its_vace_transformer(tiny_checkpoint, tiny_vace_pipe, tmp_path):
    base = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")
    lora = tiny_lora(base.transformer, tmp_path / "lora")
    vace = fast.build_transformer(
        tiny_vace_pipe.transformer, FastSettings(lora=lora, bfloat16=False), "cpu"
    ).transformer
    changed = [
        name
        for (name, new), (_, old) in zip(vace.named_parameters(), tiny_vace_pipe.transformer.named_parameters())
        if not torch.equal(new, old)
    ]
    assert changed and all(name.startswith("blocks.") for name in changed)


def test_fast_defaults_come_from_the_preset_and_asked_values_win(tiny_pipe):
    preset = replace(tiny_pipe.preset, fast=FastSettings(steps=4, guidance=1.0))
    grid = Grid(preset, tiny_pipe.spatial_stride, tiny_pipe.temporal_stride)
    from sora_core.engine.requests import GenerateRequest, Options
    from sora_core.engine.workflows import plan

    quick = plan(grid, GenerateRequest(PROMPT, 5, options=Options(fast=True))).settings
    assert (quick.steps, quick.guidance, quick.fast) == (4, 1.0, True)
    asked = plan(grid, GenerateRequest(PROMPT, 5, options=Options(fast=True, steps=9, guidance=3.0))).settings
    assert (asked.steps, asked.guidance) == (9, 3.0)
    full = plan(grid, GenerateRequest(PROMPT, 5, options=Options())).settings
    assert (full.steps, full.guidance, full.fast) == (preset.steps, preset.guidance, False)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_fast_must_be_a_switch(tiny_pipe, value):
    with pytest.raises(ValueError, match=r"^fast must be True or False; got"):
        tiny_pipe.generate(PROMPT, num_frames=5, fast=value)


def test_the_gpu_estimate_knows_fast():
    preset = replace(SoraPipeline.__init__.__globals__["preset_for"]("wan2.1-t2v-1.3b"), fast=FastSettings())
    full = gpu_time.gpu_seconds(preset, 81, 480, 832, 50)
    quick = gpu_time.gpu_seconds(preset, 81, 480, 832, 50, full_steps=fast.full_calls(preset.fast, 50))
    assert quick < full  # how many calls run in full is counted on real blocks in test_the_step_cache_skips...


@pytest.mark.slow
def test_fast_frames_stay_close_to_full_quality_on_the_bundled_model():
    """The bundled model at its defaults: fast frames within 28 dB PSNR of full quality, same seed."""
    pipe = SoraPipeline.from_pretrained("sora-tiny", device="cpu")
    full = pipe.generate(PROMPT, seed=0).frames
    quick = pipe.generate(PROMPT, seed=0, fast=True).frames
    assert psnr(full, quick) >= 28


@pytest.mark.slow
def test_the_gpu_benchmark_runs_at_a_tiny_size():
    """benchmarks/bench_gpu.py is what a lent GPU runs; here its code path at the smallest shapes, on the CPU."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gpu.py"
    for shape, side in (("tiny", "32"), ("tiny-wan2.2", "64")):  # a Wan2.1- and a Wan2.2-shaped pipeline
        tiny = ["--shape", shape, "--device", "cpu", "--height", side, "--width", side, "--frames", "9", "--steps", "4"]
        done = subprocess.run([sys.executable, str(script), *tiny], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
        assert [row.split("|")[1].strip() for row in rows[1:]] == ["WanPipeline", "ours, full", "ours, fast"]
        assert rows[-1].rstrip(" |").endswith("dB")

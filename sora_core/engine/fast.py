"""Fast mode: the same request in less time, through library features chosen per preset by measurement.

- Step caching: diffusers' own hooks on the transformer (`enable_cache` with TaylorSeer by default), put on for
  one call and taken off in a `finally`, so no state outlives a request, stopped or not.
- bfloat16 weights and activations where the hardware multiplies bfloat16 natively (a GPU, or a CPU with AMX or
  AVX-512 BF16), keeping in float32 the modules diffusers marks to keep; float32 elsewhere, where bfloat16 runs
  10-60x slower.
- A step-distilled LoRA where the preset names one (Wan 2.1 1.3B): fused into a copy of the transformer, with the
  preset's fewer steps and guidance 1 as the defaults.

Fused LoRA weights and bfloat16 change the module they touch, so fast mode runs its own transformer
(`fast_transformer`), built once; `fast=False` keeps the exact path, untouched.
"""

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig, TaylorSeerCacheConfig

from . import precision
from .precision import PrecisionCheck


@dataclass(frozen=True)
class FastLora:
    """A step-distilled LoRA: a Hub repo id (pinned) or a local folder, and the file in it."""

    source: str
    weight_name: str
    revision: str | None = None
    scale: float = 1.0


@dataclass(frozen=True)
class FastSettings:
    """What `fast=True` does on a preset. `cache`: "taylorseer", "first_block", "mag" or "" (none)."""

    cache: str = "taylorseer"
    cache_interval: int = 2  # TaylorSeer: one full transformer call every `cache_interval` steps
    # TaylorSeer: the first steps always run in full. On sora-tiny (20 steps, 8 prompts) the fast frames' lowest
    # PSNR against full quality was 25.3 dB after 3 such steps, 27.1 after 4 and 31.4 after 6, at the same speed.
    cache_warmup: int = 6
    cache_threshold: float = 0.1  # First Block Cache / MagCache: how much change a skipped step may hide
    mag_ratios: tuple[float, ...] = ()  # MagCache's calibrated ratios for this checkpoint
    steps: int | None = None  # None: the request's steps
    guidance: float | None = None  # None: the request's guidance
    lora: FastLora | None = None
    bfloat16: bool = True  # where the hardware has native bfloat16 matmuls


def native_bfloat16(device) -> bool:
    """True where bfloat16 matmuls beat float32: a CUDA GPU, or a CPU with AMX or AVX-512 BF16."""
    if torch.device(device).type == "cuda":
        return True
    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def cache_config(settings: FastSettings, steps: int):
    """The diffusers cache config for a call of `steps` transformer calls; None when the preset caches nothing."""
    if settings.cache == "taylorseer":
        return TaylorSeerCacheConfig(
            cache_interval=settings.cache_interval,
            disable_cache_before_step=settings.cache_warmup,
            taylor_factors_dtype=torch.float32,
            use_lite_mode=True,  # blocks skipped, the output projection predicted: the least memory
        )
    if settings.cache == "first_block":
        return FirstBlockCacheConfig(threshold=settings.cache_threshold)
    if settings.cache == "mag":
        return MagCacheConfig(
            threshold=settings.cache_threshold, mag_ratios=list(settings.mag_ratios), num_inference_steps=steps
        )
    if settings.cache:
        raise ValueError(f"Unknown fast-mode cache {settings.cache!r}: use taylorseer, first_block, mag or ''.")
    return None


def full_calls(settings: FastSettings, steps: int) -> int:
    """How many of `steps` transformer calls fast mode runs in full (for the GPU time estimate): TaylorSeer's
    warm-up, then one every `cache_interval`; the threshold caches decide as they go, so count them all."""
    if settings.cache != "taylorseer" or steps <= settings.cache_warmup:
        return steps
    return settings.cache_warmup + math.ceil((steps - settings.cache_warmup) / settings.cache_interval)


@contextmanager
def step_cache(transformer, settings: FastSettings, steps: int):
    """The preset's step cache on `transformer` for one sampling call; always taken off again, so a request that
    fails or is stopped leaves nothing behind for the next one."""
    config = cache_config(settings, steps)
    if config is None or not hasattr(transformer, "enable_cache"):
        yield
        return
    transformer.enable_cache(config)
    try:
        with transformer.cache_context("fast"):  # cond and uncond run as one batch: one context
            yield
    finally:
        transformer.disable_cache()


def to_bfloat16(transformer):
    """The transformer in bfloat16, except what diffusers keeps in float32 (`_keep_in_fp32_modules`: the time
    embedding, norms, the modulation table), matched by name part as diffusers matches them. Parameter by parameter:
    `ModelMixin.to(dtype)` would cast those too (and warn)."""
    keep = set(getattr(transformer, "_keep_in_fp32_modules", None) or ())
    for name, parameter in transformer.named_parameters():
        if parameter.is_floating_point() and not keep & set(name.split(".")):
            parameter.data = parameter.data.to(torch.bfloat16)
    return transformer


def fuse_lora(transformer, lora: FastLora):
    """Load a LoRA the library's way (WanLoraLoaderMixin reads diffusers, ComfyUI and original Wan key formats),
    fuse it at `lora.scale` and drop the adapter, leaving plain fused weights."""
    from diffusers.loaders import WanLoraLoaderMixin

    state_dict = WanLoraLoaderMixin.lora_state_dict(lora.source, weight_name=lora.weight_name, revision=lora.revision)
    if isinstance(state_dict, tuple):  # some versions return (state_dict, metadata)
        state_dict = state_dict[0]
    transformer.load_lora_adapter(state_dict, prefix="transformer", adapter_name="fast")
    transformer.fuse_lora(lora_scale=lora.scale)
    transformer.unload_lora()
    return transformer


@dataclass(frozen=True)
class FastModel:
    """Fast mode's transformer as built on this machine, and what its precision checks found."""

    transformer: object
    bfloat16: bool  # the transformer computes in bfloat16 (checked against float32: `check`)
    check: PrecisionCheck | None = None  # None where bfloat16 was not tried

    @property
    def passed(self) -> bool:
        """Fast mode computes what float32 computes here, to rounding (after any layer moved to float32)."""
        return self.check is None or self.check.usable


def wants_bfloat16(transformer, settings: FastSettings, device, force_bfloat16: bool | None = None) -> bool:
    """bfloat16 is worth trying: the preset allows it, the weights are float32, the hardware multiplies it
    natively (`force_bfloat16` overrides that, for tests)."""
    native = native_bfloat16(device) if force_bfloat16 is None else force_bfloat16
    return native and settings.bfloat16 and transformer.dtype == torch.float32


def build_transformer(transformer, settings: FastSettings, device, force_bfloat16: bool | None = None) -> FastModel:
    """Fast mode's transformer: `transformer` itself when fast mode changes no weights, else a copy (bfloat16
    and/or a fused LoRA). bfloat16 is checked against float32 first (engine/precision.py): faulty layers run in
    float32; if the whole forward is still off, the copy stays in float32, with one log line."""
    bfloat16 = wants_bfloat16(transformer, settings, device, force_bfloat16)
    if not bfloat16 and settings.lora is None:
        return FastModel(transformer, bfloat16=False)
    fast = copy.deepcopy(transformer)
    if settings.lora is not None:
        fast = fuse_lora(fast, settings.lora)
    if not bfloat16:
        return FastModel(fast, bfloat16=False)
    keep = set(getattr(transformer, "_keep_in_fp32_modules", None) or ())
    reference = copy.deepcopy(fast) if settings.lora is not None else None  # to fall back to, unrounded
    try:
        fast, check = precision.check_bfloat16(fast, to_bfloat16, skip=lambda name: bool(keep & set(name.split("."))))
    except Exception as error:  # a check that cannot run proves nothing: float32, and the page starts without Fast
        precision.log.warning(
            f"bfloat16 check could not run ({type(error).__name__}: {error}); fast mode runs in float32."
        )
        check = PrecisionCheck((), (), float("inf"))
    if check.usable:
        return FastModel(fast, bfloat16=True, check=check)
    if check.error != float("inf"):
        precision.log.warning(
            f"bfloat16 check: the transformer is {check.error:.0%} off float32 on this machine; fast mode runs in "
            "float32."
        )
    return FastModel(reference or transformer, bfloat16=False, check=check)


CACHE_NAMES = {"taylorseer": "TaylorSeer", "first_block": "First Block Cache", "mag": "MagCache"}


def describe(settings: FastSettings, model: FastModel | None) -> str:
    """What fast mode does on this pipeline, in a few words (the page's switch label); `model`: as built and
    checked here, or None where it is built at the first fast call (a GPU: bfloat16, checked then)."""
    parts = []
    if settings.cache:
        parts.append(f"{CACHE_NAMES.get(settings.cache, settings.cache)} step cache")
    if settings.lora is not None:
        parts.append(f"distilled LoRA, {settings.steps} steps" if settings.steps else "distilled LoRA")
    if model is None and settings.bfloat16:
        parts.append("bfloat16, checked against float32")
    elif model is not None and model.bfloat16:
        kept = f" ({len(model.check.faulty)} layers in float32)" if model.check.faulty else ""
        parts.append("bfloat16" + kept + ", checked against float32")
    return "Fast: " + (", ".join(parts) or "the same computation") + "."

"""Fast mode's transformer compiled ahead of time (AOTInductor) on ZeroGPU, once, at start-up.

ZeroGPU's recipe (`spaces.aoti_capture`, `aoti_compile`): capture one real call of the transformer, export it with
the latent grid's frames, height and width dynamic (`torch.export`), compile it inside a GPU call, and put the
compiled model in as the fast transformer's `forward`. Where `spaces.aoti_apply` would also empty the module's
parameters, we keep them: a call the compiled model was not made for (a batch of two when a fast request turns
guidance back on, a grid past the preset's limits) runs the plain forward instead of failing. The price is a second
copy of the fast transformer's weights, the compiled model's own (~2.8 GB in bfloat16 for Wan 2.1 1.3B's DiT,
~3.9 GB for its VACE variant); `fast=False` keeps using the untouched exact transformer.

Only where fast mode caches no steps (the Wan presets: a step-distilled LoRA, 6 steps, guidance 1): the step-cache
hooks sit on the transformer's blocks, which a compiled forward never calls. Any failure leaves fast mode uncompiled.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..engine.pipeline import SoraPipeline

COMPILE_SECONDS = 1500  # ZeroGPU allows this long a GPU call at start-up; compiling a 1.3B DiT takes minutes
GRID_INPUTS = ("hidden_states", "control_hidden_states")  # (B, C, F, h, w): the latent grid, and VACE's control


@dataclass(frozen=True)
class Aoti:
    """The two library calls: `capture(module)`, a context manager whose value gets the module's next call's `args`
    and `kwargs` (that call does not run), and `compile(exported_program)`, which returns a callable model."""

    capture: Callable
    compile: Callable


def spaces_aoti() -> Aoti:
    import spaces  # ZeroGPU's package

    if torch.version.cuda is None:
        raise RuntimeError("ZeroGPU's AOTI helpers need a CUDA build of torch")
    return Aoti(capture=spaces.aoti_capture, compile=spaces.aoti_compile)


def reason_not_to_compile(pipe: SoraPipeline) -> str:
    """Why fast mode stays uncompiled on this pipeline; "" when compiling is worth it."""
    if pipe.preset.fast.cache:
        return f"fast mode's {pipe.preset.fast.cache} step cache works on the blocks, which a compiled forward skips"
    if pipe.fast_transformer is pipe.transformer:
        return "fast mode changes no weights here, so it runs the exact transformer, which stays plain"
    return ""


@dataclass(frozen=True)
class GridLimits:
    """The latent grids the compiled model takes: 1 to `frames` latent frames, height and width in patches."""

    frames: int
    patched_height: int
    patched_width: int


def grid_limits(pipe: SoraPipeline) -> GridLimits:
    preset = pipe.preset
    return GridLimits(
        frames=(preset.max_frames - 1) // pipe.temporal_stride + 1,
        patched_height=preset.max_height // pipe.spatial_stride,
        patched_width=preset.max_width // pipe.spatial_stride,
    )


def capture_call(pipe: SoraPipeline, capture: Callable) -> dict:
    """The fast transformer's first call in a fast `generate` at the preset's defaults, as keyword arguments."""
    with capture(pipe.fast_transformer) as call:
        pipe.generate("a red ball", steps=1, fast=True)
    if call.args or not call.kwargs:
        raise RuntimeError("the transformer was not called with keyword arguments only")
    return dict(call.kwargs)


def dynamic_shapes(pipe: SoraPipeline, kwargs: dict, limits: GridLimits) -> dict:
    """torch.export's dynamic shapes: the grid's frames, height and width (whole patches); the rest as captured."""
    _, patch_h, patch_w = pipe.fast_transformer.config.patch_size
    frames = torch.export.Dim("latent_frames", min=1, max=limits.frames)
    height = torch.export.Dim("patched_height", min=1, max=limits.patched_height)
    width = torch.export.Dim("patched_width", min=1, max=limits.patched_width)
    grid = {2: frames, 3: patch_h * height, 4: patch_w * width}
    return {name: grid if name in GRID_INPUTS else None for name in kwargs}


class AheadOfTime:
    """A transformer's `forward`: the compiled model for the calls it was made for, the plain forward otherwise."""

    def __init__(self, compiled: Callable, plain: Callable, example: dict, limits: GridLimits, patch: tuple):
        self.compiled, self.plain, self.limits, self.patch = compiled, plain, limits, patch
        self.example = example  # the captured call's signatures (`signature`), by argument name

    def fits(self, kwargs: dict) -> bool:
        if kwargs.keys() != self.example.keys():
            return False
        for name, value in kwargs.items():
            if name in GRID_INPUTS:
                if not self.grid_fits(value, self.example[name]):
                    return False
            elif signature(value) != self.example[name]:
                return False
        return True

    def grid_fits(self, grid, example) -> bool:
        if not isinstance(grid, torch.Tensor) or grid.ndim != 5:
            return False
        dtype, device, shape = example
        if (grid.dtype, grid.device, tuple(grid.shape[:2])) != (dtype, device, shape[:2]):
            return False
        frames, height, width = grid.shape[2:]
        _, patch_h, patch_w = self.patch
        limits = self.limits
        return (
            frames <= limits.frames
            and height % patch_h == 0
            and width % patch_w == 0
            and height // patch_h <= limits.patched_height
            and width // patch_w <= limits.patched_width
        )

    def __call__(self, *args, **kwargs):
        if not args and self.fits(kwargs):
            return self.compiled(**kwargs)
        return self.plain(*args, **kwargs)


def signature(value):
    """What a call's argument must match to reuse the compiled model: a tensor's dtype, device and shape (the grid's
    first two dimensions only); any other value itself."""
    if isinstance(value, torch.Tensor):
        return (value.dtype, value.device, tuple(value.shape))
    return ("value", value)


def compile_transformer(pipe: SoraPipeline, aoti: Aoti):
    """Capture, export and compile fast mode's transformer: (compiled model, the captured call's signatures). Runs
    in the GPU call, which hands back no tensors: ZeroGPU pickles what it returns."""
    kwargs = capture_call(pipe, aoti.capture)
    shapes = dynamic_shapes(pipe, kwargs, grid_limits(pipe))
    exported = torch.export.export(pipe.fast_transformer, args=(), kwargs=kwargs, dynamic_shapes=shapes)
    return aoti.compile(exported), {name: signature(value) for name, value in kwargs.items()}


def compile_fast_transformer(pipe: SoraPipeline, gpu: Callable = lambda f: f, aoti: Aoti | None = None) -> str:
    """Compile fast mode's transformer and put it in; returns one line for the log. `gpu` wraps the compiling call
    (ZeroGPU: `spaces.GPU(duration=COMPILE_SECONDS)`). Whatever fails, fast mode keeps its plain transformer."""
    reason = reason_not_to_compile(pipe)
    if reason:
        return f"Fast mode runs uncompiled: {reason}."
    try:
        aoti = aoti or spaces_aoti()
        compiled, example = gpu(compile_transformer)(pipe, aoti)
    except Exception as error:  # compiling is an optimisation: report it and serve uncompiled
        return f"Fast mode runs uncompiled: compiling failed ({type(error).__name__}: {error})."
    transformer = pipe.fast_transformer
    plain = type(transformer).forward.__get__(transformer)
    patch = tuple(transformer.config.patch_size)
    transformer.forward = AheadOfTime(compiled, plain, example, grid_limits(pipe), patch)
    return "Fast mode's transformer is compiled ahead of time."


def compile_on_zero_gpu(pipe: SoraPipeline) -> str:
    """`compile_fast_transformer` in one ZeroGPU call at start-up (app.py calls it where SPACES_ZERO_GPU is set)."""
    try:
        import spaces
    except ImportError:
        return "Fast mode runs uncompiled: the spaces package is not installed."
    return compile_fast_transformer(pipe, gpu=spaces.GPU(duration=COMPILE_SECONDS))

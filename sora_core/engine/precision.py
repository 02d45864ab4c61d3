"""Reduced precision checked against float32 on the machine at hand, before it is trusted.

bfloat16 kernels are not right everywhere. On a 2-core Intel CPU with AMX (torch 2.13.0+cpu) a bfloat16 `Conv3d`
whose kernel and stride are (1, 4, 4) -- sora-tiny's patch embedding -- returns values 121 % off float32, as a
bfloat16 module and under autocast alike, while the same layer is right on AMD CPUs with AVX-512 BF16 .
So each reduced-precision path runs once on a small fixed input and is compared with float32:

- `check_bfloat16`: every matmul / convolution layer that would run in bfloat16, one by one on the input a float32
  forward hands it; a layer off by more than LAYER_TOLERANCE is named, and then runs in float32
  (`run_in_float32`). Then the whole forward with those layers in float32 against float32: over MODEL_TOLERANCE
  (a fault outside the layers, in attention or a norm), bfloat16 is not to be used at all.
- `onednn.faults` uses `relative_error` and the same log for the VAE's oneDNN convolutions.

Two ways of running in bfloat16 are checked the same way: `cast` (fast mode: bfloat16 weights and activations)
and `autocast` (training's `--precision bf16`).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

log = logging.getLogger("sora_core")

# A bfloat16 layer rounds to about 0.4 % (measured 0.3 % on matmuls, 0.3 % on right convolutions); the fault seen
# was 121 %.
LAYER_TOLERANCE = 0.05
MODEL_TOLERANCE = 0.05  # sora-tiny's whole forward: 0.7 % on an AMD CPU with AVX-512 BF16
LAYERS = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)


@dataclass(frozen=True)
class PrecisionCheck:
    """What the check found: `faulty` layers (they run in float32) and the whole forward's relative error with
    them in float32. `usable`: bfloat16 may be used (with those layers in float32)."""

    faulty: tuple[str, ...]
    layer_errors: tuple[float, ...]
    error: float

    @property
    def usable(self) -> bool:
        return self.error <= MODEL_TOLERANCE


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    reference = reference.float()
    return float((value.float() - reference).norm() / reference.norm().clamp_min(1e-12))


def vae_probe_inputs(vae, seed: int = 0) -> dict:
    """A fixed small clip for one VAE forward (encode, decode): 5 frames of 32 x 32."""
    clip = torch.rand(1, 3, 5, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1  # (B, 3, T, H, W)
    return dict(sample=clip.to(next(vae.parameters()).device))


def probe_inputs(transformer, seed: int = 0) -> dict:
    """A fixed small input for one transformer forward: 2 x 3 x 3 patches and 8 text tokens, float32."""
    config = transformer.config
    p_t, p_h, p_w = config.patch_size
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(1, config.in_channels, 2 * p_t, 3 * p_h, 3 * p_w, generator=generator)  # (B, C, F, h, w)
    inputs = dict(
        hidden_states=hidden,
        timestep=torch.tensor([700.0]),
        encoder_hidden_states=torch.randn(1, 8, config.text_dim, generator=generator),
    )
    if getattr(config, "vace_in_channels", None):  # a VACE transformer: its control stream too
        shape = (1, config.vace_in_channels, *hidden.shape[2:])
        inputs["control_hidden_states"] = torch.randn(shape, generator=generator)
        inputs["control_hidden_states_scale"] = torch.ones(len(config.vace_layers))
    device = next(transformer.parameters()).device
    return {name: value.to(device) for name, value in inputs.items()}


def bfloat16_tensors(values):
    return [v.to(torch.bfloat16) if torch.is_tensor(v) and v.is_floating_point() else v for v in values]


def in_bfloat16(module: torch.nn.Module, args: tuple, kwargs: dict) -> torch.Tensor:
    """The layer with bfloat16 weights on bfloat16 inputs (fast mode's transformer)."""
    weights = {name: p.to(torch.bfloat16) for name, p in module.named_parameters()}
    values = dict(zip(kwargs, bfloat16_tensors(kwargs.values())))
    return torch.func.functional_call(module, weights, tuple(bfloat16_tensors(args)), values)


def under_autocast(module: torch.nn.Module, args: tuple, kwargs: dict) -> torch.Tensor:
    """The float32 layer under bfloat16 autocast (training's --precision bf16)."""
    with torch.autocast(args[0].device.type, dtype=torch.bfloat16):
        return module(*args, **kwargs)


def layer_records(model, inputs: dict, names: list[str]) -> tuple[dict, torch.Tensor]:
    """One float32 forward of `model`: each named layer's first call (args, kwargs, output), and the model's
    output."""
    records, modules, hooks = {}, dict(model.named_modules()), []
    for name in names:

        def record(module, args, kwargs, output, name=name):
            records.setdefault(name, (args, kwargs, output.detach()))

        hooks.append(modules[name].register_forward_hook(record, with_kwargs=True))
    try:
        with torch.no_grad():
            output = model(**inputs, return_dict=False)[0]
    finally:
        for hook in hooks:
            hook.remove()
    return records, output


def run_in_float32(module: torch.nn.Module):
    """`module` keeps float32 weights and computes in float32 whatever its input; its output takes the input's
    dtype, so the modules around it do not notice."""
    module.float()
    plain = module.forward

    def forward(x, *args, **kwargs):
        with torch.autocast(x.device.type, enabled=False):
            return plain(x.float(), *args, **kwargs).to(x.dtype)

    module.forward = forward  # an instance attribute shadows the class's method


def check_bfloat16(
    model,
    make_reduced: Callable = lambda model: model,
    run_layer: Callable = in_bfloat16,
    skip: Callable[[str], bool] = lambda name: False,
    inputs: dict | None = None,
):
    """Check `model` (float32) in bfloat16 on this machine; returns (the model as it will run, PrecisionCheck).

    `make_reduced(model)` turns it into what runs in reduced precision (fast mode: its bfloat16 cast, in place;
    training: the model itself, run under autocast). Layers found faulty run in float32 there, with their float32
    weights; then the whole forward is compared. `skip(name)`: layers that stay in float32 anyway. `inputs`: one
    forward's keyword arguments (default: `probe_inputs`, for a Wan transformer)."""
    names = [n for n, m in model.named_modules() if isinstance(m, LAYERS) and not skip(n)]
    inputs = probe_inputs(model) if inputs is None else inputs
    records, expected = layer_records(model, inputs, names)
    modules, faulty, errors = dict(model.named_modules()), [], []
    with torch.no_grad():
        for name, (args, kwargs, output) in records.items():
            error = relative_error(run_layer(modules[name], args, kwargs), output)
            if error > LAYER_TOLERANCE:
                faulty.append(name)
                errors.append(error)
    weights = {name: {k: v.clone() for k, v in modules[name].state_dict().items()} for name in faulty}
    reduced = make_reduced(model)
    reduced_modules = dict(reduced.named_modules())
    for name in faulty:
        run_in_float32(reduced_modules[name])
        reduced_modules[name].load_state_dict(weights[name])  # float32 weights, not bfloat16-rounded ones
    if faulty and hasattr(reduced, "_keep_in_fp32_modules"):  # diffusers' `.dtype` then skips them
        reduced._keep_in_fp32_modules = [*(reduced._keep_in_fp32_modules or ()), *faulty]
    check = PrecisionCheck(tuple(faulty), tuple(errors), whole_error(reduced, inputs, expected, run_layer))
    for name, error in zip(faulty, errors):
        log.warning(f"bfloat16 check: {name} is {error:.0%} off float32 on this machine; it runs in float32.")
    return reduced, check


def whole_error(reduced, inputs: dict, expected: torch.Tensor, run_layer: Callable) -> float:
    """The relative error of one forward of `reduced` in its reduced precision against float32's `expected`.
    Latents and text go in as the sampler sends them (in the model's dtype); the rest as they are."""
    with torch.no_grad():
        if run_layer is under_autocast:
            with torch.autocast(expected.device.type, dtype=torch.bfloat16):
                output = reduced(**inputs, return_dict=False)[0]
        else:
            cast = {k: inputs[k].to(torch.bfloat16) for k in ("hidden_states", "encoder_hidden_states")}
            output = reduced(**{**inputs, **cast}, return_dict=False)[0]
    return relative_error(output, expected)

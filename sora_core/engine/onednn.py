"""The VAE's 3D convolutions through oneDNN on the CPU, at every quality.

PyTorch picks oneDNN for a float32 `conv3d` only when batch × channels × frames × height exceeds 20,480 (its
heuristic leaves out the width and the kernel), so the VAE's batch-1 calls, a few frames at a time through the causal
cache, go to the reference kernel `slow_conv3d_forward`, which runs on one thread: 85 % of the bundled model's
decoding, profiled. `torch.mkldnn_convolution` computes the same float32 sums in another order (decoded frames
within 1 level of 255, tested) about three times faster. oneDNN kernels are not right on every CPU (its bfloat16
convolution was wrong on one), so each layer is first checked against PyTorch's own kernel on this machine
(`faults`); a layer that differs keeps PyTorch's kernel.
"""

import torch
import torch.nn.functional as F

from . import precision


def usable(module: torch.nn.Module) -> bool:
    """oneDNN can run `module`'s convolutions: torch has it and the weights are on the CPU."""
    weight = next(module.parameters(), None)
    return torch.backends.mkldnn.is_available() and weight is not None and weight.device.type == "cpu"


def convolutions(module: torch.nn.Module) -> list[tuple[str, torch.nn.Conv3d]]:
    """`module`'s Conv3d layers, by name."""
    return [(name, conv) for name, conv in module.named_modules() if isinstance(conv, torch.nn.Conv3d)]


def conv3d_forward(conv: torch.nn.Conv3d):
    """`conv`'s convolution through oneDNN, with the signature of torch.nn.Conv3d._conv_forward; PyTorch's own
    kernel for what oneDNN is not used for here (another padding mode, another dtype, a GPU)."""

    def conv_forward(x, weight, bias):
        if conv.padding_mode != "zeros" or x.dtype != torch.float32 or x.device.type != "cpu":
            return F.conv3d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        return torch.mkldnn_convolution(x, weight, bias, conv.padding, conv.stride, conv.dilation, conv.groups)

    return conv_forward


def faults(module: torch.nn.Module) -> tuple[str, ...]:
    """Names of `module`'s Conv3d layers whose oneDNN path differs from PyTorch's own kernel on this machine, on a
    small random float32 input; each named in one log line."""
    faulty = []
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, conv in convolutions(module):
            size = [k + 2 for k in conv.kernel_size]
            x = torch.randn(1, conv.in_channels, *size, generator=generator).to(conv.weight.device)
            expected = torch.nn.Conv3d._conv_forward(conv, x, conv.weight, conv.bias)
            got = conv3d_forward(conv)(x, conv.weight, conv.bias)
            if precision.relative_error(got, expected) > 1e-3:
                faulty.append(name)
    for name in faulty:
        precision.log.warning(f"oneDNN check: {name} differs from PyTorch's own kernel here; it keeps that kernel.")
    return tuple(faulty)


def route(module: torch.nn.Module, skip: tuple[str, ...] = ()):
    """From now on `module`'s Conv3d layers run through oneDNN, except those named in `skip`, which run PyTorch's own
    kernel (again, if routed before)."""
    for name, conv in convolutions(module):
        if name in skip:
            conv.__dict__.pop("_conv_forward", None)
        else:
            conv._conv_forward = conv3d_forward(conv)  # an instance attribute shadows the class's method

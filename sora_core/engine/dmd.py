"""The sampler of DMD-distilled checkpoints (FastWan2.2: three steps at t = 1.0, 0.757, 0.522, no guidance): each
step predicts the clean latents from the velocity and noises them afresh to the next step's t; the last returns its
prediction. Same time convention as sampling.py (t = 1 noise, x_t = (1 - t) x_0 + t noise, velocity = noise - x_0).

`DMDSchedule` puts this behind the scheduler interface `sampling.denoise` drives (`timesteps`, `sigmas`,
`set_begin_index`, `step`), so known frames, fast mode's cache and progress work as with the flow sampler.
"""

import torch

from .sampling import noise_to


def dmd_step(velocity: torch.Tensor, latents: torch.Tensor, t: float, next_t: float, noise: torch.Tensor):
    """One DMD step: the clean latents the velocity implies at t, noised with `noise` to `next_t` (0: clean)."""
    clean = latents - t * velocity
    return clean if next_t == 0 else noise_to(clean, noise, next_t)


class DMDSchedule:
    """The fixed t of a distilled checkpoint, stepped by `dmd_step` with noise drawn from `seed` (as the initial noise
    is: on the CPU in float32, so a seed gives the same video on every device)."""

    order = 1

    def __init__(self, sigmas: tuple[float, ...], seed: int, device=None):
        self.sigmas = torch.tensor([*sigmas, 0.0], dtype=torch.float32)
        self.timesteps = (1000 * self.sigmas[:-1]).to(device)
        self.generator = torch.Generator("cpu").manual_seed(seed + 1)  # not the initial noise's stream
        self.begin = 0

    def set_begin_index(self, index: int):
        self.begin = index

    def step(self, velocity, timestep, latents, return_dict: bool = False):
        index = int(torch.nonzero(self.timesteps == timestep)[0])
        t, next_t = float(self.sigmas[index]), float(self.sigmas[index + 1])
        noise = torch.randn(latents.shape, generator=self.generator, dtype=torch.float32).to(latents.device)
        return (dmd_step(velocity.to(latents.dtype), latents, t, next_t, noise.to(latents.dtype)),)

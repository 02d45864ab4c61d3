"""Flow-matching sampling around a checkpoint's own diffusers scheduler.

Time convention, stated once: t = 1 is pure noise, t = 0 is data. A latent at time t is
x_t = (1 - t) * x_0 + t * noise; the model predicts the velocity (noise - x_0); the scheduler's
`sigmas` are these t values and its `timesteps` are 1000 * t (shifted by the flow shift).

Known frames (extension, transitions, image-to-video) enter as a latent-frame mask, held one of two ways:
- "clean": known tokens get timestep 0 and stay at their clean latents (models trained for it);
- "replace": training-free; before every step known positions are reset to the known latents noised
  to the current t, so the model sees a consistent noisy video.
`generate` is the same loop with no known frames.
"""

from collections.abc import Callable

import torch

from .timeline import Conditioning


def configure_scheduler(scheduler, flow_shift: float | None):
    """A fresh copy of the checkpoint's scheduler, with the preset's flow shift where one is set."""
    config = dict(scheduler.config)
    if flow_shift is not None:
        if "flow_shift" in config:
            config["flow_shift"] = flow_shift
        elif "shift" in config:
            config["shift"] = flow_shift
    return type(scheduler).from_config(config)


def prepared_scheduler(scheduler, steps: int, device=None):
    """A fresh copy of `scheduler` with its timesteps set, once per call: no state is shared between calls."""
    scheduler = configure_scheduler(scheduler, None)
    scheduler.set_timesteps(steps, device=device)
    return scheduler


def start_step(scheduler, strength: float) -> int:
    """SDEdit's first step: the first whose t is at most `strength`; strength 1 starts at step 0. `scheduler` has
    its timesteps set (`prepared_scheduler`)."""
    steps = len(scheduler.timesteps)
    return min(int(torch.count_nonzero(scheduler.sigmas[:steps] > strength + 1e-6)), steps - 1)


def starting_latents(scheduler, noise: torch.Tensor, clean: torch.Tensor | None, step: int) -> torch.Tensor:
    """Where sampling starts: pure noise, or (SDEdit, from `step` on) `clean` noised to that step's t."""
    return noise if clean is None else noise_to(clean, noise, scheduler.sigmas[step])


def initial_noise(shape: tuple, seed: int, device) -> torch.Tensor:
    # Drawn on the CPU in float32, as diffusers' randn_tensor does with a CPU generator, so a seed gives
    # the same video on every device and matches WanPipeline(generator=torch.Generator().manual_seed(seed)).
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device)


def noise_to(latents: torch.Tensor, noise: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """x_t on the straight path from data (t=0) to noise (t=1)."""
    return (1.0 - t) * latents + t * noise


def guide(velocity_cond: torch.Tensor, velocity_uncond: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guidance, in WanPipeline's form (uncond + g * (cond - uncond))."""
    return velocity_uncond + guidance * (velocity_cond - velocity_uncond)


def token_timesteps(
    t: torch.Tensor, known_frames: torch.Tensor, latent_hw: tuple[int, int], patch_hw: tuple[int, int], batch: int
) -> torch.Tensor:
    """Per-token timesteps (batch, tokens): 0 on known latent frames, t elsewhere, in the DiT's token order.
    t: a scalar or (batch,); known_frames: (F,) or (batch, F). Sampling passes 1000 * t (the scheduler's
    timesteps); training passes the same."""
    tokens_per_frame = (latent_hw[0] // patch_hw[0]) * (latent_hw[1] // patch_hw[1])
    t = t.reshape(-1, 1) if t.dim() else t  # (batch, 1) or a scalar
    per_frame = torch.where(known_frames, torch.zeros_like(t), t)  # (F,) or (batch, F)
    return per_frame.repeat_interleave(tokens_per_frame, dim=-1).expand(batch, -1)


def hold_known(latents: torch.Tensor, known: torch.Tensor, known_frames: torch.Tensor) -> torch.Tensor:
    """Latents with the known frames replaced; known_frames (F,) broadcasts over (B, C, F, h, w)."""
    mask = known_frames.view(1, 1, -1, 1, 1)
    return torch.where(mask, known, latents)


def held(latents, conditioning: Conditioning | None, t, sigma, noise, patch_hw, batch: int):
    """The latents with their known frames held for this step, and the timesteps the DiT sees: per-token ("clean":
    known frames clean at t = 0) or one per sample ("replace": known frames re-noised to this step's t)."""
    if conditioning is None:
        return latents, t.expand(batch)
    known, frames = conditioning.known_latents, conditioning.known_frames
    if conditioning.mode == "clean":
        return hold_known(latents, known, frames), token_timesteps(t, frames, latents.shape[-2:], patch_hw, batch)
    return hold_known(latents, noise_to(known, noise, sigma), frames), t.expand(batch)


@torch.no_grad()
def denoise(
    transformer,
    scheduler,
    latents: torch.Tensor,  # (B, C, F, h, w) noise at t=1 (or at `start_step`'s t), float32
    text_embeds: torch.Tensor,  # (B, L, D)
    negative_embeds: torch.Tensor | None,  # (B, L, D); None or guidance <= 1: no guidance
    guidance: float,
    conditioning: Conditioning | None = None,
    start_step: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    noise: torch.Tensor | None = None,
    control: dict | None = None,
    velocity_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Run `scheduler` (timesteps set: `prepared_scheduler`) from t=1, or from `start_step` (SDEdit), to t=0;
    returns clean latents. `noise`: the pure noise that "replace" re-noises known frames with (default: `latents`,
    right when starting at t=1). `control`: extra transformer inputs that hold for every step (a VACE checkpoint's
    control stream and scale), batched with the guidance halves like the latents. `velocity_dtype`: cast the
    transformer's output to it before the step (None keeps the model's dtype, as WanPipeline does)."""
    scheduler.set_begin_index(start_step)
    timesteps = scheduler.timesteps[start_step:]
    sigmas = scheduler.sigmas[start_step:]
    use_guidance = negative_embeds is not None and guidance > 1.0
    # One forward per step: conditional and unconditional stacked in a batch of 2B.
    context = torch.cat([text_embeds, negative_embeds]) if use_guidance else text_embeds
    model_dtype = transformer.dtype
    context = context.to(model_dtype)
    noise = latents.clone() if noise is None else noise  # the known frames' noise, for "replace"
    patch_hw = tuple(transformer.config.patch_size[1:])
    batch = latents.shape[0] * (2 if use_guidance else 1)
    control = dict(control or {})
    if use_guidance and "control_hidden_states" in control:
        control["control_hidden_states"] = torch.cat([control["control_hidden_states"]] * 2)

    for i, t in enumerate(timesteps):
        if should_stop is not None and should_stop():
            raise InterruptedError("Generation was stopped.")
        latents, timestep = held(latents, conditioning, t, sigmas[i], noise, patch_hw, batch)
        model_input = torch.cat([latents, latents]) if use_guidance else latents
        velocity = transformer(
            hidden_states=model_input.to(model_dtype),
            timestep=timestep,
            encoder_hidden_states=context,
            return_dict=False,
            **control,
        )[0]
        if velocity_dtype is not None:
            velocity = velocity.to(velocity_dtype)
        if use_guidance:
            velocity = guide(*velocity.chunk(2), guidance)
        latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
        if not torch.isfinite(latents).all():
            raise FloatingPointError("The model produced invalid values (NaN or infinity) while sampling.")
        if progress is not None:
            progress(i + 1, len(timesteps))

    if conditioning is not None:
        latents = hold_known(latents, conditioning.known_latents, conditioning.known_frames)
    return latents

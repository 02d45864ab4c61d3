"""The training losses, each a module whose forward is one stage's whole loss (DDP synchronises gradients in
`forward`): the VAE's reconstruction with its colour term, and the DiT's flow matching, built from the sampler's
own functions (`engine.sampling`, `engine.text`) so that training and inference cannot drift apart.
"""

import numpy as np
import torch

from ..engine.sampling import noise_to, token_timesteps
from ..engine.text import embed_tokens

# DDP synchronises gradients in `forward`, so each stage's whole loss is one module's forward.


class VAELoss(torch.nn.Module):
    """Reconstruction (L1 + MSE) and KL. The decoder sees the posterior's mean by default: at initialisation the
    posterior's std is about 1, and decoding samples drowned the latents in noise (measured: one fixed batch did
    not pass 12 dB in 150 steps with samples, and reached 19.6 dB in 100 with the mean). The loss reads the
    decoder's output before `AutoencoderKLWan` clamps it to [-1, 1]: black, white and saturated colours sit on
    that bound, and a clamped pixel that overshoots gets no gradient back. Pixels far from a clip's median colour
    can weigh `foreground_weight` times more.

    The colour term pulls the first three latent channels towards the opponent colours (luma, red-green,
    yellow-blue) of the pixels each latent cell covers. Without it colours sat 0.15-0.7 apart in the latents, where
    noise has norm 4, and the DiT read colour from its noisy input instead of the prompt; the two chroma channels
    are 0 on every toy-world background, so once normalised by their small std they set the colours far apart.

    `latent_noise` adds that much Gaussian noise (in units of each channel's latent std) to what the decoder sees:
    a DiT's latents sit about 0.2 of a std from the encoder's, and a decoder trained on the encoder's alone drew a
    generated blue object green, and a generated green one blue (2026-12-04)."""

    def __init__(
        self,
        vae,
        kl_weight: float,
        foreground_weight: float = 1.0,
        sample_posterior: bool = False,
        colour_weight: float = 0.0,
        latent_noise: float = 0.0,
    ):
        super().__init__()
        self.vae, self.kl_weight, self.foreground_weight = vae, kl_weight, foreground_weight
        self.sample_posterior, self.colour_weight, self.latent_noise = sample_posterior, colour_weight, latent_noise

    def decode_unclamped(self, latents):
        chunks = []  # the decoder runs once per latent frame; each call returns that frame's pixels
        hook = self.vae.decoder.register_forward_hook(lambda module, args, out: chunks.append(out))
        try:
            self.vae.decode(latents)
        finally:
            hook.remove()
        return torch.cat(chunks, dim=2)  # (B, 3, T, H, W)

    def forward(self, pixels):  # (B, 3, T, H, W) in [-1, 1]
        posterior = self.vae.encode(pixels).latent_dist
        mean = posterior.mode()  # (B, C, F, h, w)
        decoded = posterior.sample() if self.sample_posterior else mean
        if self.latent_noise:
            std = torch.tensor(self.vae.config.latents_std, device=mean.device).view(1, -1, 1, 1, 1)
            decoded = decoded + self.latent_noise * std * torch.randn_like(decoded)
        recon = self.decode_unclamped(decoded)
        colour_loss = 0.0
        if self.colour_weight:
            config = self.vae.config
            target = opponent_colours(pixels, config.scale_factor_spatial, config.scale_factor_temporal)
            colour_loss = self.colour_weight * (mean[:, :3] - target).pow(2).mean()
        error = recon - pixels
        median = pixels.flatten(2).median(dim=2).values[:, :, None, None, None]  # (B, 3, 1, 1, 1)
        foreground = ((pixels - median).abs().sum(1, keepdim=True) > 0.3).float()  # (B, 1, T, H, W)
        weight = 1 + (self.foreground_weight - 1) * foreground
        recon_loss = ((error.abs() + error.pow(2)) * weight).mean() / weight.mean()
        loss = recon_loss + colour_loss + self.kl_weight * posterior.kl().mean()
        return loss, (recon.clamp(-1, 1) - pixels).pow(2).mean()


def opponent_colours(pixels, spatial: int, temporal: int):
    """(B, 3, T, H, W) in [-1, 1] -> (B, 3, F, h, w): mean luma, red-green and yellow-blue over each latent cell.
    A causal VAE's latent frame 0 covers pixel frame 0 alone, so frame 0 is repeated to fill its cell."""
    red, green, blue = pixels.unbind(1)
    opponent = torch.stack([(red + green + blue) / 3, red - green, (red + green) / 2 - blue], 1)
    opponent = torch.cat([opponent[:, :, :1].expand(-1, -1, temporal - 1, -1, -1), opponent], 2)
    return torch.nn.functional.avg_pool3d(opponent, (temporal, spatial, spatial))


class FlowLoss(torch.nn.Module):
    """Flow matching (t=1 noise, t=0 data): predict noise - x0; known latent frames sit at t=0, unscored.

    The object covers a few percent of a toy-world frame, so a plain mean is mostly background: the first model
    reached a low loss with flat backgrounds and blobs for objects. Latent positions far from their frame's
    background (the per-channel median) weigh `foreground_weight` times more; with the default threshold that is
    ~13 % of positions, the object and the VAE's halo around it.

    Per-frame MSE is nearly blind to motion (VideoJAM, VMC and MotionDirector all find so): an object left where
    it was costs little more than one moved the right way. Two terms look at motion: `path_weight` weighs also
    the positions the object just left (its place in the previous latent frame), and `motion_weight` scores the
    frame-to-frame change of the clean latents the prediction implies against the true change."""

    FOREGROUND_DISTANCE = 0.5  # RMS over channels of normalised latents; the background's is ~0

    def __init__(
        self,
        transformer,
        text_encoder,
        foreground_weight: float = 1.0,
        path_weight: bool = False,
        motion_weight: float = 0.0,
    ):
        super().__init__()
        self.transformer, self.text_encoder = transformer, text_encoder
        self.foreground_weight, self.path_weight, self.motion_weight = foreground_weight, path_weight, motion_weight

    def position_weight(self, latents, known):
        """(B, 1, F, h, w): 0 on known frames, 1 on background, `foreground_weight` on objects (and, with
        `path_weight`, where the object was a latent frame earlier)."""
        background = latents.flatten(3).median(dim=3).values[..., None, None]  # (B, C, F, 1, 1)
        distance = (latents - background).pow(2).mean(1, keepdim=True).sqrt()  # (B, 1, F, h, w)
        foreground = (distance > self.FOREGROUND_DISTANCE).float()
        if self.path_weight:
            before = torch.nn.functional.pad(foreground[:, :, :-1], (0, 0, 0, 0, 1, 0))  # frame f-1 at f
            foreground = torch.maximum(foreground, before)
        weight = 1 + (self.foreground_weight - 1) * foreground
        return weight * (~known)[:, None, :, None, None].float()

    def forward(self, latents, known, input_ids, attention_mask, t):
        # latents (B, C, F, h, w) clean; known (B, F) bool; t (B,) in (0, 1)
        text_embeds = embed_tokens(self.text_encoder, input_ids, attention_mask)  # as sampling encodes prompts
        noise = torch.randn_like(latents)
        t_frames = torch.where(known, torch.zeros_like(t)[:, None], t[:, None])  # (B, F): known frames at t = 0
        noisy = noise_to(latents, noise, t_frames[:, None, :, None, None])
        patch_hw = tuple(self.transformer.config.patch_size[1:])
        t_tokens = token_timesteps(t * 1000, known, latents.shape[-2:], patch_hw, len(t))  # (B, tokens)
        velocity = self.transformer(noisy, t_tokens, text_embeds, return_dict=False)[0].float()
        weight = self.position_weight(latents, known).expand_as(latents)
        loss = ((velocity - (noise - latents)) ** 2 * weight).sum() / weight.sum().clamp(min=1)
        if self.motion_weight and latents.shape[2] > 1:
            predicted = noisy - t_frames[:, None, :, None, None] * velocity  # the clean latents it implies
            change = predicted.diff(dim=2) - latents.diff(dim=2)  # (B, C, F-1, h, w): wrong frame-to-frame change
            later = weight[:, :, 1:]  # scored where the later frame of each pair is to be made
            loss = loss + self.motion_weight * (change**2 * later).sum() / later.sum().clamp(min=1)
        return loss


def sample_t(
    batch: int,
    generator: np.random.Generator,
    shift: float = 3.0,
    high_share: float = 0.0,
    eligible: np.ndarray | None = None,
) -> torch.Tensor:
    """Logit-normal t, shifted towards noise like the sampler's schedule; a `high_share` of t drawn uniformly from
    [HIGH_T, 1) instead, among the `eligible` clips only where given (the rest keep their logit-normal t). The
    logit-normal puts about 1 % of t above 0.97, yet that is where a clip's layout and direction are decided from a
    known frame: below it the object is already readable from the noisy latents. Images, whose shapes are made in
    the middle steps, drew slightly better shapes without the high share (research log, 2026-12-04)."""
    u = 1 / (1 + np.exp(-generator.normal(size=batch)))
    t = shift * u / (1 + (shift - 1) * u)
    if high_share:
        high = generator.random(batch) < high_share
        if eligible is not None:
            high &= eligible
        t = np.where(high, generator.uniform(HIGH_T, 1.0, size=batch), t)
    return torch.tensor(t, dtype=torch.float32)


HIGH_T = 0.9


IMAGE_T = ("logit-normal", "shifted", "uniform")


def sample_image_t(batch: int, generator: np.random.Generator, distribution: str) -> torch.Tensor:
    """The image model's t: "logit-normal" is SD3's (centred on t = 0.5, where a shape's edges are drawn: a rendered
    square noised to t = 0.7 came back at fill 0.87, from t = 0.3 at 0.94), "shifted" the video model's (towards
    noise, `sample_t`), "uniform" every t alike."""
    if distribution == "uniform":
        return torch.tensor(generator.uniform(0.0, 1.0, size=batch), dtype=torch.float32)
    return sample_t(batch, generator, shift=1.0 if distribution == "logit-normal" else 3.0)

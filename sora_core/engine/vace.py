"""VACE's control stream: how a VACE checkpoint is told which frames are given and what reference images show.

A VACE transformer (`WanVACETransformer3DModel`) takes, beside the noisy latents, a control video: the timeline's
frames where they are known and neutral gray where they are new, and a mask (0 known, 1 new). Diffusers encodes it
as the inactive latents (known pixels) and the reactive latents (new pixels), plus the mask packed stride x stride
per latent pixel; reference images (a subject or a style) come first, as extra latent frames. We build the control
stream with diffusers' own `WanVACEPipeline` helpers, so it is exactly what the library does; the sampling stays in
our loop (`sampling.denoise`), and the extra latent frames are dropped before decoding.
"""

import numpy as np
import torch
from PIL import Image

MAX_REFERENCES = 3


def is_vace(transformer) -> bool:
    return bool(getattr(transformer.config, "vace_layers", None))


def helper(pipe):
    """A WanVACEPipeline over the pipe's own components (no copies), for its conditioning helpers only."""
    from diffusers import WanVACEPipeline

    return WanVACEPipeline(
        vae=pipe.vae,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        transformer=pipe.transformer,
        scheduler=pipe.scheduler,
    )


def control_video(frames: np.ndarray, known: np.ndarray, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The conditioning video (1, 3, T, H, W) in [-1, 1], gray (0) where new, and its mask, 1 where new."""
    pixels = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float() / 255 * 2 - 1
    new = torch.from_numpy(~known)[None, None, :, None, None].to(pixels.dtype)  # (1, 1, T, 1, 1)
    video = pixels[None] * (1 - new)
    mask = new.expand_as(video).contiguous()
    return video.to(device), mask.to(device)


def reference_canvases(vace, references: list[np.ndarray], height: int, width: int, device) -> list[torch.Tensor]:
    """Each reference image scaled into the frame on a white canvas, as diffusers prepares them."""
    images = [Image.fromarray(np.asarray(image)) for image in references]
    _, _, canvases = vace.preprocess_conditions(
        None, None, images, 1, height, width, 1, torch.float32, device
    )  # a one-frame empty video: only the canvases are used
    return canvases[0]


@torch.no_grad()
def control_stream(pipe, frames: np.ndarray, known: np.ndarray, references=()) -> torch.Tensor:
    """(1, 2C + s*s, R + F, h, w): the control latents for a timeline and R reference images."""
    vace = helper(pipe)
    video, mask = control_video(frames, known, pipe.device)
    height, width = frames.shape[1:3]
    canvases = reference_canvases(vace, list(references), height, width, pipe.device) if len(references) else []
    latents = vace.prepare_video_latents(video, mask, [canvases], None, pipe.device)
    packed = vace.prepare_masks(mask, [canvases], None)
    return torch.cat([latents, packed], dim=1).to(pipe.transformer.dtype)


def control_scale(pipe, scale: float = 1.0) -> torch.Tensor:
    """The conditioning scale of every VACE block."""
    layers = pipe.transformer.config.vace_layers
    return torch.full((len(layers),), scale, device=pipe.device, dtype=pipe.transformer.dtype)


def check_references(references, transformer) -> tuple[np.ndarray, ...]:
    """One to three RGB images (H, W, 3) uint8, and only for a VACE checkpoint."""
    references = tuple(references or ())
    if not references:
        return ()
    if not is_vace(transformer):
        raise ValueError(
            "reference_images need a VACE checkpoint (such as wan2.1-vace-1.3b); this model cannot take them."
        )
    if len(references) > MAX_REFERENCES:
        raise ValueError(f"reference_images takes at most {MAX_REFERENCES} images; got {len(references)}.")
    return references

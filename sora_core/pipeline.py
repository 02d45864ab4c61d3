"""SoraPipeline: text (and known frames) to video over a diffusers Wan checkpoint.

    prompt --T5--> text tokens --------------------------.
                                                         v (cross-attention)
    noise (B, C, F, h, w) --DiT denoises spacetime patches, t: 1 -> 0--> latents --3D causal VAE--> frames

An image is a 1-frame video; any size that is a multiple of the spatial stride and any 4k+1 length work.
"""

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import diffusers
import numpy as np
import torch
import transformers
from diffusers import AutoencoderKLWan, WanTransformer3DModel

from . import hub, workflows
from .limits import MAX_PROMPT_CHARS
from .presets import Preset, preset_for
from .sampling import Conditioning, configure_scheduler, denoise, initial_noise
from .text import encode_prompts
from .video import Video

MAX_STEPS = 200
MAX_GUIDANCE = 30.0
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class SoraPipeline:
    def __init__(self, vae, text_encoder, tokenizer, transformer, scheduler, preset: Preset, device="cpu"):
        self.vae, self.text_encoder, self.tokenizer = vae, text_encoder, tokenizer
        self.transformer, self.scheduler, self.preset = transformer, scheduler, preset
        self.device = torch.device(device)
        self.temporal_stride = vae.config.scale_factor_temporal  # pixel frames per latent frame (after the first)
        self.spatial_stride = vae.config.scale_factor_spatial * transformer.config.patch_size[1]
        self.latent_mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(self.device)
        self.latent_std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(self.device)

    # ----------------------------------------------------------------------------------------- loading

    @classmethod
    def from_pretrained(cls, name_or_path: str = "sora-tiny", device=None, force: bool = False) -> "SoraPipeline":
        """Load a preset name, a Hub repo id or a local folder. Raises hub.ModelLoadError with one line."""
        preset = preset_for(str(name_or_path))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        hub.check_memory(preset, str(device), force)
        folder = hub.resolve_folder(preset.source, preset.revision)
        hub.check_folder(folder)
        preset = _with_checkpoint_overrides(preset, folder)
        dtype = DTYPES[preset.cuda_dtype] if str(device).startswith("cuda") else torch.float32
        components = _load_components(folder, dtype)
        components["scheduler"] = configure_scheduler(components["scheduler"], preset.flow_shift)
        for name in ("vae", "text_encoder", "transformer"):
            components[name].to(device).eval()
        return cls(**components, preset=preset, device=device)

    # ----------------------------------------------------------------------------------------- checks

    def check_size(self, height: int, width: int, num_frames: int):
        """Raise ValueError saying what is allowed, for sizes the model's grid cannot take."""
        s, p = self.spatial_stride, self.preset
        for name, value, limit in (("height", height, p.max_height), ("width", width, p.max_width)):
            if not isinstance(value, (int, np.integer)) or value < s or value % s or value > limit:
                raise ValueError(f"{name} must be a multiple of {s} between {s} and {limit}; got {value}.")
        k = self.temporal_stride
        if not isinstance(num_frames, (int, np.integer)) or num_frames < 1 or (num_frames - 1) % k:
            raise ValueError(f"num_frames must be {k}k+1 (1, {k + 1}, {2 * k + 1}, ...); got {num_frames}.")
        if num_frames > p.max_frames:
            raise ValueError(f"num_frames must be at most {p.max_frames}; got {num_frames}.")

    def settings(self, negative_prompt, num_frames, height, width, steps, guidance) -> dict:
        """Fill None with the preset's defaults and check everything; returns the settings used."""
        p = self.preset
        settings = dict(
            negative_prompt=p.negative_prompt if negative_prompt is None else negative_prompt,
            num_frames=p.num_frames if num_frames is None else num_frames,
            height=p.height if height is None else height,
            width=p.width if width is None else width,
            steps=p.steps if steps is None else steps,
            guidance=p.guidance if guidance is None else guidance,
        )
        self.check_size(settings["height"], settings["width"], settings["num_frames"])
        check_prompt(settings["negative_prompt"], "negative_prompt")
        steps = settings["steps"]
        if not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be a whole number from 1 to {MAX_STEPS}; got {steps}.")
        guidance = settings["guidance"]
        if not isinstance(guidance, (int, float)) or not np.isfinite(guidance) or not 0 <= guidance <= MAX_GUIDANCE:
            raise ValueError(f"guidance must be a number from 0 to {MAX_GUIDANCE:g}; got {guidance}.")
        return settings

    # ----------------------------------------------------------------------------------------- latents

    def encode_text(self, prompt: str, negative_prompt: str, guidance: float):
        texts = [prompt, negative_prompt] if guidance > 1.0 else [prompt]
        embeds = encode_prompts(self.tokenizer, self.text_encoder, texts, self.preset.max_sequence_length, self.device)
        return embeds[:1], (embeds[1:] if guidance > 1.0 else None)

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple:
        vae_stride = self.vae.config.scale_factor_spatial
        latent_frames = (num_frames - 1) // self.temporal_stride + 1
        return (1, self.transformer.config.in_channels, latent_frames, height // vae_stride, width // vae_stride)

    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> normalised latents (1, C, F, h, w), the VAE posterior's mode."""
        pixels = torch.from_numpy(frames).to(self.device).permute(3, 0, 1, 2)[None]  # (1, 3, T, H, W)
        pixels = pixels.to(self.vae.dtype) / 127.5 - 1.0
        latents = self.vae.encode(pixels).latent_dist.mode().float()
        return (latents - self.latent_mean) / self.latent_std

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latents (1, C, F, h, w) -> uint8 frames (T, H, W, 3)."""
        # Written as WanPipeline writes it (divide by 1/std), so decoded frames agree to the last bit.
        latents = latents / (1.0 / self.latent_std) + self.latent_mean
        pixels = self.vae.decode(latents.to(self.vae.dtype), return_dict=False)[0]  # (1, 3, T, H, W)
        if not torch.isfinite(pixels).all():
            raise FloatingPointError("The decoder produced invalid values (NaN or infinity).")
        pixels = (pixels[0].float() / 2 + 0.5).clamp(0, 1).permute(1, 2, 3, 0)  # (T, H, W, 3)
        return (pixels * 255).round().to(torch.uint8).cpu().numpy()

    # ----------------------------------------------------------------------------------------- sampling

    def sample(
        self,
        prompt: str,
        settings: dict,
        seed: int,
        conditioning: Conditioning | None = None,
        start_latents: torch.Tensor | None = None,
        start_step: int = 0,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """The one loop behind every workflow; returns uint8 frames (T, H, W, 3)."""
        check_prompt(prompt, "prompt", required=True)  # an empty negative prompt stays allowed
        check_seed(seed)
        text_embeds, negative_embeds = self.encode_text(prompt, settings["negative_prompt"], settings["guidance"])
        shape = self.latent_shape(settings["num_frames"], settings["height"], settings["width"])
        noise = initial_noise(shape, seed, self.device)
        latents = noise
        scheduler = configure_scheduler(self.scheduler, None)  # a fresh copy: no state shared between calls
        if start_latents is not None:  # SDEdit: start part-way, from the input noised to that step's t
            scheduler.set_timesteps(settings["steps"], device=self.device)
            t_start = scheduler.sigmas[start_step]
            latents = (1.0 - t_start) * start_latents + t_start * noise
        latents = denoise(
            self.transformer,
            scheduler,
            latents,
            text_embeds,
            negative_embeds,
            settings["steps"],
            settings["guidance"],
            conditioning=conditioning,
            start_step=start_step,
            progress=progress,
            should_stop=should_stop,
            noise=noise,
        )
        return self.decode_latents(latents)

    def make_video(self, frames: np.ndarray, prompt: str, seed: int, settings: dict, **extra) -> Video:
        metadata = dict(prompt=prompt, seed=seed, model=self.preset.name, **settings, **extra)
        return Video(frames, fps=self.preset.fps, metadata=metadata)

    def generate(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Video:
        """Text to video (num_frames=1: text to image). None means the preset's default."""
        settings = self.settings(negative_prompt, num_frames, height, width, steps, guidance)
        frames = self.sample(prompt, settings, seed, progress=progress, should_stop=should_stop)
        return self.make_video(frames, prompt, seed, settings, task="generate")

    def extend(
        self,
        video: Video,
        prompt: str,
        num_frames: int | None = None,
        direction: str = "forward",
        seed: int = 0,
        *,
        height: int | None = None,
        width: int | None = None,
        init_strength: float | None = None,
        negative_prompt: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Video:
        """The source followed (forward) or preceded (backward) by about `num_frames` new frames."""
        return workflows.extend(
            self,
            video,
            prompt,
            num_frames,
            direction,
            seed,
            init_strength=init_strength,
            height=height,
            width=width,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            progress=progress,
            should_stop=should_stop,
        )

    def transition(
        self,
        video_a: Video,
        video_b: Video,
        prompt: str,
        num_frames: int | None = None,
        seed: int = 0,
        *,
        height: int | None = None,
        width: int | None = None,
        init_strength: float | None = None,
        negative_prompt: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Video:
        """Clip A, about `num_frames` bridge frames, then clip B."""
        return workflows.transition(
            self,
            video_a,
            video_b,
            prompt,
            num_frames,
            seed,
            init_strength=init_strength,
            height=height,
            width=width,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            progress=progress,
            should_stop=should_stop,
        )

    def loop(
        self,
        video: Video,
        prompt: str,
        num_frames: int | None = None,
        seed: int = 0,
        *,
        height: int | None = None,
        width: int | None = None,
        init_strength: float | None = None,
        negative_prompt: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Video:
        """The video, then bridge frames back to its first frame, so it plays seamlessly on repeat."""
        return workflows.loop(
            self,
            video,
            prompt,
            num_frames,
            seed,
            init_strength=init_strength,
            height=height,
            width=width,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            progress=progress,
            should_stop=should_stop,
        )

    def restyle(
        self,
        video: Video,
        prompt: str,
        strength: float | None = None,
        seed: int = 0,
        *,
        height: int | None = None,
        width: int | None = None,
        negative_prompt: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Video:
        """SDEdit at `strength` (0 returns the input, 1 is plain generation); same length and size."""
        return workflows.restyle(
            self,
            video,
            prompt,
            strength,
            seed,
            height=height,
            width=width,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            progress=progress,
            should_stop=should_stop,
        )


def check_prompt(prompt, name: str = "prompt", required: bool = False):
    if not isinstance(prompt, str):
        raise ValueError(f"{name} must be text; got {type(prompt).__name__}.")
    if required and not prompt.strip():
        raise ValueError(f"{name} is empty: describe the video to make.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"{name} is {len(prompt):,} characters long; the limit is {MAX_PROMPT_CHARS:,}.")


def check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a whole number from 0 to 2**63 - 1; got {seed}.")


def _with_checkpoint_overrides(preset: Preset, folder: Path) -> Preset:
    """A checkpoint may carry `sora.json` with its own defaults (fps, size, conditioning, ...)."""
    sidecar = folder / "sora.json"
    if not sidecar.is_file():
        return preset
    overrides = json.loads(sidecar.read_text()).get("defaults", {})
    known = {k: v for k, v in overrides.items() if k in Preset.__dataclass_fields__ and k not in ("name", "source")}
    return replace(preset, **known)


def _load_components(folder: Path, dtype: torch.dtype) -> dict:
    index = json.loads((folder / "model_index.json").read_text())
    scheduler_class = index.get("scheduler", [None, ""])[1]
    text_encoder_class = index.get("text_encoder", [None, ""])[1]
    if not scheduler_class.endswith("Scheduler") or not hasattr(diffusers, scheduler_class):
        raise hub.ModelLoadError(f"{folder.name}: unsupported scheduler '{scheduler_class}'.")
    if not text_encoder_class.endswith("EncoderModel") or not hasattr(transformers, text_encoder_class):
        raise hub.ModelLoadError(f"{folder.name}: unsupported text encoder '{text_encoder_class}'.")
    loaders = {
        "vae": lambda: AutoencoderKLWan.from_pretrained(folder / "vae", dtype=torch.float32, use_safetensors=True),
        "transformer": lambda: WanTransformer3DModel.from_pretrained(
            folder / "transformer", dtype=dtype, use_safetensors=True
        ),
        "text_encoder": lambda: getattr(transformers, text_encoder_class).from_pretrained(
            folder / "text_encoder", dtype=dtype, use_safetensors=True
        ),
        "tokenizer": lambda: transformers.AutoTokenizer.from_pretrained(folder / "tokenizer"),
        "scheduler": lambda: getattr(diffusers, scheduler_class).from_pretrained(folder / "scheduler"),
    }
    components = {}
    for name, load in loaders.items():
        try:
            components[name] = load()
        except Exception as error:  # corrupt or missing files: one line naming the part
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise hub.ModelLoadError(f"Could not load the {name} of {folder.name}: {message[:300]}") from None
    return components

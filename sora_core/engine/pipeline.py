"""SoraPipeline: text (and known frames) to video over a diffusers Wan checkpoint.

    prompt --T5--> text tokens --------------------------.
                                                         v (cross-attention)
    noise (B, C, F, h, w) --DiT denoises spacetime patches, t: 1 -> 0--> latents --3D causal VAE--> frames

An image is a 1-frame video; any size that is a multiple of the spatial stride and any 4k+1 length work.
A request (`requests.py`) becomes a plan (`workflows.plan`: checked, its timeline laid out, no model work), and
`sample` runs every plan the same way.
"""

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, replace

import numpy as np
import torch

from . import fast as fast_mode
from . import limits, loading, meeting, onednn, parallel, storyboard, time_reversal, vace, workflows
from .colour_transfer import match_seams
from .dmd import DMDSchedule
from .motion_fill import motion_filled
from .presets import Preset, preset_for
from .requests import (
    ExtendRequest,
    GenerateRequest,
    LoopRequest,
    Options,
    Request,
    RestyleRequest,
    TransitionRequest,
    check_names,
    options_of,
)
from .sampling import configure_scheduler, denoise, initial_noise, prepared_scheduler, start_step, starting_latents
from .text import encode_prompts
from .timeline import Conditioning, Timeline, fill_unknown, known_latent_frames, latent_frames
from .video import Video, to_frames, to_pixels

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
Progress = Callable[[int, int], None] | None
Stop = Callable[[], bool] | None


def dtype_of(value) -> torch.dtype | None:
    """A dtype given as diffusers users give it (torch.bfloat16, or "bfloat16"); None for the default."""
    if value is None or isinstance(value, torch.dtype):
        return value
    if value not in DTYPES:
        raise ValueError(f"torch_dtype must be one of {', '.join(DTYPES)}; got {value!r}.")
    return DTYPES[value]


def offset_progress(progress: Progress, done: int, total: int) -> Progress:
    """One of several sampling calls' steps, reported as steps of the whole."""
    return None if progress is None else lambda step, _: progress(done + step, total)


def part_progress(progress: Progress, part: int, parts: int) -> Progress:
    """Part `part` of `parts` sampling calls, each reported as an equal share of the whole however many steps it
    runs (one started below strength 1 runs fewer)."""
    share = 100
    return (
        None if progress is None else lambda step, total: progress(part * share + step * share // total, parts * share)
    )


class SoraPipeline:
    def __init__(
        self, vae, text_encoder, tokenizer, transformer, scheduler, preset: Preset, device="cpu", image_transformer=None
    ):
        self.vae, self.text_encoder, self.tokenizer = vae, text_encoder, tokenizer
        self.transformer, self.scheduler, self.preset = transformer, scheduler, preset
        # A checkpoint's own image model (its image_transformer/ folder), where it has one: text to image and the
        # first stage of a two-stage generate; every other task runs `transformer`.
        self.image_transformer = image_transformer
        self.device = torch.device(device)
        self.temporal_stride = vae.config.scale_factor_temporal  # pixel frames per latent frame (after the first)
        self.spatial_stride = vae.config.scale_factor_spatial * transformer.config.patch_size[1]
        self.latent_mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(self.device)
        self.latent_std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(self.device)
        self._fast_model, self._fast_image_transformer = None, None
        # The VAE's Conv3d layers that keep PyTorch's own kernel on this machine; None until `check_vae` runs.
        self.onednn_faults: tuple[str, ...] | None = None

    def check_vae(self):
        """Before the VAE's first use on a CPU: its Conv3d layers checked against PyTorch's own kernel and routed
        through oneDNN where it is right (engine/onednn.py), once; on a GPU, nothing to do."""
        if self.onednn_faults is None:
            self.onednn_faults = ()
            if onednn.usable(self.vae):
                self.onednn_faults = onednn.faults(self.vae)
                onednn.route(self.vae, self.onednn_faults)

    @property
    def fast_model(self) -> fast_mode.FastModel:
        """Fast mode on this machine (engine/fast.py), built and checked against float32 on first use: its
        transformer (this one, or a copy in bfloat16 and/or with a step-distilled LoRA fused in, one more
        transformer's memory)."""
        if self._fast_model is None:
            self._fast_model = fast_mode.build_transformer(self.transformer, self.preset.fast, self.device)
        return self._fast_model

    @property
    def fast_transformer(self):
        return self.fast_model.transformer

    def transformer_for(self, plan: workflows.Plan, fast: bool):
        """The module that samples `plan`: the image model for a text-to-image plan where the checkpoint has one
        (fast mode's copy of it, built as the main one's), else the main transformer (or fast mode's)."""
        if self.image_transformer is None or not workflows.makes_image(plan):
            return self.fast_transformer if fast else self.transformer
        if not fast:
            return self.image_transformer
        if self._fast_image_transformer is None:
            built = fast_mode.build_transformer(self.image_transformer, self.preset.fast, self.device)
            self._fast_image_transformer = built.transformer
        return self._fast_image_transformer

    @classmethod
    def from_pretrained(
        cls, name_or_path: str = "sora-tiny", device=None, force: bool = False, torch_dtype=None
    ) -> "SoraPipeline":
        """Load a preset name, a Hub repo id or a local folder. Raises ModelLoadError with one line. `torch_dtype`
        (a torch dtype or its name) for the transformer and text encoder; default: the preset's on CUDA, float32
        on the CPU. The VAE always decodes in float32."""
        preset = preset_for(str(name_or_path))
        device = loading.check_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        loading.check_memory(preset, str(device), force)
        folder = loading.resolve_folder(preset.source, preset.revision)
        loading.check_folder(folder)
        preset = loading.with_checkpoint_overrides(preset, folder)
        dtype = dtype_of(torch_dtype) or (
            DTYPES[preset.cuda_dtype] if str(device).startswith("cuda") else torch.float32
        )
        components = loading.load_components(folder, dtype)
        components["scheduler"] = configure_scheduler(components["scheduler"], preset.flow_shift)
        for name in ("vae", "text_encoder", "transformer", "image_transformer"):
            if components.get(name) is not None:
                components[name].to(device).eval()
        return cls(**components, preset=preset, device=device)

    def enable_context_parallel(self, degree: int, kind: str = "ulysses") -> "SoraPipeline":
        """Every clip's tokens split across `degree` processes (engine/parallel.py); the same frames on each."""
        for transformer in self.transformers:
            parallel.enable_context_parallel(transformer, degree, kind)
        return self

    @property
    def transformers(self) -> list:
        """The main transformer, and the image model where the checkpoint has one."""
        return [self.transformer] + ([self.image_transformer] if self.image_transformer is not None else [])

    def to(self, device) -> "SoraPipeline":
        """Every model on `device` (as diffusers' `pipe.to`); fast mode is built again there on its next use."""
        self.device = loading.check_device(device)
        for module in (self.vae, self.text_encoder, *self.transformers):
            module.to(self.device)
        self.latent_mean, self.latent_std = self.latent_mean.to(self.device), self.latent_std.to(self.device)
        self._fast_model, self._fast_image_transformer = None, None
        self.onednn_faults = None
        return self

    @property
    def grid(self) -> workflows.Grid:
        image_guidance = self.preset.image_guidance if self.image_transformer is not None else None
        return workflows.Grid(self.preset, self.spatial_stride, self.temporal_stride, image_guidance)

    # ----------------------------------------------------------------------------------------- latents

    def encode_text(self, prompt: str, negative_prompt: str, guidance: float):
        texts = [prompt, negative_prompt] if guidance > 1.0 else [prompt]
        embeds = encode_prompts(self.tokenizer, self.text_encoder, texts, self.preset.max_sequence_length, self.device)
        return embeds[:1], (embeds[1:] if guidance > 1.0 else None)

    def latent_shape(self, num_frames: int, height: int, width: int, extra_frames: int = 0) -> tuple:
        """(1, C, F, h, w) for `num_frames` pixel frames, plus `extra_frames` latent frames (VACE's references)."""
        vae_stride = self.vae.config.scale_factor_spatial
        latent_count = latent_frames(num_frames, self.temporal_stride) + extra_frames
        return (1, self.transformer.config.in_channels, latent_count, height // vae_stride, width // vae_stride)

    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> normalised latents (1, C, F, h, w), the VAE posterior's mode."""
        self.check_vae()
        pixels = to_pixels(frames)[None].to(self.device, self.vae.dtype)  # (1, 3, T, H, W)
        latents = self.vae.encode(pixels).latent_dist.mode().float()
        return (latents - self.latent_mean) / self.latent_std

    @torch.no_grad()
    def encode_known(self, filled: np.ndarray, known: np.ndarray) -> torch.Tensor:
        """The latents (1, C, F, h, w) of `filled` (T, H, W, 3) where its known frames are, for the sampler to hold:
        the causal VAE's latent frame j sees pixel frames up to j * stride alone, so encoding stops at the last known
        latent frame (a two-stage generate's animate stage encodes its one first frame, not 17); the latent frames
        after it are zeros, which holding known frames never reads."""
        held = np.flatnonzero(known_latent_frames(known, self.temporal_stride).numpy())
        if len(held) == 0:
            return self.encode_frames(filled)
        prefix = self.encode_frames(filled[: held[-1] * self.temporal_stride + 1])  # (1, C, held[-1] + 1, h, w)
        count = latent_frames(len(known), self.temporal_stride)
        latents = prefix.new_zeros((*prefix.shape[:2], count, *prefix.shape[3:]))
        latents[:, :, : prefix.shape[2]] = prefix
        return latents

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latents (1, C, F, h, w) -> uint8 frames (T, H, W, 3)."""
        self.check_vae()
        # Written as WanPipeline writes it (divide by 1/std), so decoded frames agree to float rounding.
        latents = latents / (1.0 / self.latent_std) + self.latent_mean
        pixels = self.vae.decode(latents.to(self.vae.dtype), return_dict=False)[0]  # (1, 3, T, H, W)
        if not torch.isfinite(pixels).all():
            raise FloatingPointError("The decoder produced invalid values (NaN or infinity).")
        return to_frames(pixels[0])

    # ----------------------------------------------------------------------------------------- sampling

    def plan(self, request: Request) -> workflows.Plan:
        """Check a request against this model and lay out its timeline (no model work); ValueError if bad. On a
        time-symmetric checkpoint a backward extension is laid out as its forward twin in reversed time
        (engine/time_reversal.py), which `sample` plays back, and a bridge is marked to be made as two arrivals
        that meet (engine/meeting.py)."""
        plan = workflows.plan(self.grid, request)
        if isinstance(request, ExtendRequest) and request.direction == "backward" and self.preset.time_symmetric:
            plan = time_reversal.marked(workflows.plan(self.grid, time_reversal.as_forward(request)))
        if self.preset.time_symmetric and meeting.applies(plan, self.temporal_stride):
            plan = meeting.marked(plan)
        vace.check_references(plan.references, self.transformer)
        distilled = len(self.preset.dmd_sigmas)
        if distilled and plan.settings.steps > distilled:
            raise ValueError(
                f"steps must be at most {distilled} on {self.preset.name} (a distilled model); got "
                f"{plan.settings.steps}."
            )
        return plan

    def schedule(self, steps: int, seed: int):
        """The sampler's schedule for one call: the checkpoint's flow scheduler, or a distilled checkpoint's DMD
        steps (engine/dmd.py), the first `steps` of them."""
        if self.preset.dmd_sigmas:
            return DMDSchedule(self.preset.dmd_sigmas[:steps], seed, self.device)
        return prepared_scheduler(self.scheduler, steps, self.device)

    def run(self, request: Request, progress: Progress = None, should_stop: Stop = None) -> Video:
        """Any task's request to its video."""
        limits.check_callbacks(progress, should_stop)
        return self.sample(self.plan(request), progress, should_stop)

    def sample(self, plan: workflows.Plan, progress: Progress = None, should_stop: Stop = None) -> Video:
        """The one sampling path behind every workflow: fill the plan's timeline in and assemble the result."""
        if plan.extra.get(time_reversal.REVERSED):
            forward = self.sample(time_reversal.twin(plan), progress, should_stop)
            return time_reversal.played_back(forward, plan)
        if plan.extra.get(meeting.MEETS):
            return self.met(plan, progress, should_stop)
        if workflows.animates_first_frame(self.grid, plan):
            plan = self.first_frame_made(plan, progress, should_stop)
            progress = offset_progress(progress, plan.settings.steps, 2 * plan.settings.steps)
        timeline = plan.timeline
        window = timeline.frames
        if not timeline.known.all():  # all known: nothing to make (a restyle at strength 0)
            window = self.sample_window(plan, progress, should_stop)
        frames = timeline.assemble(window)
        metadata = dict(prompt=plan.prompt, model=self.preset.name, **asdict(plan.settings), task=plan.task)
        metadata["num_frames"] = len(frames)  # the result's, sources included (the settings' is the window's)
        return Video(frames, fps=self.preset.fps, metadata={**metadata, **plan.extra})

    def met(self, plan: workflows.Plan, progress: Progress, should_stop: Stop) -> Video:
        """A bridge made as two arrivals that meet (engine/meeting.py): forward from clip A, backward into clip B,
        then a short bridge between them where they are closest."""
        fps, stride = self.preset.fps, self.temporal_stride
        made = []
        for part, request in enumerate(meeting.halves(plan, fps)):
            made.append(self.sample(self.plan(request), part_progress(progress, part, 3), should_stop))
        join = self.plan(meeting.join_request(plan, *made, fps, stride))
        joined = self.sample(join, part_progress(progress, 2, 3), should_stop)
        return meeting.finished(joined, plan)

    def first_frame_made(self, plan: workflows.Plan, progress: Progress, should_stop: Stop) -> workflows.Plan:
        """A generate plan's first frame, sampled as an image with the plan's prompt and settings (the image model's
        guidance, where the checkpoint has one: the request's guidance is the video model's); returns the plan that
        animates it (`workflows.plan_animate`), the first frame's guidance in its metadata."""
        image_guidance = self.grid.image_guidance
        guidance = plan.settings.guidance if image_guidance is None else image_guidance
        settings = replace(plan.settings, num_frames=1, guidance=guidance)
        frames = plan.timeline.frames[:1]
        image = replace(
            plan, settings=settings, timeline=replace(plan.timeline, frames=frames, known=np.zeros(1, bool))
        )
        window = self.sample_window(image, offset_progress(progress, 0, 2 * settings.steps), should_stop)
        animate = workflows.plan_animate(plan, window[0])
        return replace(animate, extra={**animate.extra, "first_frame_guidance": guidance})

    def known_frames(self, timeline: Timeline, given) -> Conditioning | None:
        """How the sampler holds the timeline's known frames in the latents: held clean or replaced (the preset's
        `conditioning`); None on a VACE checkpoint, where they enter only through the control stream."""
        if vace.is_vace(self.transformer) or not timeline.known.any():
            return None
        frames = known_latent_frames(timeline.known, self.temporal_stride).to(self.device)
        return Conditioning(given, frames, self.preset.conditioning)

    def start_latents(self, timeline: Timeline, filled: np.ndarray, given: torch.Tensor) -> torch.Tensor:
        """What new frames start from below init_strength 1: the timeline with unknown frames carried along the
        source's motion (motion_fill.py), encoded; `given` (`filled`, the still fill the known frames are held with,
        encoded) where that moves nothing."""
        moved = motion_filled(timeline.frames, timeline.known)
        if np.array_equal(moved, filled):
            return given
        return self.encode_frames(moved)

    @torch.no_grad()
    def sample_window(self, plan: workflows.Plan, progress: Progress, should_stop: Stop) -> np.ndarray:
        """The window's frames (T, H, W, 3): given frames pasted back exactly, new frames sampled and (unless the
        timeline says otherwise) given the colours of the given frames beside their seams."""
        fast = plan.settings.fast
        transformer = self.transformer_for(plan, fast)
        # No step cache on an image: one frame's steps are cheap, and sora-tiny's image model drew another picture
        # with one (8 steps: 19 dB against full quality), which every frame animated from it would inherit.
        cache = fast and not workflows.makes_image(plan)
        with fast_mode.step_cache(transformer, self.preset.fast, plan.settings.steps) if cache else nullcontext():
            latents = self.window_latents(plan, transformer, progress, should_stop)
            decoded = self.decode_latents(latents[:, :, len(plan.references) :])  # reference frames come first
        timeline, known = plan.timeline, plan.timeline.known
        window, new = timeline.frames.copy(), np.flatnonzero(~known)
        if not known.any() or not timeline.match_colour:
            window[new] = decoded[new]
            return window
        near = sorted({int(g) for g in np.flatnonzero(known) if (g - 1 in new) or (g + 1 in new)})
        window[new] = match_seams(decoded[new], {a: timeline.frames[a] for a in near}, new, device=self.device)
        return window

    def window_latents(self, plan: workflows.Plan, transformer, progress: Progress, should_stop: Stop):
        """The window's clean latents (1, C, F, h, w), sampled by `transformer` (the exact one or fast mode's)."""
        settings, timeline, references = plan.settings, plan.timeline, plan.references
        known = timeline.known
        text_embeds, negative_embeds = self.encode_text(plan.prompt, settings.negative_prompt, settings.guidance)
        shape = self.latent_shape(len(known), settings.height, settings.width, extra_frames=len(references))
        noise = initial_noise(shape, settings.seed, self.device)
        scheduler = self.schedule(settings.steps, settings.seed)
        first = start_step(scheduler, timeline.init_strength)
        filled, given = fill_unknown(timeline.frames, known), None  # the timeline, unknown frames filled
        if timeline.init_strength < 1:  # new frames start from these latents too: every frame is needed
            given = self.encode_frames(filled)
        elif known.any() and not vace.is_vace(self.transformer):
            given = self.encode_known(filled, known)
        conditioning, control = self.known_frames(timeline, given), None
        if vace.is_vace(self.transformer):
            control = dict(
                control_hidden_states=vace.control_stream(self, timeline.frames, known, references),
                control_hidden_states_scale=vace.control_scale(self),
            )
        start = self.start_latents(timeline, filled, given) if timeline.init_strength < 1 else None
        latents = starting_latents(scheduler, noise, start, first)
        return denoise(
            transformer,
            scheduler,
            latents,
            text_embeds,
            negative_embeds,
            settings.guidance,
            conditioning=conditioning,
            start_step=first,
            progress=progress,
            should_stop=should_stop,
            noise=noise,
            control=control,
            # fast mode's bfloat16 transformer: the scheduler still steps float32 latents
            velocity_dtype=torch.float32 if settings.fast else None,
        )

    # ----------------------------------------------------------------------------------------- the tasks

    def storyboard(
        self,
        cards,
        seed: int = 0,
        steps: int | None = None,
        guidance: float | None = None,
        progress: Progress = None,
        should_stop: Stop = None,
        reroll: int | None = None,
        previous: Video | None = None,
        sample: Callable | None = None,
        **options,
    ) -> Video:
        """Cards (`Card` or (prompt, num_frames) pairs) along one timeline, up to a minute; `reroll=k` with
        `previous` makes card k again and keeps every other frame. Options: negative_prompt, height, width, fast.
        `sample(plan, progress, should_stop)` samples each segment (default `self.sample`; the Space passes one
        GPU call per segment when a story would not fit in one)."""
        limits.check_callbacks(progress, should_stop)
        settings = dict(steps=steps, guidance=guidance, sample=sample, **options)
        if reroll is not None:
            return storyboard.reroll(self, cards, reroll, previous, seed, progress, should_stop, **settings)
        return storyboard.storyboard(self, cards, seed, progress=progress, should_stop=should_stop, **settings)

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
        progress: Progress = None,
        should_stop: Stop = None,
        reference_images=(),
        fast: bool = False,
        **unknown,
    ) -> Video:
        """Text to video (num_frames=1: text to image). None means the preset's default. `reference_images`: one
        to three images of a subject or style (VACE checkpoints). `fast`: fast mode (engine/fast.py). Any other
        keyword is a TypeError naming ours (`num_inference_steps` -> `steps`)."""
        check_names(unknown, ())
        options = Options(
            negative_prompt=negative_prompt,
            height=height,
            width=width,
            steps=steps,
            guidance=guidance,
            seed=seed,
            fast=fast,
        )
        return self.run(GenerateRequest(prompt, num_frames, tuple(reference_images), options), progress, should_stop)

    __call__ = generate  # `pipe(prompt, ...)`, as a diffusers pipeline is called

    # The workflows take the shared settings by name (`Options`: negative_prompt, height, width, steps, guidance,
    # fast); an unknown name raises TypeError, as it does for `generate`.

    def extend(
        self,
        video: Video,
        prompt: str,
        num_frames: int | None = None,
        direction: str = "forward",
        seed: int = 0,
        *,
        init_strength: float | None = None,
        match_colour: bool = True,
        reference_images=(),
        progress: Progress = None,
        should_stop: Stop = None,
        **options,
    ) -> Video:
        """The source followed (forward) or preceded (backward) by about `num_frames` new frames."""
        request = ExtendRequest(
            video,
            prompt,
            num_frames,
            direction,
            init_strength=init_strength,
            match_colour=match_colour,
            reference_images=tuple(reference_images),
            options=options_of(seed, options),
        )
        return self.run(request, progress, should_stop)

    def transition(
        self,
        video_a: Video,
        video_b: Video,
        prompt: str,
        num_frames: int | None = None,
        seed: int = 0,
        *,
        init_strength: float | None = None,
        match_colour: bool = True,
        progress: Progress = None,
        should_stop: Stop = None,
        **options,
    ) -> Video:
        """Clip A, about `num_frames` bridge frames, then clip B."""
        options = options_of(seed, options)
        request = TransitionRequest(video_a, video_b, prompt, num_frames, init_strength, match_colour, options)
        return self.run(request, progress, should_stop)

    def loop(
        self,
        video: Video,
        prompt: str,
        num_frames: int | None = None,
        seed: int = 0,
        *,
        init_strength: float | None = None,
        match_colour: bool = True,
        progress: Progress = None,
        should_stop: Stop = None,
        **options,
    ) -> Video:
        """The video, then bridge frames back to its first frame, so it plays seamlessly on repeat."""
        request = LoopRequest(video, prompt, num_frames, init_strength, match_colour, options_of(seed, options))
        return self.run(request, progress, should_stop)

    def restyle(
        self,
        video: Video,
        prompt: str,
        strength: float | None = None,
        seed: int = 0,
        *,
        progress: Progress = None,
        should_stop: Stop = None,
        **options,
    ) -> Video:
        """SDEdit at `strength` (0 returns the input, 1 is plain generation); same length and size."""
        request = RestyleRequest(video, prompt, strength, options_of(seed, options))
        return self.run(request, progress, should_stop)

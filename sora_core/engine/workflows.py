"""Sora's applications as pure functions: each checks a request against the model and lays out its timeline.

Every workflow places the user's frames on a sampling window, marks them known and says how the new frames join
the result; `SoraPipeline.sample` fills the window in (the one sampling path), pastes the user's frames back
unchanged and gives new frames the colours of the source frames beside their seams. Windows (pixel frames, 4 per
latent frame after the first):
    generate  : [new 4k+1]                        restyle  : [the input, padded to 4k+1, noised to `strength`]
    forward   : [context 4a+1 | new 4b]           backward : [new 4b+1 | context 4a] (the earliest new frame dropped)
    transition: [A context 4a+1 | bridge 4m | B context 4c]   loop: a transition from a clip into itself
"""

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import limits
from .presets import Preset
from .requests import ExtendRequest, GenerateRequest, LoopRequest, Options, Request, RestyleRequest, TransitionRequest
from .timeline import Timeline
from .video import Video

MAX_CONTEXT_LATENTS = 2  # context frames beyond this add cost but little information
# `init_strength` < 1 starts new frames from the filled timeline (each unknown frame its nearest known one, carried
# along the source's motion there: motion_fill.py) noised to that t, instead of from pure noise (t = 1): a knob
# between continuity and free motion. Continuing from given frames (forward) the models keep their seams at 1;
# arriving at given frames (backward, the end of a bridge, a loop) the bundled one jumped, so its checkpoint sets
# `arrival_init_strength` below 1 for those (measurements in the model card); None picks that default per workflow.


@dataclass(frozen=True)
class Grid:
    """What a loaded model allows: its preset, pixels per token side and pixel frames per latent frame."""

    preset: Preset
    spatial_stride: int
    temporal_stride: int = 4
    image_guidance: float | None = None  # the image model's (Preset.image_guidance), where the model has one

    def default_guidance(self, image: bool) -> float:
        """The guidance a request that leaves it unset runs at: an image (text to image) at the image model's."""
        return self.image_guidance if image and self.image_guidance is not None else self.preset.guidance


@dataclass(frozen=True)
class Settings:
    """A request's options with every default filled in and checked: what the sampler runs with."""

    negative_prompt: str
    num_frames: int  # of the sampling window
    height: int
    width: int
    steps: int
    guidance: float
    seed: int
    fast: bool = False


@dataclass(frozen=True)
class Plan:
    """A checked request, ready to sample: the prompt, the settings and the timeline."""

    task: str
    prompt: str
    settings: Settings
    timeline: Timeline
    extra: dict = field(default_factory=dict)  # more metadata for the result (strength, new frames)
    references: tuple = ()  # reference images (H, W, 3) uint8 for a VACE checkpoint's control stream


# ------------------------------------------------------------------------------------ settings


def check_size(grid: Grid, height, width, num_frames):
    """Raise ValueError saying what is allowed, for sizes the model's grid cannot take."""
    s, p = grid.spatial_stride, grid.preset
    for name, value, limit in (("height", height, p.max_height), ("width", width, p.max_width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not s <= value <= limit or value % s:
            raise ValueError(f"{name} must be a multiple of {s} between {s} and {limit}; got {limits.shown(value)}.")
    limits.check_frame_count(num_frames, grid.temporal_stride)
    if num_frames > p.max_frames:
        raise ValueError(f"num_frames must be at most {p.max_frames} in one sampling window; got {num_frames}.")


def resolve(
    grid: Grid,
    options: Options,
    num_frames: int,
    height: int | None = None,
    width: int | None = None,
    image: bool = False,
):
    """The settings used: None filled with the preset's defaults (an `image` made by the image model: its guidance),
    everything checked."""
    p = grid.preset
    height = options.height if height is None else height
    width = options.width if width is None else width
    fast = limits.check_flag(options.fast, "fast")
    # Fast mode may bring its own defaults (a step-distilled LoRA: fewer steps, no guidance); asked values win.
    steps = options.steps if options.steps is not None else (p.fast.steps if fast else None)
    guidance = options.guidance if options.guidance is not None else (p.fast.guidance if fast else None)
    settings = Settings(
        negative_prompt=limits.check_text(
            p.negative_prompt if options.negative_prompt is None else options.negative_prompt, "negative_prompt"
        ),
        num_frames=num_frames,
        height=p.height if height is None else height,
        width=p.width if width is None else width,
        steps=limits.check_steps(p.steps if steps is None else steps),
        guidance=limits.check_guidance(grid.default_guidance(image) if guidance is None else guidance),
        seed=limits.check_seed(options.seed),
        fast=fast,
    )
    check_size(grid, settings.height, settings.width, settings.num_frames)
    return settings


# ------------------------------------------------------------------------------------ fitting inputs


def grid_size(grid: Grid, video: Video, height: int | None, width: int | None) -> tuple[int, int]:
    """The output size: as asked, else the input's own when it is on the grid, else its aspect ratio at the
    preset's area."""
    stride, preset = grid.spatial_stride, grid.preset
    if height is not None and width is not None:
        return height, width
    h, w = video.height, video.width
    if h % stride == 0 and w % stride == 0 and h <= preset.max_height and w <= preset.max_width:
        return h, w
    scale = (preset.height * preset.width / (h * w)) ** 0.5
    fit_h = int(np.clip(round(h * scale / stride) * stride, stride, preset.max_height))
    fit_w = int(np.clip(round(w * scale / stride) * stride, stride, preset.max_width))
    return fit_h, fit_w


def check_video(video, field: str) -> Video:
    if not isinstance(video, Video):
        raise ValueError(f"{field} must be a Video (Video.load(path) reads a file); got {type(video).__name__}.")
    return video


def fit(video: Video, height: int, width: int, fps: float) -> np.ndarray:
    """Frames at the model's fps (nearest frame) and size (scale to cover, centre crop); untouched if already so."""
    frames = video.frames
    if video.num_frames > 1 and abs(video.fps - fps) > 0.01 * fps:
        count = max(1, int(round(video.num_frames * fps / video.fps)))
        index = np.minimum(np.round(np.arange(count) * video.fps / fps).astype(int), video.num_frames - 1)
        frames = frames[index]
    if frames.shape[1:3] == (height, width):
        return frames
    h, w = frames.shape[1:3]
    scale = max(height / h, width / w)
    new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
    top, left = (new_h - height) // 2, (new_w - width) // 2
    resized = [np.asarray(Image.fromarray(f).resize((new_w, new_h), Image.BICUBIC)) for f in frames]
    return np.stack(resized)[:, top : top + height, left : left + width]


def pad_frames(frames: np.ndarray, count: int) -> np.ndarray:
    """At least `count` frames: a short input (an image) repeats its last frame to fill whole latent frames."""
    if len(frames) >= count:
        return frames
    return np.concatenate([frames, np.repeat(frames[-1:], count - len(frames), 0)])


def new_frame_count(grid: Grid, num_frames) -> int:
    """About `num_frames` new frames, rounded to whole latent frames (4b); None: half the preset's clip."""
    k = grid.temporal_stride
    if num_frames is None:
        num_frames = grid.preset.num_frames - 1
    num_frames = limits.whole(num_frames, "num_frames", 1, grid.preset.max_frames - 1 - k)
    return max(1, int(round(num_frames / k))) * k


def context_latents(grid: Grid, available: int, new: int, extra_latents: int = 0) -> int:
    """How many latent frames of context fit beside `new` frames within the preset's window."""
    k = grid.temporal_stride
    room = (grid.preset.max_frames - 1 - new) // k - extra_latents
    if room < 0:
        raise ValueError(f"num_frames: at most {grid.preset.max_frames - 1 - 2 * k} new frames fit in one call.")
    return max(0, min(MAX_CONTEXT_LATENTS, room, available))


def seam_strength(grid: Grid, init_strength, known: np.ndarray) -> float:
    """`init_strength` as asked, or its default: 1 where new frames only continue given ones, else the preset's
    arrival_init_strength (a given frame follows a new one)."""
    if init_strength is not None:
        return limits.check_fraction(init_strength, "init_strength")
    arrives = bool(known[np.argmin(known) :].any())
    return grid.preset.arrival_init_strength if arrives else 1.0


def check_match_colour(value) -> bool:
    return limits.check_flag(value, "match_colour")


def reference_frames(references, height: int, width: int, init_strength: float) -> tuple[np.ndarray, ...]:
    """Reference images as RGB arrays; each a Video (its first frame) or an (H, W, 3) uint8 array."""
    images = tuple(r.frames[0] if isinstance(r, Video) else np.asarray(r) for r in references or ())
    for image in images:
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError("reference_images must be images: Video.load(path), or (H, W, 3) uint8 arrays.")
    if images and init_strength < 1:
        raise ValueError("init_strength below 1 cannot be combined with reference_images; leave it at 1.")
    return images


def blank(count: int, height: int, width: int) -> np.ndarray:
    return np.zeros((count, height, width, 3), np.uint8)


# ------------------------------------------------------------------------------------ workflows


def plan_generate(grid: Grid, request: GenerateRequest) -> Plan:
    prompt = limits.check_text(request.prompt, "prompt", required=True)
    num_frames = grid.preset.num_frames if request.num_frames is None else request.num_frames
    settings = resolve(grid, request.options, num_frames, image=num_frames == 1)  # text to image
    frames = blank(settings.num_frames, settings.height, settings.width)
    empty = frames[:0]
    timeline = Timeline(frames, np.zeros(len(frames), bool), empty, empty)
    references = reference_frames(request.reference_images, settings.height, settings.width, 1.0)
    return Plan("generate", prompt, settings, timeline, references=references)


def animates_first_frame(grid: Grid, plan: Plan) -> bool:
    """Whether this generate plan is made as an image first, then animated (`Preset.animate_first_frame`)."""
    animated = plan.task == "generate" and plan.settings.num_frames > 1 and not plan.references
    return grid.preset.animate_first_frame and animated


def makes_image(plan: Plan) -> bool:
    """Text to image: a generate plan of one frame with nothing given (a two-stage generate's first stage too).
    A restyled image is not one: it starts from the given image."""
    timeline = plan.timeline
    return plan.task == "generate" and len(timeline.known) == 1 and not timeline.known.any() and not plan.references


def plan_animate(plan: Plan, first_frame: np.ndarray) -> Plan:
    """A generate plan's second half: its window with the first frame (H, W, 3) given, the rest to make; the result
    is the whole window, that frame included, with the colours of that frame."""
    frames = plan.timeline.frames.copy()
    frames[0] = first_frame
    known = np.arange(len(frames)) == 0
    timeline = Timeline(frames, known, frames[:1], frames[:0])
    return Plan(plan.task, plan.prompt, plan.settings, timeline, plan.extra)


def plan_extend(grid: Grid, request: ExtendRequest) -> Plan:
    prompt = limits.check_text(request.prompt, "prompt", required=True)
    direction = limits.check_choice(request.direction, "direction", ("forward", "backward"))
    check_video(request.video, "video")
    height, width = grid_size(grid, request.video, request.options.height, request.options.width)
    source = fit(request.video, height, width, grid.preset.fps)
    k, n, new = grid.temporal_stride, len(source), new_frame_count(grid, request.num_frames)
    empty = source[:0]
    if direction == "forward":
        context = source[n - (context_latents(grid, (n - 1) // k, new) * k + 1) :]  # 4a+1 frames
        frames = np.concatenate([context, blank(new, height, width)])
        known = np.arange(len(frames)) < len(context)
        before, after, kept = source, empty, slice(None)
    else:  # the window opens with a latent frame of its own (4b+1 new frames); its earliest frame is dropped
        a = max(1, context_latents(grid, n // k, new + 1))
        context = pad_frames(source[: a * k], a * k)
        frames = np.concatenate([blank(new + 1, height, width), context])
        known = np.arange(len(frames)) > new
        before, after, kept = empty, source, slice(1, None)
    settings = resolve(grid, request.options, len(frames), height, width)
    strength = seam_strength(grid, request.init_strength, known)
    timeline = Timeline(frames, known, before, after, strength, kept, check_match_colour(request.match_colour))
    references = reference_frames(request.reference_images, height, width, strength)
    return Plan(f"extend {direction}", prompt, settings, timeline, {"new_frames": new}, references)


def plan_bridge(grid: Grid, request: TransitionRequest | LoopRequest) -> Plan:
    """Transition and loop: new frames from clip A's end to clip B's start (a loop's B is its own clip)."""
    prompt = limits.check_text(request.prompt, "prompt", required=True)
    is_loop = isinstance(request, LoopRequest)
    video_a = check_video(request.video, "video") if is_loop else check_video(request.video_a, "video_a")
    video_b = video_a if is_loop else check_video(request.video_b, "video_b")
    height, width = grid_size(grid, video_a, request.options.height, request.options.width)
    source_a, source_b = (fit(v, height, width, grid.preset.fps) for v in (video_a, video_b))
    k, bridge = grid.temporal_stride, new_frame_count(grid, request.num_frames)
    c = max(1, min(MAX_CONTEXT_LATENTS, len(source_b) // k))
    a = context_latents(grid, (len(source_a) - 1) // k, bridge, extra_latents=c)
    context_a = source_a[len(source_a) - (a * k + 1) :]
    context_b = pad_frames(source_b[: c * k], c * k)
    frames = np.concatenate([context_a, blank(bridge, height, width), context_b])
    known = np.ones(len(frames), bool)
    known[len(context_a) : len(context_a) + bridge] = False
    settings = resolve(grid, request.options, len(frames), height, width)
    strength = seam_strength(grid, request.init_strength, known)
    after = source_b[:0] if is_loop else source_b
    timeline = Timeline(frames, known, source_a, after, strength, match_colour=check_match_colour(request.match_colour))
    return Plan("loop" if is_loop else "transition", prompt, settings, timeline, {"new_frames": bridge})


def plan_restyle(grid: Grid, request: RestyleRequest) -> Plan:
    """SDEdit: the input's latents noised to t = strength, then denoised under the new prompt."""
    prompt = limits.check_text(request.prompt, "prompt", required=True)
    strength = grid.preset.restyle_strength if request.strength is None else request.strength
    strength = limits.check_fraction(strength, "strength", zero_ok=True)
    check_video(request.video, "video")
    height, width = grid_size(grid, request.video, request.options.height, request.options.width)
    source = fit(request.video, height, width, grid.preset.fps)
    n, k = len(source), grid.temporal_stride
    if n > grid.preset.max_frames:
        raise ValueError(f"video: restyle takes at most {grid.preset.max_frames} frames at {grid.preset.fps:g} fps.")
    frames = pad_frames(source, -(-(n - 1) // k) * k + 1)  # 4k+1 frames; the padding is cut off after
    settings = resolve(grid, request.options, len(frames), height, width)
    empty = source[:0]
    if strength == 0:  # every frame given: the input comes back as it is
        timeline = Timeline(frames, np.ones(len(frames), bool), empty, source)
    else:
        timeline = Timeline(frames, np.zeros(len(frames), bool), empty, empty, strength, slice(0, n))
    return Plan("restyle", prompt, settings, timeline, {"strength": float(strength)})


def plan(grid: Grid, request: Request) -> Plan:
    """Check `request` against the model and lay out its timeline; raises ValueError with one sentence."""
    match request:
        case GenerateRequest():
            return plan_generate(grid, request)
        case ExtendRequest():
            return plan_extend(grid, request)
        case TransitionRequest() | LoopRequest():
            return plan_bridge(grid, request)
        case RestyleRequest():
            return plan_restyle(grid, request)
    raise TypeError(f"not a request: {type(request).__name__}.")

"""One typed, frozen request per task: what the Python API, the CLI and the Space's endpoints ask the engine for.

None means "the model's default" everywhere (the preset's, or the checkpoint's `sora.json`). Requests are plain
data; `SoraPipeline.plan` checks one against the model and lays out its timeline before any model work.
"""

from dataclasses import dataclass, field, fields

from .video import Video


@dataclass(frozen=True, kw_only=True)
class Options:
    """What every task takes besides its own inputs."""

    negative_prompt: str | None = None
    height: int | None = None
    width: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    fast: bool = False  # fast mode (engine/fast.py); False keeps the exact path, reproducible against diffusers


@dataclass(frozen=True)
class GenerateRequest:
    """Text to video; num_frames=1 is text to image."""

    prompt: str
    num_frames: int | None = None
    reference_images: tuple = ()  # one to three images (H, W, 3) of a subject or style; VACE checkpoints only
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class ExtendRequest:
    """The source followed (forward) or preceded (backward) by about `num_frames` new frames."""

    video: Video
    prompt: str
    num_frames: int | None = None
    direction: str = "forward"
    init_strength: float | None = None
    match_colour: bool = True  # keep the source's colours at the seam; False lets the prompt change them
    reference_images: tuple = ()
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class TransitionRequest:
    """Clip A, about `num_frames` bridge frames, then clip B."""

    video_a: Video
    video_b: Video
    prompt: str
    num_frames: int | None = None
    init_strength: float | None = None
    match_colour: bool = True
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class LoopRequest:
    """The video, then bridge frames back to its first frame, so that it plays seamlessly on repeat."""

    video: Video
    prompt: str
    num_frames: int | None = None
    init_strength: float | None = None
    match_colour: bool = True
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class RestyleRequest:
    """SDEdit at `strength` (0 returns the input, 1 is plain generation); same length and size."""

    video: Video
    prompt: str
    strength: float | None = None
    options: Options = field(default_factory=Options)


Request = GenerateRequest | ExtendRequest | TransitionRequest | LoopRequest | RestyleRequest
REQUESTS: dict[str, type] = {
    "generate": GenerateRequest,
    "extend": ExtendRequest,
    "transition": TransitionRequest,
    "loop": LoopRequest,
    "restyle": RestyleRequest,
}
OPTION_NAMES = tuple(f.name for f in fields(Options))
VIDEO_FIELDS = ("video", "video_a", "video_b")
# diffusers' pipelines spell some settings their own way; a diffusers habit gets ours back in one sentence.
DIFFUSERS_NAMES = {
    "num_inference_steps": "steps",
    "guidance_scale": "guidance",
    "generator": "seed (a whole number)",
    "output_type": "no output type: every result is a Video, whose .frames is a numpy uint8 array",
    "num_videos_per_prompt": "one video a call: call again with another seed",
}


def source_of(request: Request):
    """The frames (T, H, W, 3) a workflow's new frames continue from (a transition's first clip); None for text to
    video."""
    for name in VIDEO_FIELDS:
        video = getattr(request, name, None)
        if video is not None:
            return video.frames
    return None


def check_names(names, allowed: tuple[str, ...]):
    """TypeError for a keyword the method does not take, saying ours where it is diffusers' name for it."""
    for name in names:
        if name in DIFFUSERS_NAMES:
            raise TypeError(f"{name} is diffusers' name; SoraPipeline takes {DIFFUSERS_NAMES[name]}.")
        if name not in allowed:
            raise TypeError(f"unexpected keyword argument {name!r}; the settings are {', '.join(OPTION_NAMES)}.")


def options_of(seed: int, given: dict) -> Options:
    """The shared settings a workflow method was given by name (`**options`), every name checked."""
    check_names(given, OPTION_NAMES)
    return Options(seed=seed, **given)


def field_names(kind: type) -> tuple[str, ...]:
    """A request's inputs by name, its options flattened in: what an interface must supply."""
    own = tuple(f.name for f in fields(kind) if f.name != "options")
    return own + OPTION_NAMES


def build(kind: type, values: dict) -> Request:
    """A request of `kind` from flat named values (an endpoint's or the CLI's); an unknown name is a TypeError."""
    unknown = set(values) - set(field_names(kind))
    if unknown:
        raise TypeError(f"{kind.__name__} has no field {sorted(unknown)[0]!r}.")
    options = Options(**{name: values[name] for name in OPTION_NAMES if name in values})
    own = {name: value for name, value in values.items() if name not in OPTION_NAMES}
    return kind(**own, options=options)

"""Serving requests from the outside world: check every parameter and upload before any GPU work, and
keep result files in a private, bounded temporary folder.

Errors are `ValueError` with one plain sentence (no traceback, no server path); the app shows them as they are.
"""

import math
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import limits
from .video import Video, VideoError
from .workflows import DEFAULT_STRENGTH

TASKS = ("generate", "image", "extend", "transition", "loop", "restyle")
MAX_STEPS = 100
MAX_GUIDANCE = 20.0
MAX_SEED = 2**32 - 1
OUTPUT_TTL_SECONDS = 300  # Gradio copies a result into its own cache before answering; ours is then spare


@dataclass
class Request:
    """A checked request: the pipeline method, its arguments, and the GPU seconds it needs."""

    task: str  # the SoraPipeline method
    prompt: str
    seed: int
    sources: tuple  # input Videos, before the prompt in the method's arguments
    kwargs: dict
    gpu_seconds: int
    enhance: bool = False  # rewrite the prompt first (inside the GPU call, for language-model enhancers)

    def run(self, pipe, prompt: str, **callbacks):
        return getattr(pipe, self.task)(*self.sources, prompt, **self.kwargs, **callbacks)


def text(value, name: str = "prompt", required: bool = True) -> str:
    value = "" if value is None else value
    if not isinstance(value, str):
        raise ValueError(f"The {name} must be text.")
    if required and not value.strip():
        raise ValueError("Please enter a prompt.")
    if len(value) > limits.MAX_PROMPT_CHARS:
        raise ValueError(f"The {name} is {len(value):,} characters long; the limit is {limits.MAX_PROMPT_CHARS:,}.")
    return value


def number(value, name: str, low: float, high: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number.") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}.")
    return value


def whole(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number from {low} to {high}.")
    value = number(value, name, low, high)
    if not value.is_integer():
        raise ValueError(f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def upload(path, name: str = "video") -> Video:
    """Only files that Gradio received as uploads: no URLs, and messages without server paths."""
    if not path:
        raise ValueError(f"Please upload a {name}.")
    if not isinstance(path, (str, Path)) or "://" in str(path):
        raise ValueError(f"The {name} must be an uploaded file, not a URL.")
    try:
        return Video.load(path)
    except VideoError as error:
        raise ValueError(str(error)) from None


class Service:
    def __init__(self, pipe, output_dir: Path | None = None):
        self.pipe, self.preset = pipe, pipe.preset
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="sora-space-"))
        self.output_dir.mkdir(parents=True, exist_ok=True)

    def frames_for(self, seconds, plus_one: bool) -> int:
        seconds = number(seconds, "seconds", 0, limits.max_seconds(self.preset))
        return limits.frames_for_seconds(self.preset, seconds, plus_one, self.pipe.temporal_stride)

    def request(
        self,
        task: str,
        prompt,
        sources=(),
        negative_prompt="",
        steps=None,
        guidance=None,
        seed=0,
        height=None,
        width=None,
        seconds=None,
        direction=None,
        strength=None,
        init_strength=None,
        enhance=False,
    ) -> Request:
        """Check everything a task needs; raises ValueError with one sentence."""
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}.")
        prompt = text(prompt)
        negative_prompt = text(negative_prompt, "negative prompt", required=False)
        seed = whole(seed, "seed", 0, MAX_SEED)
        steps = whole(self.preset.steps if steps is None else steps, "steps", 1, MAX_STEPS)
        guidance = number(self.preset.guidance if guidance is None else guidance, "guidance", 0, MAX_GUIDANCE)
        kwargs = dict(negative_prompt=negative_prompt, steps=steps, guidance=guidance, seed=seed)
        stride = self.pipe.spatial_stride
        if task in ("generate", "image"):
            kwargs["height"] = whole(self.preset.height if height is None else height, "height", stride, 4096)
            kwargs["width"] = whole(self.preset.width if width is None else width, "width", stride, 4096)
            kwargs["num_frames"] = 1 if task == "image" else self.frames_for(seconds, plus_one=True)
            self.pipe.settings(
                negative_prompt, kwargs["num_frames"], kwargs["height"], kwargs["width"], steps, guidance
            )
        elif task in ("extend", "transition", "loop"):
            kwargs["num_frames"] = self.frames_for(seconds, plus_one=False)
            value = 0.0 if init_strength in (None, "") else number(init_strength, "init_strength", 0, 1)
            if value > 0:  # 0 or empty: the workflow's own default (0 itself would keep no new frame)
                kwargs["init_strength"] = value
        if task == "extend":
            if direction not in ("forward", "backward"):
                raise ValueError('direction must be "forward" or "backward".')
            kwargs["direction"] = direction
        if task == "restyle":
            kwargs["strength"] = number(DEFAULT_STRENGTH if strength is None else strength, "strength", 0, 1)
        count = {"generate": 0, "image": 0, "transition": 2}.get(task, 1)
        if len(sources) != count:
            raise ValueError(f"{task} takes {count} uploaded file(s).")
        names = ["first clip", "second clip"] if count == 2 else ["video"]
        videos = tuple(upload(path, name) for path, name in zip(sources, names))
        frames = kwargs.get("num_frames", 0) + sum(v.num_frames for v in videos)
        height = kwargs.get("height", self.preset.height)
        width = kwargs.get("width", self.preset.width)
        seam_frames = kwargs.get("num_frames", 0) * {"extend": 1, "transition": 2, "loop": 2}.get(task, 0)
        budget = limits.gpu_seconds(
            self.preset,
            max(1, min(frames, self.preset.max_frames)),
            height,
            width,
            steps,
            enhance,
            seam_frames=seam_frames,
        )
        method = "generate" if task == "image" else task
        return Request(method, prompt, seed, videos, kwargs, budget, bool(enhance))

    def save(self, video: Video) -> str:
        """Write a result under a fresh random name; our copies older than five minutes are removed."""
        now = time.time()
        for old in self.output_dir.glob("*"):
            if now - old.stat().st_mtime > OUTPUT_TTL_SECONDS:
                old.unlink(missing_ok=True)
        suffix = ".png" if video.num_frames == 1 else ".mp4"
        video.metadata["app"] = "Sora Space"
        return str(video.save(self.output_dir / f"{uuid.uuid4().hex}{suffix}"))

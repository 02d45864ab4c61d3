"""An endpoint call's named parameters -> a checked job: the engine's plan (or a story's cards), the GPU seconds it
needs and whether to enhance its prompts first. Everything is checked here, by the engine's own rules, before any
GPU work; errors are `ValueError` or `TypeError` with one plain sentence. None means the model's default.
"""

from dataclasses import dataclass, replace

from ..engine import limits
from ..engine.pipeline import SoraPipeline
from ..engine.requests import (
    REQUESTS,
    VIDEO_FIELDS,
    GenerateRequest,
    Options,
    Request,
    build,
    field_names,
    source_of,
)
from ..engine.storyboard import Card, check_cards, keyframe_frames, segments, story_window
from ..engine.video import Video
from ..engine.workflows import Plan
from . import gpu_time, uploads
from .cards import story_cards

TASKS = ("generate", "image", "extend", "transition", "loop", "restyle", "storyboard")
STORY_SETTINGS = ("negative_prompt", "steps", "guidance", "seed", "height", "width", "fast")


def enhance_asked(values: dict) -> bool:
    """Takes `enhance` out of an endpoint's values: True or False (None, or absent, is False)."""
    enhance = values.pop("enhance", None)
    return False if enhance is None else limits.check_flag(enhance, "enhance")


@dataclass(frozen=True)
class Job:
    """A checked request: the engine's plan, the GPU seconds it needs, and whether to enhance its prompt first."""

    request: Request
    plan: Plan
    gpu_seconds: int
    enhance: bool = False  # rewrite the prompt first (inside the GPU call, for language-model enhancers)
    segment_seconds: int = 0  # a storyboard's alone: see StoryJob

    @property
    def prompts(self) -> tuple[str, ...]:
        return (self.plan.prompt,)

    @property
    def source(self):
        """The frames the prompt's new frames continue from (what a rewrite fills a short prompt from), or None."""
        return source_of(self.request)

    @property
    def seed(self) -> int:
        return self.plan.settings.seed

    def run(self, pipe: SoraPipeline, prompts: tuple[str, ...], progress=None, should_stop=None, sample=None) -> Video:
        """Sample the plan with its prompt (the enhanced one, or the user's), through `sample` (default
        `pipe.sample`)."""
        (prompt,) = prompts
        return (sample or pipe.sample)(replace(self.plan, prompt=prompt), progress, should_stop)


@dataclass(frozen=True)
class StoryJob:
    """A checked storyboard: its cards, the shared options and the GPU seconds the whole story needs."""

    cards: tuple[Card, ...]
    options: Options
    gpu_seconds: int
    enhance: bool = False
    reroll: int | None = None  # make only this card again, keeping every other frame of `previous`
    previous: Video | None = None
    # 0: the story runs in one GPU call of `gpu_seconds`. Otherwise it would not fit in one: each segment (one
    # sampling window) gets its own call of this many seconds.
    segment_seconds: int = 0

    @property
    def prompts(self) -> tuple[str, ...]:
        """One a card, in order (each enhanced alone, when asked)."""
        return tuple(card.prompt for card in self.cards)

    source = None  # a story's cards are rewritten as text to video

    @property
    def seed(self) -> int:
        return self.options.seed

    def run(self, pipe: SoraPipeline, prompts: tuple[str, ...], progress=None, should_stop=None, sample=None) -> Video:
        if len(prompts) != len(self.cards):
            raise ValueError(f"a story of {len(self.cards)} cards needs as many prompts; got {len(prompts)}.")
        cards = [replace(card, prompt=prompt) for card, prompt in zip(self.cards, prompts)]
        o = self.options
        settings = dict(negative_prompt=o.negative_prompt, height=o.height, width=o.width, fast=o.fast, sample=sample)
        if self.reroll is not None:
            settings.update(reroll=self.reroll, previous=self.previous)
        return pipe.storyboard(cards, o.seed, o.steps, o.guidance, progress, should_stop, **settings)


class JobBuilder:
    """Checks an endpoint's named parameters against the model's preset and rules."""

    def __init__(self, pipe: SoraPipeline):
        self.pipe, self.preset = pipe, pipe.preset

    def frames_for(self, seconds, plus_one: bool) -> int:
        """A length in seconds as frames: 4k+1 for a clip, 4k for frames added to one; None: the default."""
        p = self.preset
        if seconds is None:
            return p.num_frames if plus_one else p.num_frames - 1
        return limits.frames_for_seconds(seconds, p.fps, p.max_frames, plus_one, self.pipe.temporal_stride)

    def job(self, task: str, values: dict) -> "Job | StoryJob":
        """An endpoint's parameters by name -> a checked Job."""
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}.")
        if task == "storyboard":
            return self.story_job(values)
        values = {name: value for name, value in values.items() if value is not None}
        enhance = enhance_asked(values)
        kind = REQUESTS["generate" if task == "image" else task]
        if task != "restyle":
            seconds = values.pop("seconds", 0 if task == "image" else None)
            values["num_frames"] = self.frames_for(seconds, plus_one=task in ("generate", "image"))
        for name in VIDEO_FIELDS:
            if name in field_names(kind):
                values[name] = uploads.upload(values.get(name), uploads.VIDEO_NAMES[name])
        if values.get("reference_images") is not None:
            values["reference_images"] = uploads.references(values["reference_images"])
        request = build(kind, values)
        plan = self.pipe.plan(request)
        return Job(request, plan, gpu_time.request_seconds(self.pipe, task, plan, enhance), enhance)

    def story_job(self, values: dict) -> StoryJob:
        """`cards` as a list of {"prompt", "seconds"} objects (or [prompt, seconds] rows), checked before any GPU
        work: each prompt, each length, the card count and the total length."""
        values = dict(values)
        enhance = enhance_asked(values)
        keyframes = uploads.keyframes(values.pop("keyframes", None))
        cards = story_cards(values.pop("cards", None), self.preset.fps, keyframes)
        reroll, previous = values.pop("reroll", None), values.pop("previous", None)
        unknown = set(values) - set(STORY_SETTINGS)
        if unknown:
            raise TypeError(f"storyboard has no parameter {sorted(unknown)[0]!r}.")
        cards = check_cards(cards, self.preset.fps, self.pipe.temporal_stride)
        options = Options(**values)
        settings = self.pipe.plan(GenerateRequest(cards[0].prompt, 1, options=options)).settings  # checks them
        fitted = [keyframe_frames(self.pipe, card, settings.height, settings.width) for card in cards]
        windows = segments(self.pipe, cards, fitted)
        if reroll is not None:
            previous = self.previous_story(reroll, previous, cards)
            windows = windows[:1]  # one card made again: one bridge or extension
        seconds, split = gpu_time.story_seconds(self.pipe, settings, story_window(self.pipe), len(windows), enhance)
        return StoryJob(tuple(cards), options, seconds, enhance, reroll, previous, split)

    @staticmethod
    def previous_story(reroll, previous, cards) -> Video:
        """The storyboard video a card is re-rolled in, checked against the cards before any GPU work."""
        limits.whole(reroll, "reroll", 0, len(cards) - 1)
        video = uploads.upload(previous, "previous")
        bounds = video.metadata.get("cards")
        if not isinstance(bounds, list) or len(bounds) != len(cards):
            raise ValueError("previous must be a storyboard video of these cards (its metadata lists their frames).")
        return video

"""Serving requests from the outside world: an endpoint's named parameters become an engine request, checked by
the engine's own rules before any GPU work; results go to a private, bounded temporary folder.

Errors are `ValueError` with one plain sentence (no traceback, no server path); the app shows them as they are.
Parameters travel by name from the endpoint to the request (`requests.build`); None means the model's default.
"""

import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from ..engine import limits
from ..engine.fast import full_calls
from ..engine.pipeline import SoraPipeline
from ..engine.requests import REQUESTS, VIDEO_FIELDS, GenerateRequest, Options, Request, build, field_names
from ..engine.storyboard import MAX_CARDS, Card, check_cards, keyframe_frames, segments, story_window
from ..engine.vace import MAX_REFERENCES, is_vace
from ..engine.video import Video, VideoError
from ..engine.workflows import Plan
from . import budget

TASKS = ("generate", "image", "extend", "transition", "loop", "restyle", "storyboard")
OUTPUT_TTL_SECONDS = 300  # Gradio copies a result into its own cache before answering; ours is then spare
SEAM_WEIGHT = {"extend": 1, "transition": 2, "loop": 2}  # colour transfers per new frame (bridges blend two)
VIDEO_NAMES = {"video": "video", "video_a": "first clip", "video_b": "second clip"}


@dataclass(frozen=True)
class Job:
    """A checked request: the engine's plan, the GPU seconds it needs, and whether to enhance its prompt first."""

    request: Request
    plan: Plan
    gpu_seconds: int
    enhance: bool = False  # rewrite the prompt first (inside the GPU call, for language-model enhancers)

    @property
    def prompts(self) -> tuple[str, ...]:
        return (self.plan.prompt,)

    @property
    def seed(self) -> int:
        return self.plan.settings.seed

    segment_seconds: int = 0  # a storyboard's alone: see StoryJob

    def run(self, pipe: SoraPipeline, prompts: tuple[str, ...], progress=None, should_stop=None, sample=None) -> Video:
        """Sample the plan with its prompt (the enhanced one, or the user's), through `sample` (default
        `pipe.sample`)."""
        (prompt,) = prompts
        return (sample or pipe.sample)(replace(self.plan, prompt=prompt), progress, should_stop)


@dataclass(frozen=True)
class StoryJob:
    """A checked storyboard: its cards, the shared options and the GPU seconds the whole story needs."""

    cards: tuple
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


def story_cards(raw, fps: float, keyframes: tuple[Video, ...] = ()) -> list[Card]:
    """The API's cards -> Cards in frames. A card is {"prompt", "seconds"} with optional "keyframe" (which of the
    uploaded `keyframes` the card ends on, 1 = the first) and "match_colour" (True by default), or a row [prompt,
    seconds, keyframe, match_colour] whose last two may be left out or blank, as the Space's table sends them."""
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError('cards must be a non-empty list of {"prompt": ..., "seconds": ...} objects.')
    cards = []
    for i, card in enumerate(raw):
        if isinstance(card, dict):
            unknown = set(card) - set(CARD_FIELDS)
            if unknown:
                raise ValueError(
                    f"cards[{i}] has no field {sorted(unknown)[0]!r}; a card takes {', '.join(CARD_FIELDS)}."
                )
            fields = [card.get(name) for name in CARD_FIELDS]
        elif isinstance(card, (list, tuple)):
            fields = (list(card) + [None] * len(CARD_FIELDS))[: len(CARD_FIELDS)]
        else:
            raise ValueError(f'cards[{i}] must be a {{"prompt": ..., "seconds": ...}} object; got {card!r}.')
        prompt, seconds, keyframe, match_colour = fields
        seconds = limits.number(seconds, f"cards[{i}].seconds", 0.5, 60)
        match_colour = True if match_colour is None else limits.check_flag(match_colour, f"cards[{i}].match_colour")
        chosen = None
        if not blank(keyframe):
            if not keyframes:
                raise ValueError(f"cards[{i}].keyframe names an upload, but no keyframes were uploaded.")
            index = limits.whole(keyframe, f"cards[{i}].keyframe", 1, len(keyframes))
            chosen = keyframes[index - 1]
        cards.append(Card(prompt, max(4, round(seconds * fps)), keyframe=chosen, match_colour=match_colour))
    return cards


CARD_FIELDS = ("prompt", "seconds", "keyframe", "match_colour")


def blank(value) -> bool:
    """No value: None, "" or NaN (an empty cell of the Space's table, as the page sends it)."""
    return value is None or value == "" or (isinstance(value, float) and value != value)


def keyframe_uploads(paths) -> tuple[Video, ...]:
    """The storyboard's uploaded keyframes (images or clips), in order."""
    if paths is None:
        return ()
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if len(paths) > MAX_CARDS:
        raise ValueError(f"keyframes takes at most {MAX_CARDS} files, one a card; got {len(paths)}.")
    return tuple(upload(path, f"keyframes[{j + 1}]") for j, path in enumerate(paths))


def control_share(transformer) -> float:
    """A VACE checkpoint's control blocks per base block (each runs on the control tokens every step); 0 otherwise."""
    if not is_vace(transformer):
        return 0.0
    return len(transformer.config.vace_layers) / transformer.config.num_layers


def upload(path, name: str = "video") -> Video:
    """Only files that Gradio received as uploads: no URLs, and messages without server paths."""
    if not path:
        raise ValueError(f"{name}: please upload a file.")
    if not isinstance(path, (str, Path)) or "://" in str(path):
        raise ValueError(f"{name} must be an uploaded file, not a URL.")
    try:
        return Video.load(path)
    except VideoError as error:
        raise ValueError(str(error)) from None


def references(paths) -> tuple[Video, ...]:
    """Uploaded reference images (one to three); a single path counts as one."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if len(paths) > MAX_REFERENCES:
        raise ValueError(f"reference_images takes at most {MAX_REFERENCES} images; got {len(paths)}.")
    return tuple(upload(path, "reference image") for path in paths)


class Service:
    def __init__(self, pipe: SoraPipeline, output_dir: Path | None = None):
        self.pipe, self.preset = pipe, pipe.preset
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="sora-space-"))
        self.output_dir.mkdir(parents=True, exist_ok=True)

    def frames_for(self, seconds, plus_one: bool) -> int:
        """A length in seconds as frames: 4k+1 for a clip, 4k for frames added to one; None: the default."""
        if seconds is None:
            return self.preset.num_frames if plus_one else self.preset.num_frames - 1
        seconds = limits.number(seconds, "seconds", 0, budget.max_seconds(self.preset))
        return budget.frames_for_seconds(self.preset, seconds, plus_one, self.pipe.temporal_stride)

    def job(self, task: str, values: dict) -> "Job | StoryJob":
        """An endpoint's parameters by name -> a checked Job; raises ValueError with one sentence."""
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}.")
        if task == "storyboard":
            return self.story_job(values)
        values = {name: value for name, value in values.items() if value is not None}
        enhance = bool(values.pop("enhance", False))
        kind = REQUESTS["generate" if task == "image" else task]
        if task != "restyle":
            seconds = values.pop("seconds", 0 if task == "image" else None)
            values["num_frames"] = self.frames_for(seconds, plus_one=task in ("generate", "image"))
        for name in VIDEO_FIELDS:
            if name in field_names(kind):
                values[name] = upload(values.get(name), VIDEO_NAMES[name])
        if values.get("reference_images") is not None:
            values["reference_images"] = references(values["reference_images"])
        request = build(kind, values)
        plan = self.pipe.plan(request)
        return Job(request, plan, self.gpu_seconds(task, plan, enhance), enhance)

    def story_job(self, values: dict) -> "StoryJob":
        """`cards` as a list of {"prompt", "seconds"} objects (or [prompt, seconds] rows), checked before any GPU
        work: each prompt, each length, the card count and the total length."""
        values = dict(values)
        enhance = bool(values.pop("enhance", False))
        keyframes = keyframe_uploads(values.pop("keyframes", None))
        cards = story_cards(values.pop("cards", None), self.preset.fps, keyframes)
        reroll, previous = values.pop("reroll", None), values.pop("previous", None)
        unknown = set(values) - {"negative_prompt", "steps", "guidance", "seed", "height", "width", "fast"}
        if unknown:
            raise TypeError(f"storyboard has no parameter {sorted(unknown)[0]!r}.")
        cards = check_cards(cards, self.preset.fps, self.pipe.temporal_stride)
        options = Options(**values)
        first = self.pipe.plan(GenerateRequest(cards[0].prompt, 1, options=options))  # checks the settings
        fitted = [keyframe_frames(self.pipe, card, first.settings.height, first.settings.width) for card in cards]
        segments_ = segments(self.pipe, cards, fitted)
        settings = first.settings
        window = story_window(self.pipe)
        full_steps = full_calls(self.preset.fast, settings.steps) if settings.fast else None
        per_segment = budget.gpu_seconds(
            self.preset, window, settings.height, settings.width, settings.steps, full_steps=full_steps
        )
        if reroll is not None:
            previous = self.previous_story(reroll, previous, cards)
            segments_ = segments_[:1]  # one card made again: one bridge or extension
        whole = per_segment * len(segments_) + (budget.GPU_ENHANCE_SECONDS if enhance else 0)
        split = per_segment if whole > budget.GPU_MAX_SECONDS else 0  # one call per segment
        seconds = min(budget.GPU_MAX_SECONDS, whole)
        return StoryJob(tuple(cards), options, int(seconds), enhance, reroll, previous, split)

    @staticmethod
    def previous_story(reroll, previous, cards) -> Video:
        """The storyboard video a card is re-rolled in, checked against the cards before any GPU work."""
        limits.whole(reroll, "reroll", 0, len(cards) - 1)
        video = upload(previous, "previous")
        bounds = video.metadata.get("cards")
        if not isinstance(bounds, list) or len(bounds) != len(cards):
            raise ValueError("previous must be a storyboard video of these cards (its metadata lists their frames).")
        return video

    def gpu_seconds(self, task: str, plan: Plan, enhance: bool) -> int:
        settings = plan.settings
        seam_frames = plan.extra.get("new_frames", 0) * SEAM_WEIGHT.get(task, 0)
        return budget.gpu_seconds(
            self.preset,
            settings.num_frames,
            settings.height,
            settings.width,
            settings.steps,
            enhance,
            guidance=settings.guidance > 1,
            seam_frames=seam_frames,
            control_share=control_share(self.pipe.transformer),
            full_steps=full_calls(self.preset.fast, settings.steps) if settings.fast else None,
        )

    def save(self, video: Video) -> str:
        """Write a result under a fresh random name; our copies older than five minutes are removed."""
        now = time.time()
        for old in self.output_dir.glob("*"):
            if now - old.stat().st_mtime > OUTPUT_TTL_SECONDS:
                old.unlink(missing_ok=True)
        suffix = ".png" if video.num_frames == 1 else ".mp4"
        video.metadata["app"] = "Sora Space"
        return str(video.save(self.output_dir / f"{uuid.uuid4().hex}{suffix}"))

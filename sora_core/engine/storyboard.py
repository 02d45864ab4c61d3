"""The storyboard: cards (a prompt and a length each, optionally a keyframe) chained along one timeline, up to a
minute long.

The first card is generated; each next card extends the story forward with its own prompt from its last frames;
a card with a keyframe is reached by a transition into it. Only one sampling window is in memory at a time, and
the story is kept as uint8 frames. Card i starts at sum(n_j for j < i): every segment aims at its card's nominal
cumulative end, so rounding to whole latent frames (4 pixel frames) never accumulates. Each segment's new frames
take the colours of the story's frames beside its seam, as an extension's do; a card turns that off with
`match_colour=False` when its colours are meant to change.

Matching to the neighbouring frames, not to the story's first frame: a frame's whole colour distribution, forced
onto frames whose content has moved on (an object gone, another come), painted speckles and edge lines that the
next segments continued. On the bundled model, a minute of "a red ball bouncing on a gray background" ended with the
border's median colour 6 levels from the first frame's and its pixels' spread 10x the first frame's (first-frame
anchor), against 3 levels and a flat background (neighbours); over 6 three-card stories, 4 of 12 cuts held
(first-frame anchor) against 12 of 12.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import limits
from .requests import ExtendRequest, GenerateRequest, Options, TransitionRequest
from .video import Video
from .workflows import Plan, check_video, fit, plan_bridge, plan_extend, plan_generate

MAX_CARDS = 24
CONTEXT_FRAMES = 9  # the most context a segment reads (workflows.MAX_CONTEXT_LATENTS latent frames)


@dataclass(frozen=True)
class Card:
    prompt: str
    num_frames: int
    keyframe: Video | None = None  # an image or clip the story must pass through: it ends this card
    match_colour: bool = True


def check_cards(cards, fps: float, temporal_stride: int = 4) -> list[Card]:
    """Cards from `Card`s or (prompt, num_frames) pairs; one sentence for anything wrong."""
    if not isinstance(cards, (list, tuple)) or not cards:
        raise ValueError("cards must be a non-empty list of (prompt, num_frames) pairs or Card objects.")
    if len(cards) > MAX_CARDS:
        raise ValueError(f"cards: at most {MAX_CARDS} cards; got {len(cards)}.")
    checked = []
    for i, card in enumerate(cards):
        if isinstance(card, (tuple, list)) and len(card) == 2:
            card = Card(*card)
        if not isinstance(card, Card):
            raise ValueError(f"cards[{i}] must be a (prompt, num_frames) pair or a Card; got {card!r}.")
        limits.check_text(card.prompt, f"cards[{i}].prompt", required=True)
        limits.whole(
            card.num_frames, f"cards[{i}].num_frames", temporal_stride, int(limits.MAX_STORY_SECONDS * fps) + 1
        )
        if card.keyframe is not None:
            check_video(card.keyframe, f"cards[{i}].keyframe")
        checked.append(replace(card, num_frames=int(card.num_frames)))
    limits.check_story_seconds(sum(card.num_frames for card in checked) / fps, fps)
    return checked


def nominal_ends(cards: list[Card]) -> list[int]:
    return list(np.cumsum([card.num_frames for card in cards]))


def story_window(pipe) -> int:
    """Frames one sampling window of a story holds: the model's default clip length, what it was made for. Longer
    windows drift: in one 65-frame window (its maximum) sora-tiny, trained on 17- and 33-frame clips, turned "a
    yellow ball standing still on a black background" green; in 17- or 33-frame windows the minute stayed black."""
    return max(pipe.preset.num_frames, CONTEXT_FRAMES + pipe.temporal_stride)


def segment_frames(pipe, wanted: int) -> int:
    """New frames one forward extension may add, towards `wanted`: whole latent frames, within one window."""
    k = pipe.temporal_stride
    most = (story_window(pipe) - 1 - (CONTEXT_FRAMES - 1)) // k * k
    return int(min(most, max(k, round(wanted / k) * k)))


class Story:
    """The frames so far (uint8 chunks), the card boundaries and the progress over every segment."""

    def __init__(self, pipe, progress, should_stop, sample=None):
        self.pipe, self.chunks, self.starts = pipe, [], []
        self.sample = sample or pipe.sample  # the Space passes one GPU call per segment for long stories
        self.progress, self.should_stop, self.steps_done = progress, should_stop, 0

    @property
    def length(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def tail(self) -> Video:
        return Video(np.concatenate(self.chunks)[-CONTEXT_FRAMES:], fps=self.pipe.preset.fps)

    def run(self, plan: Plan, total_steps: int) -> np.ndarray:
        """Sample one segment; returns its new frames only (the context it read is already in the story)."""
        if self.should_stop is not None and self.should_stop():
            raise InterruptedError("Generation was stopped.")
        done, total_steps = self.steps_done, total_steps or plan.settings.steps

        def report(step, total):
            if self.progress is not None:
                self.progress(done + step, total_steps)

        video = self.sample(plan, report, self.should_stop)
        self.steps_done += plan.settings.steps
        return video.frames[len(plan.timeline.before) :]

    def add(self, frames: np.ndarray):
        self.chunks.append(np.ascontiguousarray(frames, dtype=np.uint8))


def coloured(plan: Plan, match_colour: bool) -> Plan:
    """The plan with its new frames matched to the frames beside its seams, or not matched at all."""
    return replace(plan, timeline=replace(plan.timeline, match_colour=match_colour))


# ------------------------------------------------------------------------------------ the segments


@dataclass(frozen=True)
class Segment:
    kind: str  # "generate", "extend", "backward" (new frames before a keyframe), "bridge" (into a keyframe)
    card: int
    frames: int  # new frames asked for


def keyframe_frames(pipe, card: Card, height: int, width: int) -> np.ndarray | None:
    return None if card.keyframe is None else fit(card.keyframe, height, width, pipe.preset.fps)


def segments(pipe, cards: list[Card], keyframes: list) -> list[Segment]:
    """Every sampling call of the story, in order, with the new frames each asks for: each card's segments aim at
    its nominal cumulative end, so the story's length tracks the nominal positions and errors never add up."""
    k, window = pipe.temporal_stride, story_window(pipe)
    most = segment_frames(pipe, window * 100)  # the most new frames one segment adds
    plan, length = [], 0
    for i, end in enumerate(nominal_ends(cards)):
        key = 0 if keyframes[i] is None else len(keyframes[i])
        if i == 0 and key:  # the story opens on frames leading into the keyframe
            new = max(k, round((end - key) / k) * k)
            plan.append(Segment("backward", 0, new))
            length = new + key
            continue
        if i == 0:
            first = min(window, max(1, round((end - 1) / k) * k + 1))
            plan.append(Segment("generate", 0, first))
            length = first
        room = most if key else 0  # with a keyframe, the last segment is the bridge into it
        while end - key - length - room >= k / 2:
            new = segment_frames(pipe, end - key - length - room)
            plan.append(Segment("extend", i, new))
            length += new
        if key:
            new = segment_frames(pipe, end - key - length)
            plan.append(Segment("bridge", i, new))
            length += new + key
    return plan


def segment_plan(pipe, story: Story, segment: Segment, card: Card, keyframe, options: Options) -> Plan:
    grid = pipe.grid
    if segment.kind == "generate":
        return coloured(plan_generate(grid, GenerateRequest(card.prompt, segment.frames, options=options)), False)
    if segment.kind == "backward":
        request = ExtendRequest(Video(keyframe, fps=pipe.preset.fps), card.prompt, segment.frames, "backward")
        return coloured(plan_extend(grid, replace(request, options=options)), card.match_colour)
    if segment.kind == "extend":
        request = ExtendRequest(story.tail(), card.prompt, segment.frames, options=options)
        return coloured(plan_extend(grid, request), card.match_colour)
    video_b = Video(keyframe, fps=pipe.preset.fps)
    request = TransitionRequest(story.tail(), video_b, card.prompt, segment.frames, options=options)
    return coloured(plan_bridge(grid, request), card.match_colour)


def storyboard(
    pipe,
    cards,
    seed: int = 0,
    steps: int | None = None,
    guidance: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    negative_prompt: str | None = None,
    height: int | None = None,
    width: int | None = None,
    fast: bool = False,
    sample: Callable | None = None,
) -> Video:
    """The whole story; its metadata records each card's prompt and [start, end) frames. `sample(plan, progress,
    should_stop)` samples each segment (default `pipe.sample`)."""
    cards = check_cards(cards, pipe.preset.fps, pipe.temporal_stride)
    options = Options(
        negative_prompt=negative_prompt, height=height, width=width, steps=steps, guidance=guidance, fast=fast
    )
    options = replace(options, seed=limits.check_seed(seed))
    h = pipe.preset.height if height is None else height
    w = pipe.preset.width if width is None else width
    keyframes = [keyframe_frames(pipe, card, h, w) for card in cards]
    story = Story(pipe, progress, should_stop, sample)
    plan = segments(pipe, cards, keyframes)
    resolved = plan_generate(pipe.grid, GenerateRequest(cards[0].prompt, 1, options=options)).settings
    total_steps = len(plan) * resolved.steps
    for n, segment in enumerate(plan):
        card = cards[segment.card]
        if segment.card >= len(story.starts):
            story.starts.append(story.length if segment.kind != "backward" else 0)
        options_n = replace(options, seed=options.seed + n)  # each segment its own noise, all from one seed
        frames = story.run(segment_plan(pipe, story, segment, card, keyframes[segment.card], options_n), total_steps)
        story.add(frames)
    return finish(pipe, story, cards, resolved)


def finish(pipe, story: Story, cards: list[Card], settings) -> Video:
    frames = np.concatenate(story.chunks)
    ends = story.starts[1:] + [len(frames)]
    metadata = dict(
        task="storyboard",
        model=pipe.preset.name,
        seed=settings.seed,
        steps=settings.steps,
        guidance=settings.guidance,
        fast=settings.fast,
        cards=[
            {"prompt": card.prompt, "start": int(start), "end": int(end)}
            for card, start, end in zip(cards, story.starts, ends)
        ],
    )
    return Video(frames, fps=pipe.preset.fps, metadata=metadata)


# ------------------------------------------------------------------------------------ re-rolling one card


def reroll(
    pipe, cards, k: int, previous: Video, seed: int = 0, progress=None, should_stop=None, sample=None, **settings
) -> Video:
    """Card k made again (with `seed`), every other frame of `previous` kept exactly: a bridge from card k - 1's
    last frames into card k + 1's first; the first card a backward extension from the second, the last a forward
    extension from the one before. The boundaries are read from `previous`'s metadata."""
    cards = check_cards(cards, pipe.preset.fps, pipe.temporal_stride)
    bounds = previous.metadata.get("cards") if isinstance(previous, Video) else None
    if not bounds or len(bounds) != len(cards):
        raise ValueError("previous must be a storyboard video of these cards (its metadata lists their frames).")
    limits.whole(k, "reroll", 0, len(cards) - 1)
    if len(cards) == 1:
        return storyboard(pipe, cards, seed, progress=progress, should_stop=should_stop, sample=sample, **settings)
    frames, fps = previous.frames, pipe.preset.fps
    start, end = bounds[k]["start"], bounds[k]["end"]
    card, options = cards[k], Options(seed=limits.check_seed(seed), **settings)
    story = Story(pipe, progress, should_stop, sample)
    grid = pipe.grid
    if k == 0:
        request = ExtendRequest(Video(frames[end : end + 8], fps=fps), card.prompt, end, "backward", options=options)
        new = story.run(coloured(plan_extend(grid, request), card.match_colour), 0)
        made = new[: -min(8, len(frames) - end)]
    elif k == len(cards) - 1:
        request = ExtendRequest(Video(frames[:start][-CONTEXT_FRAMES:], fps=fps), card.prompt, len(frames) - start)
        made = story.run(coloured(plan_extend(grid, replace(request, options=options)), card.match_colour), 0)
    else:
        tail, head = Video(frames[:start][-CONTEXT_FRAMES:], fps=fps), Video(frames[end : end + 8], fps=fps)
        request = TransitionRequest(tail, head, card.prompt, end - start, options=options)
        plan = coloured(plan_bridge(grid, request), card.match_colour)
        made = story.run(plan, 0)[: plan.timeline.new_frames]
    result = np.concatenate([frames[:start], made, frames[end:]])
    shift = len(made) - (end - start)
    moved = [
        {**b, "start": b["start"] + (shift if i > k else 0), "end": b["end"] + (shift if i >= k else 0)}
        for i, b in enumerate(bounds)
    ]
    return Video(result, fps=fps, metadata={**previous.metadata, "cards": moved, "rerolled": k, "seed": seed})

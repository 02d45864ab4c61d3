"""Measure the storyboard on a toy-world model: do the cards show their motions, do the cuts hold, does a minute
keep its colours?  `python -m sora_core.evaluate --story` prints both tables.

- Three cards, one object, motions right -> down -> left (3 s each): each card's frames, 4 trimmed at each end, read
  by the detector (colour and motion right), and each cut measured as a seam.
- One card of a minute: the asked object (colour and shape) on the asked background in the last 33 frames, and the
  background's drift (the border's median colour) from the first frame to the last.
"""

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import world as toyworld
from .detector import Seam, border_colour, read, seam

MOTIONS = ("moving right", "moving down", "moving left")
TRIM = 4  # frames left out at each end of a card: the cut's neighbourhood belongs to both cards


@dataclass
class CardReading:
    asked: str  # the card's motion
    color: str | None
    motion: str | None
    ok: bool  # colour and motion right


@dataclass
class ThreeCards:
    caption: str  # the first card's prompt
    cards: list[CardReading]
    cuts: list[Seam]
    frames: np.ndarray = field(repr=False)  # (T, H, W, 3) the story
    bounds: list[dict] = field(repr=False)  # the story's metadata["cards"]

    @property
    def ok(self) -> bool:
        return all(card.ok for card in self.cards) and all(cut.ok for cut in self.cuts)


def three_cards(pipe, thing: toyworld.Thing, background: str, steps: int, size, seed: int, fast: bool = False):
    """One three-card story of `thing` on `background`, read card by card and cut by cut."""
    frames_per_card = round(3 * pipe.preset.fps)
    captions = [toyworld.Scene((toyworld.Thing(thing.shape, thing.color, m),), background).caption() for m in MOTIONS]
    story = pipe.storyboard(
        [(caption, frames_per_card) for caption in captions],
        seed=seed,
        steps=steps,
        height=size[0],
        width=size[1],
        fast=fast,
    )
    frames, bounds = story.frames, story.metadata["cards"]
    cards = []
    for motion, bound in zip(MOTIONS, bounds):
        reading = read(frames[bound["start"] + TRIM : bound["end"] - TRIM])
        ok = reading.color == thing.color and reading.motion == motion
        cards.append(CardReading(motion, reading.color, reading.motion, ok))
    cuts = [seam(frames, bound["start"]) for bound in bounds[1:]]
    return ThreeCards(captions[0], cards, cuts, frames, bounds)


def save_strip(story: ThreeCards, path, per_card: int = 6) -> None:
    """A PNG of the story: one row a card, `per_card` frames evenly spaced across it."""
    rows = []
    for bound in story.bounds:
        picks = np.linspace(bound["start"], bound["end"] - 1, per_card).round().astype(int)
        rows.append(
            np.concatenate([np.pad(story.frames[i], ((2, 2), (2, 2), (0, 0)), constant_values=255) for i in picks], 1)
        )
    Image.fromarray(np.concatenate(rows, 0)).save(path)


@dataclass
class Minute:
    caption: str
    color: str | None  # read in the last 33 frames
    shape: str | None
    background: str
    drift: float  # the largest channel change of the border's median colour, first frame to last, 0-255

    def ok(self, thing: toyworld.Thing, background: str) -> bool:
        asked = (self.color, self.shape, self.background) == (thing.color, thing.shape, background)
        return asked and self.drift <= 6


def minute(pipe, thing: toyworld.Thing, background: str, steps: int, size, seed: int, fast: bool = False) -> Minute:
    """One single-card story of 60 s (481 frames on sora-tiny)."""
    caption = toyworld.Scene((thing,), background).caption()
    num_frames = round(60 * pipe.preset.fps) + 1
    story = pipe.storyboard([(caption, num_frames)], seed=seed, steps=steps, height=size[0], width=size[1], fast=fast)
    frames = story.frames
    end = read(frames[-33:])
    drift = float(np.abs(border_colour(frames[-1:]) - border_colour(frames[:1])).max())
    return Minute(caption, end.color, end.shape, end.background, drift)


def report(pipe, steps: int, size, stories: int = 4, fast: bool = False, strip=None) -> None:
    """Print the three-card table for `stories` held-out objects (seeds 0, 1, ...) and one minute-long story;
    `strip`: a path to save the first story's frames at (`save_strip`)."""
    rng = np.random.default_rng(0)
    pool = [(thing, bg) for thing, bg in toyworld.all_combinations(held_out=True) if thing.motion in MOTIONS]
    print("| story (cards: right, down, left) | card 1 | card 2 | card 3 | cut 1 jump/bound px | cut 2 | all right |")
    print("|---|---|---|---|---|---|---|")
    right = 0
    for seed in range(stories):
        thing, background = pool[rng.integers(len(pool))]
        story = three_cards(pipe, thing, background, steps, size, seed, fast)
        if strip and seed == 0:
            save_strip(story, strip)
        right += story.ok
        cards = " | ".join(f"{c.color} {c.motion} {'✓' if c.ok else '✗'}" for c in story.cards)
        cuts = " | ".join(f"{c.jump:.1f}/{c.bound:.1f} {'✓' if c.ok else '✗'}" for c in story.cuts)
        print(f"| {story.caption} | {cards} | {cuts} | {'yes' if story.ok else 'no'} |", flush=True)
    print(f"\nthree-card stories all right: {right} of {stories}")
    thing, background = toyworld.Thing("ball", "red", "bouncing"), "gray"
    long = minute(pipe, thing, background, steps, size, seed=0, fast=fast)
    verdict = "yes" if long.ok(thing, background) else "no"
    print(
        f"one minute of '{long.caption}': last 33 frames {long.color} {long.shape} on {long.background}, "
        f"background drift {long.drift:.1f} levels; as asked within 6 levels: {verdict}"
    )

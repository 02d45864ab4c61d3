"""Measure the seams of the workflows that join new frames to given ones: extend both ways, bridge two clips, loop
one. `python -m sora_core.evaluate --seams 6` prints the six seams of each of seeds 0-5 and counts them.

Each seam: the jump and the colour changes where new frames meet the source (within the detector's bounds?), the
source frames beside it back pixel for pixel, the new frames' speed against the source's (the object's median
step; within SPEED_TOLERANCE?), and the shape they draw (an extension should keep the source's).
"""

from dataclasses import dataclass

import numpy as np

from ..engine.video import Video
from . import world as toyworld
from .detector import Seam, median_step, read, seam

SPEED_TOLERANCE = 0.3  # new frames move at the source's speed when their median step is within 30 % of it


@dataclass
class SeamCheck:
    seam: Seam  # where new frames meet the source: jump, colour changes, bound
    source_kept: bool  # the source frames next to it came back pixel for pixel
    step: float  # the object's median step in the new frames (px): did continuity cost motion?
    source_step: float  # the same in the source clip on this seam's side
    shape: str | None  # the shape the new frames read: an extension should keep the source's

    @property
    def at_source_speed(self) -> bool:
        return abs(self.step - self.source_step) <= SPEED_TOLERANCE * self.source_step


def seams(pipe, steps: int, size: tuple[int, int], seed: int = 0, fast: bool = False) -> dict[str, SeamCheck]:
    """Extend both ways, bridge two clips and loop one; measure every seam (six: a bridge and a loop have two each).
    The source is a red ball moving right; a bridge leads from it to a blue square moving left."""
    rng = np.random.default_rng(seed)
    red = toyworld.Scene((toyworld.Thing("ball", "red", "moving right"),), "black")
    blue = toyworld.Scene((toyworld.Thing("square", "blue", "moving left"),), "black")
    clip_a = Video(toyworld.render(red, *size, 17, rng, inside=True)[0], fps=pipe.preset.fps)
    clip_b = Video(toyworld.render(blue, *size, 17, rng, inside=True)[0], fps=pipe.preset.fps)
    caption = red.caption()
    a, b = clip_a.frames, clip_b.frames
    a_step, b_step = median_step(read(a)), median_step(read(b))

    def check(frames, at: int, kept: bool, new_frames, source_step: float) -> SeamCheck:
        new = read(new_frames)
        return SeamCheck(seam(frames, at), kept, median_step(new), source_step, new.shape)

    out, run = {}, dict(steps=steps, seed=seed, fast=fast)
    forward = pipe.extend(clip_a, caption, num_frames=16, direction="forward", **run).frames
    out["extend forward"] = check(forward, 17, np.array_equal(forward[:17], a), forward[17:], a_step)
    backward = pipe.extend(clip_a, caption, num_frames=16, direction="backward", **run).frames
    new = len(backward) - 17
    out["extend backward"] = check(backward, new, np.array_equal(backward[new:], a), backward[:new], a_step)
    bridge = pipe.transition(clip_a, clip_b, "a ball on a black background", num_frames=16, **run).frames
    out["transition A->bridge"] = check(bridge[:33], 17, np.array_equal(bridge[:17], a), bridge[17:33], a_step)
    out["transition bridge->B"] = check(bridge[17:], 16, np.array_equal(bridge[-17:], b), bridge[17:33], b_step)
    looped = pipe.loop(clip_a, caption, num_frames=16, **run).frames
    kept = np.array_equal(looped[:17], a)
    out["loop, source -> new"] = check(looped, 17, kept, looped[17:], a_step)
    out["loop, new -> source"] = check(np.concatenate([looped[17:], looped[:17]]), 16, kept, looped[17:], a_step)
    return out


def report(pipe, steps: int, size: tuple[int, int], seeds: int = 1, fast: bool = False) -> list[SeamCheck]:
    """Print every seam of seeds 0..seeds-1 as a table row, then the counts; returns the checks."""
    print(
        "\n| seed | seam | jump px | bound px | object Δ | background Δ | within bounds | source kept exactly "
        "| new frames' step px (source's) | at the source's speed | new frames' shape |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    checks = []
    yes = {True: "yes", False: "no"}
    for seed in range(seeds):
        for name, c in seams(pipe, steps, size, seed=seed, fast=fast).items():
            s = c.seam
            print(
                f"| {seed} | {name} | {s.jump:.1f} | {s.bound:.1f} | {s.object_change:.1f} | "
                f"{s.background_change:.1f} | {yes[s.ok]} | {yes[c.source_kept]} | {c.step:.1f} ({c.source_step:.1f}) "
                f"| {yes[c.at_source_speed]} | {c.shape} |",
                flush=True,
            )
            checks.append(c)
    total = len(checks)
    print(
        f"seams within bounds: {sum(c.seam.ok for c in checks)} of {total}; sources kept exactly: "
        f"{sum(c.source_kept for c in checks)} of {total}; new frames at the source's speed (within "
        f"{SPEED_TOLERANCE:.0%}): {sum(c.at_source_speed for c in checks)} of {total}"
    )
    return checks

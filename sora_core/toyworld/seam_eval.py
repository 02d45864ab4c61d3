"""Measure the seams of the workflows that join new frames to given ones: extend both ways, bridge two clips, loop
one. `python -m sora_core.evaluate --seams 6` prints the six seams of each of seeds 0-5 and counts them.

Each seam: the jump and the colour changes where new frames meet the source (within the detector's bounds?), the
source frames beside it back pixel for pixel, the new frames' speed against the source's (the object's median
step; within SPEED_TOLERANCE?), no jump inside the new frames (a bridge made of parts must not hide its jump between
the seams), one object in every new frame, and the shape they draw (an extension should keep the source's).
"""

from dataclasses import dataclass

import numpy as np

from ..engine.video import Video
from . import world as toyworld
from .detector import FOREGROUND_THRESHOLD, Reading, Seam, border_colour, count_objects, median_step, read, seam

SPEED_TOLERANCE = 0.3  # new frames move at the source's speed when their median step is within 30 % of it
# ... or within this many pixels a frame: the detector's own jitter (a still object's VAE round trip reads 0.15 px),
# which a relative tolerance cannot absorb where the source stands still
SPEED_FLOOR = 0.5


@dataclass
class SeamCheck:
    seam: Seam  # where new frames meet the source: jump, colour changes, bound
    source_kept: bool  # the source frames next to it came back pixel for pixel
    step: float  # the object's median step in the new frames (px), wholly inside the frame: did continuity cost motion?
    source_step: float  # the same in the source clip on this seam's side
    shape: str | None  # the shape the new frames read: an extension should keep the source's
    one_object: bool = True  # no new frame shows two objects (a cross-fade's ghost, a second object)
    inner_jump: float = 0.0  # the new frames' largest move a frame (px), across frames the object is missing from

    @property
    def at_source_speed(self) -> bool:
        return abs(self.step - self.source_step) <= max(SPEED_TOLERANCE * self.source_step, SPEED_FLOOR)

    @property
    def smooth(self) -> bool:
        """No jump inside the new frames: no move a frame beyond the bound the seam is held to."""
        return self.inner_jump <= self.seam.bound


def inside_step(frames: np.ndarray) -> float:
    """The object's median step (px) between neighbouring frames (T, H, W, 3) that both show it wholly inside the
    frame: the centre of an object half out of the frame moves at half its speed, which read an object leaving the
    frame as a frozen one. All frames where fewer than two such steps exist."""
    reading = read(frames)
    differences = np.abs(frames.astype(np.float32) - border_colour(frames)).sum(-1)  # (T, H, W)
    masks = differences > FOREGROUND_THRESHOLD
    edges = masks[:, 0].any(1) | masks[:, -1].any(1) | masks[:, :, 0].any(1) | masks[:, :, -1].any(1)  # (T,)
    steps = np.linalg.norm(np.diff(reading.centers, axis=0), axis=1)
    both_inside = ~edges[:-1] & ~edges[1:] & ~np.isnan(steps)
    return float(np.median(steps[both_inside])) if both_inside.sum() >= 2 else median_step(reading)


def largest_move(reading: Reading) -> float:
    """The largest distance between two successive sightings of the object, per frame between them (px): a
    jump, or an object that fades out in one place and back in at another."""
    seen = np.flatnonzero(~np.isnan(reading.centers[:, 0]))
    if len(seen) < 2:
        return 0.0
    moves = np.linalg.norm(np.diff(reading.centers[seen], axis=0), axis=1) / np.diff(seen)
    return float(moves.max())


# Sources of every kind for `--varied`: (shape, colour, motion, background) of clip A, then of clip B (a bridge's
# end), a pair per seed in turn; every shape, several colours and each background and motion.
VARIED = [
    (("triangle", "orange", "moving right", "gray"), ("triangle", "orange", "moving left", "gray")),
    (("square", "yellow", "moving left", "white"), ("ball", "red", "moving right", "white")),
    (("ball", "purple", "moving down", "white"), ("square", "green", "moving up", "white")),
    (("triangle", "blue", "moving up", "gray"), ("ball", "yellow", "moving down", "gray")),
    (("square", "green", "moving right", "black"), ("triangle", "white", "moving left", "black")),
    (("ball", "white", "bouncing", "gray"), ("square", "purple", "standing still", "gray")),
]
PLAIN = (("ball", "red", "moving right", "black"), ("square", "blue", "moving left", "black"))


def scene(shape: str, colour: str, motion: str, background: str) -> toyworld.Scene:
    return toyworld.Scene((toyworld.Thing(shape, colour, motion),), background)


def seams(
    pipe, steps: int, size: tuple[int, int], seed: int = 0, fast: bool = False, varied: bool = False
) -> dict[str, SeamCheck]:
    """Extend both ways, bridge two clips and loop one; measure every seam (six: a bridge and a loop have two each).
    The source is a red ball moving right and a bridge leads to a blue square moving left, or (`varied`) the
    seed's pair of `VARIED`; the prompts are the source's caption."""
    rng = np.random.default_rng(seed)
    first, second = (scene(*spec) for spec in (VARIED[seed % len(VARIED)] if varied else PLAIN))
    clip_a = Video(toyworld.render(first, *size, 17, rng, inside=True)[0], fps=pipe.preset.fps)
    clip_b = Video(toyworld.render(second, *size, 17, rng, inside=True)[0], fps=pipe.preset.fps)
    caption = first.caption()
    a, b = clip_a.frames, clip_b.frames
    a_step, b_step = inside_step(a), inside_step(b)

    def check(frames, at: int, kept: bool, new_frames, source_step: float) -> SeamCheck:
        new = read(new_frames)
        one = all(count_objects(frame) <= 1 for frame in new_frames)
        step = inside_step(new_frames)
        return SeamCheck(seam(frames, at), kept, step, source_step, new.shape, one, largest_move(new))

    out, run = {}, dict(steps=steps, seed=seed, fast=fast)
    forward = pipe.extend(clip_a, caption, num_frames=16, direction="forward", **run).frames
    out["extend forward"] = check(forward, 17, np.array_equal(forward[:17], a), forward[17:], a_step)
    backward = pipe.extend(clip_a, caption, num_frames=16, direction="backward", **run).frames
    new = len(backward) - 17
    out["extend backward"] = check(backward, new, np.array_equal(backward[new:], a), backward[:new], a_step)
    between = f"a {first.things[0].shape} on a {first.background} background"
    bridge = pipe.transition(clip_a, clip_b, between, num_frames=16, **run).frames
    out["transition A->bridge"] = check(bridge[:33], 17, np.array_equal(bridge[:17], a), bridge[17:33], a_step)
    out["transition bridge->B"] = check(bridge[17:], 16, np.array_equal(bridge[-17:], b), bridge[17:33], b_step)
    looped = pipe.loop(clip_a, caption, num_frames=16, **run).frames
    kept = np.array_equal(looped[:17], a)
    out["loop, source -> new"] = check(looped, 17, kept, looped[17:], a_step)
    out["loop, new -> source"] = check(np.concatenate([looped[17:], looped[:17]]), 16, kept, looped[17:], a_step)
    return out


COUNTED = {  # what the table by workflow counts
    "within bounds": lambda c: c.seam.ok,
    "at the source's speed": lambda c: c.at_source_speed,
    "no jump inside": lambda c: c.smooth,
    "one object": lambda c: c.one_object,
    "source kept": lambda c: c.source_kept,
}


def report(
    pipe, steps: int, size: tuple[int, int], seeds: int = 1, fast: bool = False, varied: bool = False
) -> list[SeamCheck]:
    """Print every seam of seeds 0..seeds-1 as a table row, then the counts by workflow; returns the checks."""
    print(
        "\n| seed | seam | jump px | bound px | object Δ | background Δ | within bounds | source kept exactly "
        "| new frames' step px (source's) | at the source's speed | largest move inside px | one object "
        "| new frames' shape |"
    )
    print("|---" * 13 + "|")
    checks: dict[str, list[SeamCheck]] = {}
    yes = {True: "yes", False: "no"}
    for seed in range(seeds):
        for name, c in seams(pipe, steps, size, seed=seed, fast=fast, varied=varied).items():
            s = c.seam
            print(
                f"| {seed} | {name} | {s.jump:.1f} | {s.bound:.1f} | {s.object_change:.1f} | "
                f"{s.background_change:.1f} | {yes[s.ok]} | {yes[c.source_kept]} | {c.step:.1f} ({c.source_step:.1f}) "
                f"| {yes[c.at_source_speed]} | {c.inner_jump:.1f} | {yes[c.one_object]} | {c.shape} |",
                flush=True,
            )
            checks.setdefault(name, []).append(c)
    print("\n| seam | " + " | ".join(COUNTED) + " |\n" + "|---" * (len(COUNTED) + 1) + "|")
    every = [c for group in checks.values() for c in group]
    for name, group in [*checks.items(), ("all", every)]:
        counts = [sum(passes(c) for c in group) for passes in COUNTED.values()]
        print(f"| {name} | " + " | ".join(f"{n} / {len(group)}" for n in counts) + " |")
    total = len(every)
    print(
        f"seams within bounds: {sum(c.seam.ok for c in every)} of {total}; sources kept exactly: "
        f"{sum(c.source_kept for c in every)} of {total}; new frames at the source's speed (within "
        f"{SPEED_TOLERANCE:.0%}): {sum(c.at_source_speed for c in every)} of {total}; no jump inside: "
        f"{sum(c.smooth for c in every)} of {total}; one object in every new frame: {sum(c.one_object for c in every)} "
        f"of {total}"
    )
    return every

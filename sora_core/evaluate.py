"""Measure a toy-world model: does it follow prompts, are its seams invisible, does it obey gravity?

    python -m sora_core.evaluate [--model sora-tiny] [--clips 30] [--steps 20] [--enhance]

A detector reads colour, shape and motion back from generated frames (the toy world has flat colours on
plain backgrounds, so simple pixel statistics suffice); the same detector measures seams.
"""

import argparse
from dataclasses import dataclass

import numpy as np

from . import toyworld

FOREGROUND_THRESHOLD = 60  # summed |RGB difference| from the background colour
MIN_ACCELERATION = 0.1  # px / frame^2: what counts as speeding up downwards

# How a user might word the toy world's captions: what prompt enhancement has to undo.
PARAPHRASES = {
    "red": ["crimson", "scarlet"],
    "green": ["emerald", "lime"],
    "blue": ["azure", "cobalt"],
    "yellow": ["golden", "lemon"],
    "purple": ["violet", "lilac"],
    "orange": ["tangerine", "apricot"],
    "white": ["ivory", "snowy"],
    "ball": ["sphere", "orb"],
    "square": ["cube", "box"],
    "triangle": ["pyramid", "wedge"],
    "moving left": ["drifting leftwards", "sliding left"],
    "moving right": ["heading right", "rolling right"],
    "moving up": ["rising", "floating up"],
    "moving down": ["sinking", "falling"],
    "bouncing": ["hopping", "jumping"],
    "standing still": ["motionless", "resting"],
}
BACKGROUND_PARAPHRASES = {"black": ["dark", "jet black"], "gray": ["grey", "slate"], "white": ["snowy", "pale"]}


@dataclass
class Reading:
    color: str | None
    shape: str | None
    motion: str | None
    background: str
    centers: np.ndarray  # (T, 2) x, y per frame; NaN where nothing was seen
    object_rgb: np.ndarray  # (T, 3) mean colour of the object per frame
    background_rgb: np.ndarray  # (T, 3) mean colour of the background per frame


def nearest(rgb, table: dict) -> str:
    return min(table, key=lambda name: np.abs(np.float32(table[name]) - rgb).sum())


def read(frames: np.ndarray) -> Reading:
    """Colour, shape and motion of the (main) object in uint8 frames (T, H, W, 3)."""
    frames = frames.astype(np.float32)
    border = np.concatenate([frames[:, 0], frames[:, -1], frames[:, :, 0], frames[:, :, -1]], axis=1)
    background_rgb = np.median(border.reshape(-1, 3), axis=0)
    masks = np.abs(frames - background_rgb).sum(-1) > FOREGROUND_THRESHOLD  # (T, H, W)
    count = len(frames)
    centers = np.full((count, 2), np.nan)
    object_rgb = np.full((count, 3), np.nan)
    bg_rgb = np.zeros((count, 3))
    fills = []
    for t in range(count):
        bg_rgb[t] = frames[t][~masks[t]].mean(0) if (~masks[t]).any() else background_rgb
        ys, xs = np.nonzero(masks[t])
        if len(xs) < 6:
            continue
        centers[t] = xs.mean(), ys.mean()
        object_rgb[t] = frames[t][masks[t]].mean(0)
        box = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
        touches_edge = (
            xs.min() == 0 or ys.min() == 0 or xs.max() == frames.shape[2] - 1 or ys.max() == frames.shape[1] - 1
        )
        if not touches_edge:
            fills.append(len(xs) / box)
    seen = ~np.isnan(centers[:, 0])
    color = nearest(np.nanmedian(object_rgb[seen], axis=0), toyworld.COLORS) if seen.any() else None
    shape = None
    if fills:
        fill = float(np.median(fills))
        shape = "square" if fill > 0.9 else "ball" if fill > 0.64 else "triangle"
    return Reading(
        color,
        shape,
        _motion(centers[seen]) if seen.sum() >= 2 else None,
        nearest(background_rgb, toyworld.BACKGROUNDS),
        centers,
        object_rgb,
        bg_rgb,
    )


def _motion(centers: np.ndarray) -> str:
    dx, dy = centers[-1] - centers[0]
    vy = np.diff(centers[:, 1])
    if np.abs(centers - centers[0]).max() < 3:
        return "standing still"
    # A bounce: falling (y grows), then rising after hitting the floor.
    if len(vy) > 3 and (vy > 0.5).any() and (vy < -0.5).any() and np.argmax(vy > 0.5) < len(vy) - 1:
        first_down = np.argmax(vy > 0.5)
        if (vy[first_down:] < -0.5).any() and abs(dx) < 0.5 * np.abs(np.diff(centers[:, 1])).sum():
            return "bouncing"
    if abs(dx) >= abs(dy):
        return "moving right" if dx > 0 else "moving left"
    return "moving down" if dy > 0 else "moving up"


def falls_with_gravity(reading: Reading) -> bool:
    """Between bounces a ball speeds up downwards: the median vertical acceleration is positive, by more than the
    ~0.02 px/frame^2 that anti-aliased edges add to a straight path (gravity is 0.45-0.6 at 96-128 px)."""
    ys = reading.centers[:, 1]
    ys = ys[~np.isnan(ys)]
    return len(ys) >= 4 and float(np.median(np.diff(ys, 2))) > MIN_ACCELERATION


@dataclass
class Seam:
    jump: float  # object movement across the seam, pixels
    bound: float  # 2 x the median step between neighbouring frames + 2 pixels
    object_change: float  # max per-channel change of the object's mean colour across the seam, 0-255
    background_change: float

    @property
    def ok(self) -> bool:
        return self.jump <= self.bound and self.object_change <= 6 and self.background_change <= 6


def median_step(reading: Reading) -> float:
    """The object's median movement between neighbouring frames, pixels (0 when it is seen in no two)."""
    steps = np.linalg.norm(np.diff(reading.centers, axis=0), axis=1)
    steps = steps[~np.isnan(steps)]
    return float(np.median(steps)) if len(steps) else 0.0


def seam(frames: np.ndarray, index: int) -> Seam:
    """Continuity between frames index-1 and index of a clip."""
    reading = read(frames)
    median = median_step(reading)
    jump = float(np.linalg.norm(reading.centers[index] - reading.centers[index - 1]))
    object_change = float(np.abs(reading.object_rgb[index] - reading.object_rgb[index - 1]).max())
    background_change = float(np.abs(reading.background_rgb[index] - reading.background_rgb[index - 1]).max())
    return Seam(
        np.nan_to_num(jump, nan=np.inf), 2 * median + 2, np.nan_to_num(object_change, nan=255.0), background_change
    )


# ------------------------------------------------------------------------------------------ the report


def reconstruction(vae, size: tuple[int, int], num_frames: int, clips: int = 4, seed: int = 0) -> dict[str, float]:
    """PSNR (dB) of VAE round trips of held-out toy-world clips, per background."""
    import torch

    from .data import to_pixels

    rng = np.random.default_rng(seed)
    psnr = {}
    for background in toyworld.BACKGROUNDS:
        pool = [thing for thing, bg in toyworld.all_combinations(held_out=True) if bg == background]
        errors = []
        for _ in range(clips):
            scene = toyworld.Scene((pool[rng.integers(len(pool))],), background)
            pixels = to_pixels(toyworld.render(scene, *size, num_frames, rng)[0])[None]  # (1, 3, T, H, W)
            with torch.no_grad():
                recon = vae.decode(vae.encode(pixels.to(vae.dtype)).latent_dist.mode()).sample.float()
            errors.append(float((recon - pixels).pow(2).mean()))
        psnr[background] = float(10 * np.log10(4 / np.mean(errors)))  # pixels span 2: peak^2 = 4
    return psnr


def paraphrase(thing: toyworld.Thing, background: str, rng: np.random.Generator) -> str:
    """A caption in other words, e.g. "a crimson sphere drifting leftwards over a dark backdrop"."""
    color, shape, motion = (rng.choice(PARAPHRASES[word]) for word in (thing.color, thing.shape, thing.motion))
    return f"a {color} {shape} {motion} over a {rng.choice(BACKGROUND_PARAPHRASES[background])} backdrop"


def adherence(
    pipe, clips: int, steps: int, size: tuple[int, int], seed: int = 0, paraphrased: bool = False, enhance: bool = False
) -> dict:
    """Generate clips for held-out combinations; the share with colour, shape and motion all right. The prompts
    are the toy world's captions, or paraphrases of them, optionally rewritten by the offline enhancer."""
    from .enhance import rewrite_for_toyworld

    rng = np.random.default_rng(seed)
    pool = toyworld.all_combinations(held_out=True)
    right = {"color": 0, "shape": 0, "motion": 0, "all": 0}
    gravity = []
    for i in range(clips):
        thing, background = pool[rng.integers(len(pool))]
        words = np.random.default_rng([seed, i])  # the same paraphrase with and without enhancement
        prompt = paraphrase(thing, background, words) if paraphrased else toyworld.Scene((thing,), background).caption()
        if enhance:
            prompt = rewrite_for_toyworld(prompt).prompt
        video = pipe.generate(prompt, height=size[0], width=size[1], steps=steps, seed=seed + i)
        reading = read(video.frames)
        hits = {
            "color": reading.color == thing.color,
            "shape": reading.shape == thing.shape,
            "motion": reading.motion == thing.motion,
        }
        for key, hit in hits.items():
            right[key] += hit
        right["all"] += all(hits.values())
        if thing.motion == "bouncing":
            gravity.append(falls_with_gravity(reading))
    result = {key: value / clips for key, value in right.items()}
    result["gravity"] = float(np.mean(gravity)) if gravity else float("nan")
    return result


def seams(pipe, steps: int, size: tuple[int, int], seed: int = 0) -> dict[str, tuple[Seam, bool, float]]:
    """Extend both ways, bridge two clips and loop one; measure every seam, whether the source frames next to it
    came back pixel for pixel, and the object's median step in the new frames (the source's: 2.35 px), which shows
    whether continuity came at the cost of motion."""
    from .video import Video

    rng = np.random.default_rng(seed)
    red = toyworld.Scene((toyworld.Thing("ball", "red", "moving right"),), "black")
    blue = toyworld.Scene((toyworld.Thing("square", "blue", "moving left"),), "black")
    clip_a = Video(toyworld.render(red, *size, 17, rng)[0], fps=pipe.preset.fps)
    clip_b = Video(toyworld.render(blue, *size, 17, rng)[0], fps=pipe.preset.fps)
    caption = red.caption()
    a, b = clip_a.frames, clip_b.frames

    def step(new_frames):
        return median_step(read(new_frames))

    out = {}
    forward = pipe.extend(clip_a, caption, num_frames=16, direction="forward", steps=steps, seed=seed).frames
    out["extend forward"] = seam(forward, 17), np.array_equal(forward[:17], a), step(forward[17:])
    backward = pipe.extend(clip_a, caption, num_frames=16, direction="backward", steps=steps, seed=seed).frames
    new = len(backward) - 17
    out["extend backward"] = seam(backward, new), np.array_equal(backward[new:], a), step(backward[:new])
    bridge = pipe.transition(clip_a, clip_b, "a ball on a black background", num_frames=16, steps=steps, seed=seed)
    bridge = bridge.frames
    out["transition A->bridge"] = seam(bridge[: 17 + 16], 17), np.array_equal(bridge[:17], a), step(bridge[17:33])
    out["transition bridge->B"] = seam(bridge[17:], 16), np.array_equal(bridge[-17:], b), step(bridge[17:33])
    looped = pipe.loop(clip_a, caption, num_frames=16, steps=steps, seed=seed).frames
    out["loop"] = (
        seam(np.concatenate([looped[17:], looped[:17]]), 16),
        np.array_equal(looped[:17], a),
        step(looped[17:]),
    )
    return out


def drift(pipe, steps: int, size: tuple[int, int], times: int = 4, seed: int = 0) -> list[float]:
    """Background colour after each of `times` chained forward extensions, minus the source's (levels)."""
    from .video import Video

    rng = np.random.default_rng(seed)
    scene = toyworld.Scene((toyworld.Thing("ball", "red", "moving right"),), "gray")
    video = Video(toyworld.render(scene, *size, 9, rng)[0], fps=pipe.preset.fps)
    start = read(video.frames).background_rgb[0]
    changes = []
    for i in range(times):
        video = pipe.extend(
            Video(video.frames[-9:], fps=video.fps), scene.caption(), num_frames=8, steps=steps, seed=seed + i
        )
        changes.append(float(np.abs(read(video.frames).background_rgb[-1] - start).max()))
    return changes


def restyle_check(pipe, steps: int, size: tuple[int, int], seed: int = 0) -> dict:
    from .video import Video

    rng = np.random.default_rng(seed)
    scene = toyworld.Scene((toyworld.Thing("ball", "red", "moving right"),), "black")
    source = Video(toyworld.render(scene, *size, 17, rng)[0], fps=pipe.preset.fps)
    out = pipe.restyle(source, "a blue ball moving right on a black background", steps=steps, seed=seed)
    before, after = read(source.frames), read(out.frames)
    xs_before, xs_after = before.centers[:, 0], after.centers[:, 0]
    both = ~np.isnan(xs_before) & ~np.isnan(xs_after)
    correlation = float(np.corrcoef(xs_before[both], xs_after[both])[0, 1]) if both.sum() > 2 else float("nan")
    return {"color": after.color, "x_correlation": correlation}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Evaluate a toy-world model.")
    parser.add_argument("--model", default="sora-tiny")
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"))
    parser.add_argument(
        "--paraphrase", action="store_true", help="also score paraphrased prompts, without and with enhancement"
    )
    args = parser.parse_args(argv)
    from .pipeline import SoraPipeline

    pipe = SoraPipeline.from_pretrained(args.model)
    size = tuple(args.size) if args.size else (pipe.preset.height, pipe.preset.width)
    psnr = reconstruction(pipe.vae, size, pipe.preset.num_frames)
    print("VAE round trip of held-out clips, PSNR: " + ", ".join(f"{bg} {db:.1f} dB" for bg, db in psnr.items()))
    rows = {"captions": dict()}
    if args.paraphrase:
        rows["paraphrases"] = dict(paraphrased=True)
        rows["paraphrases + enhance"] = dict(paraphrased=True, enhance=True)
    print(f"| prompts ({args.clips} held-out combinations) | colour | shape | motion | all three | gravity |")
    print("|---|---|---|---|---|---|")
    for name, options in rows.items():
        scores = adherence(pipe, args.clips, args.steps, size, **options)
        print(
            f"| {name} | {scores['color']:.0%} | {scores['shape']:.0%} | {scores['motion']:.0%} | "
            f"{scores['all']:.0%} | {scores['gravity']:.0%} |",
            flush=True,
        )
    print(
        "\n| seam | jump px | bound px | object Δ | background Δ | within bounds | source kept exactly "
        "| new frames' step px |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (s, kept, step) in seams(pipe, args.steps, size).items():
        print(
            f"| {name} | {s.jump:.1f} | {s.bound:.1f} | {s.object_change:.1f} | {s.background_change:.1f} | "
            f"{'yes' if s.ok else 'no'} | {'yes' if kept else 'no'} | {step:.1f} |"
        )
    changes = drift(pipe, args.steps, size)
    print("\nbackground drift over 4 chained extensions (levels): " + ", ".join(f"{c:.1f}" for c in changes))
    restyled = restyle_check(pipe, args.steps, size)
    print(f"restyle red -> blue: colour {restyled['color']}, x correlation {restyled['x_correlation']:.2f}")


if __name__ == "__main__":
    main()

"""Measure a toy-world model: does it follow prompts, are its seams invisible, does it obey gravity?

    python -m sora_core.evaluate [--model sora-tiny] [--clips 30] [--steps 20] [--paraphrase] [--fast]
    python -m sora_core.evaluate --story 4    # the storyboard's checks instead (story_eval.py)
    python -m sora_core.evaluate --animate 20 # the animate stage alone: rendered first frames, does it move right?
    python -m sora_core.evaluate --images 80  # the image stage alone: colour and shape of generated images
    python -m sora_core.evaluate --vae        # the VAE alone: PSNR of clips and first frames, colours read back
    python -m sora_core.evaluate --seams 6    # the six seams of seeds 0-5 alone, counted (seam_eval.py)

Generated frames are read back by the toy world's detector (`detector.py`), which measures seams too.
"""

import argparse
import sys

import numpy as np

from ..engine import workflows
from ..engine.loading import ModelLoadError
from ..engine.pipeline import SoraPipeline
from ..engine.requests import GenerateRequest, Options
from ..engine.video import Video, to_frames, to_pixels
from . import seam_eval, story_eval
from . import world as toyworld
from .detector import count_objects, falls_with_gravity, read
from .rewriter import rewrite_for_toyworld

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


# ------------------------------------------------------------------------------------------ the report


def round_trip(vae, frames: np.ndarray):
    """uint8 (T, H, W, 3) through the VAE and back: (1, 3, T, H, W) pixels in [-1, 1], and what came back."""
    import torch

    pixels = to_pixels(frames)[None]
    with torch.no_grad():
        recon = vae.decode(vae.encode(pixels.to(vae.dtype)).latent_dist.mode()).sample.float()
    return pixels, recon


def reconstruction(vae, size: tuple[int, int], num_frames: int, clips: int = 4, seed: int = 0) -> dict[str, float]:
    """PSNR (dB) of VAE round trips of held-out toy-world clips, per background."""
    rng = np.random.default_rng(seed)
    psnr = {}
    for background in toyworld.BACKGROUNDS:
        pool = [thing for thing, bg in toyworld.all_combinations(held_out=True) if bg == background]
        errors = []
        for _ in range(clips):
            scene = toyworld.Scene((pool[rng.integers(len(pool))],), background)
            pixels, recon = round_trip(vae, toyworld.render(scene, *size, num_frames, rng)[0])
            errors.append(float((recon - pixels).pow(2).mean()))
        psnr[background] = float(10 * np.log10(4 / np.mean(errors)))  # pixels span 2: peak^2 = 4
    return psnr


def colours_kept(vae, size: tuple[int, int], num_frames: int, seed: int = 0) -> tuple[int, list[tuple]]:
    """Every colour on every background it can go on, as one frame (the image stage's path: a causal VAE decodes a
    first frame alone) and as a clip, read back after the VAE round trip: how many were checked, and (colour on
    background, frames, the colour read) for each that came back another colour. PSNR alone hid a decoder that
    drew green first frames gray (2026-12-04)."""
    rng = np.random.default_rng(seed)
    wrong = []
    shapes = toyworld.SHAPES
    things = [toyworld.Thing(shapes[i % len(shapes)], c, "standing still") for i, c in enumerate(toyworld.COLORS)]
    pairs = [(thing, bg) for thing in things for bg in toyworld.BACKGROUNDS if toyworld.valid(thing, bg)]
    for thing, background in pairs:
        for frames in (1, num_frames):
            rendered = toyworld.render(toyworld.Scene((thing,), background), *size, frames, rng, inside=True)[0]
            read_back = read(to_frames(round_trip(vae, rendered)[1][0])).color
            if read_back != thing.color:
                wrong.append((f"{thing.color} on {background}", f"{frames} frame{'s' * (frames > 1)}", read_back))
    return 2 * len(pairs), wrong


def paraphrase(thing: toyworld.Thing, background: str, rng: np.random.Generator) -> str:
    """A caption in other words, e.g. "a crimson sphere drifting leftwards over a dark backdrop"."""
    color, shape, motion = (rng.choice(PARAPHRASES[word]) for word in (thing.color, thing.shape, thing.motion))
    return f"a {color} {shape} {motion} over a {rng.choice(BACKGROUND_PARAPHRASES[background])} backdrop"


def adherence(
    pipe,
    clips: int,
    steps: int,
    size: tuple[int, int],
    seed: int = 0,
    paraphrased: bool = False,
    enhance: bool = False,
    fast: bool = False,
    held_out: bool = True,
    num_frames: int | None = None,
    guidance: float | None = None,
) -> dict:
    """Generate clips for held-out (or training) combinations; the share with colour, shape and motion all right.
    The prompts are the toy world's captions, or paraphrases of them, optionally rewritten by the offline enhancer.
    `num_frames=1`: images (the image stage alone; their motion reads "standing still")."""
    rng = np.random.default_rng(seed)
    pool = toyworld.all_combinations(held_out=held_out)
    # look: colour and shape; one: one object and never two (a second object or a ghost fails)
    right = {"color": 0, "shape": 0, "motion": 0, "all": 0, "look": 0, "one": 0}
    shapes = {shape: [0, 0] for shape in toyworld.SHAPES}  # right, asked: where the shape misses sit
    gravity = []
    for i in range(clips):
        thing, background = pool[rng.integers(len(pool))]
        words = np.random.default_rng([seed, i])  # the same paraphrase with and without enhancement
        prompt = paraphrase(thing, background, words) if paraphrased else toyworld.Scene((thing,), background).caption()
        if enhance:
            prompt = rewrite_for_toyworld(prompt).prompt
        video = pipe.generate(
            prompt,
            num_frames=num_frames,
            height=size[0],
            width=size[1],
            steps=steps,
            seed=seed + i,
            fast=fast,
            guidance=guidance,
        )
        reading = read(video.frames)
        hits = {
            "color": reading.color == thing.color,
            "shape": reading.shape == thing.shape,
            "motion": reading.motion == thing.motion,
        }
        for key, hit in hits.items():
            right[key] += hit
        right["all"] += all(hits.values())
        right["look"] += hits["color"] and hits["shape"]
        right["one"] += one_object(video.frames)
        shapes[thing.shape][0] += hits["shape"]
        shapes[thing.shape][1] += 1
        if thing.motion == "bouncing":
            gravity.append(falls_with_gravity(reading))
    result = {key: value / clips for key, value in right.items()}
    result["gravity"] = float(np.mean(gravity)) if gravity else float("nan")
    result["shapes"] = {shape: tuple(counts) for shape, counts in shapes.items()}
    return result


def one_object(frames: np.ndarray) -> bool:
    """No frame shows two objects, and some frame shows one."""
    counts = [count_objects(frame) for frame in frames]
    return max(counts) == 1


ANIMATE_MOTIONS = ("moving left", "moving right", "moving up", "moving down", "standing still")
OPPOSITE = {"moving left": "moving right", "moving right": "moving left", "moving up": "moving down"}
OPPOSITE |= {v: k for k, v in OPPOSITE.items()} | {"standing still": "moving right"}


def neutral_first_frame(scene: toyworld.Scene, size: tuple[int, int], num_frames: int, rng) -> np.ndarray:
    """The first frame (H, W, 3) of a render of `scene` from which its path and the opposite path both keep the
    object's centre in the frame (a path longer than half the frame: from within a radius of the middle). Its place
    then says nothing of the direction (a start on the left would hint "right"), and the asked motion has room to
    show (from the left edge, "moving left" leaves the frame within a few frames, and models turned back instead)."""
    extent = np.array([size[1], size[0]])  # (x, y)
    for _ in range(1000):
        frames, track = toyworld.render(scene, *size, num_frames, rng)
        path = track.centers[0]  # (T, 2)
        span = np.minimum(np.abs(path[-1] - path[0]), extent / 2 - track.radii[0])
        if np.all(path[0] - span >= 0) and np.all(path[0] + span <= extent):
            return frames[0]
    raise ValueError(f"no start of {scene.caption()!r} has room both ways in {size[0]}x{size[1]}.")


def animate(
    pipe,
    count: int,
    steps: int,
    size: tuple[int, int],
    seed: int = 0,
    guidance: float | None = None,
    opposite_negative: bool = False,
) -> dict[str, tuple[int, int]]:
    """The animate stage alone (what `generate` runs after making the first frame, `workflows.plan_animate`):
    `count` rendered first frames of held-out combinations (`neutral_first_frame`), the five motions in turn, each
    animated at the model's defaults with its caption; per motion (right, asked). `opposite_negative`: the caption
    with the opposite motion as the negative prompt (guidance away from the wrong way)."""
    rng = np.random.default_rng(seed)
    held_out = toyworld.all_combinations(held_out=True)
    right = {motion: [0, 0] for motion in ANIMATE_MOTIONS}
    for i in range(count):
        motion = ANIMATE_MOTIONS[i % len(ANIMATE_MOTIONS)]
        pool = [(thing, bg) for thing, bg in held_out if thing.motion == motion]
        thing, background = pool[rng.integers(len(pool))]
        scene = toyworld.Scene((thing,), background)
        first = neutral_first_frame(scene, size, pipe.preset.num_frames, rng)
        negative = None
        if opposite_negative:
            negative = toyworld.Scene((toyworld.Thing(thing.shape, thing.color, OPPOSITE[motion]),), background)
            negative = negative.caption()
        size_steps = dict(height=size[0], width=size[1], steps=steps, guidance=guidance, seed=seed + i)
        request = GenerateRequest(scene.caption(), options=Options(negative_prompt=negative, **size_steps))
        plan = workflows.plan_animate(pipe.plan(request), first)
        frames = pipe.sample_window(plan, None, None)
        right[motion][0] += read(frames).motion == motion
        right[motion][1] += 1
    return {motion: tuple(hits) for motion, hits in right.items()}


def drift(pipe, steps: int, size: tuple[int, int], times: int = 4, seed: int = 0, fast: bool = False) -> list[float]:
    """Background colour after each of `times` chained forward extensions, minus the source's (levels)."""
    rng = np.random.default_rng(seed)
    scene = toyworld.Scene((toyworld.Thing("ball", "red", "moving right"),), "gray")
    video = Video(toyworld.render(scene, *size, 9, rng, inside=True)[0], fps=pipe.preset.fps)
    start = read(video.frames).background_rgb[0]
    changes = []
    for i in range(times):
        source = Video(video.frames[-9:], fps=video.fps)
        video = pipe.extend(source, scene.caption(), num_frames=8, steps=steps, seed=seed + i, fast=fast)
        changes.append(float(np.abs(read(video.frames).background_rgb[-1] - start).max()))
    return changes


def restyle_check(pipe, steps: int, size: tuple[int, int], seed: int = 0, fast: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    scene = toyworld.Scene((toyworld.Thing("ball", "red", "moving right"),), "black")
    source = Video(toyworld.render(scene, *size, 17, rng, inside=True)[0], fps=pipe.preset.fps)
    out = pipe.restyle(source, "a blue ball moving right on a black background", steps=steps, seed=seed, fast=fast)
    before, after = read(source.frames), read(out.frames)
    xs_before, xs_after = before.centers[:, 0], after.centers[:, 0]
    both = ~np.isnan(xs_before) & ~np.isnan(xs_after)
    correlation = float(np.corrcoef(xs_before[both], xs_after[both])[0, 1]) if both.sum() > 2 else float("nan")
    return {"color": after.color, "x_correlation": correlation}


def report_vae(vae, size: tuple[int, int], num_frames: int):
    """PSNR per background of clips and of first frames alone (every image's path), and the colours read back."""
    for frames in (num_frames, 1):
        psnr = reconstruction(vae, size, frames)
        print(
            f"VAE round trip of held-out {'clips' if frames > 1 else 'first frames'}, PSNR: "
            + ", ".join(f"{bg} {db:.1f} dB" for bg, db in psnr.items())
        )
    checked, wrong = colours_kept(vae, size, num_frames)
    print(
        f"VAE round trip, colours read back: {checked - len(wrong)} of {checked} right"
        + "".join(f"; {pair} ({frames}) came back {got or 'unseen'}" for pair, frames, got in wrong)
    )


def report_images(pipe, args, size: tuple[int, int]):
    """The image stage alone: colour and shape of `args.images` images of held-out and of training combinations."""
    print(f"| images ({args.images} combinations) | colour | shape | both | one object | shape right by shape asked |")
    print("|---|---|---|---|---|---|")
    for name, held_out in (("held out", True), ("training combinations", False)):
        scores = adherence(
            pipe, args.images, args.steps, size, fast=args.fast, held_out=held_out, num_frames=1, guidance=args.guidance
        )
        by_shape = ", ".join(f"{shape} {hits} / {asked}" for shape, (hits, asked) in scores["shapes"].items())
        row = f"| {name} | {scores['color']:.0%} | {scores['shape']:.0%} | {scores['look']:.0%} | {scores['one']:.0%} "
        row += f"| {by_shape} |"
        print(row, flush=True)


def report_animate(pipe, args, size: tuple[int, int]):
    scores = animate(
        pipe, args.animate, args.steps, size, guidance=args.guidance, opposite_negative=args.opposite_negative
    )
    total = sum(hits for hits, _ in scores.values())
    print(f"animate {args.animate} rendered first frames: {total} of {args.animate} move the asked way")
    print("; ".join(f"{motion} {hits}/{asked}" for motion, (hits, asked) in scores.items()))


def report_clips(pipe, args, size: tuple[int, int]):
    """Whole clips at the defaults: adherence by prompt kind, every seam, background drift, and restyle."""
    rows = {"captions": dict()}
    if args.paraphrase:
        rows["paraphrases"] = dict(paraphrased=True)
        rows["paraphrases + enhance"] = dict(paraphrased=True, enhance=True)
    rows["captions, training combinations"] = dict(held_out=False)  # what was learnt, beside what generalised
    print(
        f"| prompts ({args.clips} combinations, held out unless said) | colour | shape | motion | all three | gravity |"
    )
    print("|---|---|---|---|---|---|")
    for name, options in rows.items():
        scores = adherence(pipe, args.clips, args.steps, size, fast=args.fast, **options)
        print(
            f"| {name} | {scores['color']:.0%} | {scores['shape']:.0%} | {scores['motion']:.0%} | "
            f"{scores['all']:.0%} | {scores['gravity']:.0%} |",
            flush=True,
        )
    seam_eval.report(pipe, args.steps, size, fast=args.fast)
    changes = drift(pipe, args.steps, size, fast=args.fast)
    print("\nbackground drift over 4 chained extensions (levels): " + ", ".join(f"{c:.1f}" for c in changes))
    restyled = restyle_check(pipe, args.steps, size, fast=args.fast)
    print(f"restyle red -> blue: colour {restyled['color']}, x correlation {restyled['x_correlation']:.2f}")


def count(text: str) -> int:
    """How many clips, images, stories or seeds: a whole number of at least 1."""
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1; got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sora_core.evaluate", description="Evaluate a toy-world model.")
    parser.add_argument("--model", default="sora-tiny")
    parser.add_argument("--clips", type=count, default=30)
    parser.add_argument("--steps", type=count, default=20)
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"))
    parser.add_argument(
        "--paraphrase", action="store_true", help="also score paraphrased prompts, without and with enhancement"
    )
    parser.add_argument("--fast", action="store_true", help="every clip in fast mode (engine/fast.py)")
    parser.add_argument("--strip", default=None, metavar="PNG", help="with --story: save the first story's frames")
    parser.add_argument("--guidance", type=float, default=None, help="with --animate or --images: default the model's")
    parser.add_argument(
        "--varied", action="store_true", help="with --seams: sources of every shape, colour, background and motion"
    )
    parser.add_argument(
        "--opposite-negative", action="store_true", help="with --animate: the opposite motion as negative prompt"
    )
    instead = parser.add_mutually_exclusive_group()  # one measure a run
    instead.add_argument(
        "--story", type=count, default=0, metavar="N", help="instead: N three-card stories and a minute (story_eval.py)"
    )
    instead.add_argument(
        "--animate", type=count, default=0, metavar="N", help="instead: animate N rendered first frames (the probe)"
    )
    instead.add_argument(
        "--images",
        type=count,
        default=0,
        metavar="N",
        help="instead: N images, held-out and training combinations",
    )
    instead.add_argument("--vae", action="store_true", help="instead: the VAE's round trips alone")
    instead.add_argument(
        "--seams", type=count, default=0, metavar="N", help="instead: the six seams of each of seeds 0..N-1, counted"
    )
    return parser


def main(argv=None):
    """Bad input (a size off the grid, a model that does not load) is one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def run(args):
    pipe = SoraPipeline.from_pretrained(args.model)
    size = tuple(args.size) if args.size else (pipe.preset.height, pipe.preset.width)
    if args.animate:
        return report_animate(pipe, args, size)
    if args.story:
        return story_eval.report(pipe, args.steps, size, stories=args.story, fast=args.fast, strip=args.strip)
    if args.images:
        return report_images(pipe, args, size)
    if args.seams:
        return seam_eval.report(pipe, args.steps, size, seeds=args.seams, fast=args.fast, varied=args.varied)
    pipe.check_vae()  # the round trips run on the VAE's fast CPU path, as the pipeline's own decoding does
    report_vae(pipe.vae, size, pipe.preset.num_frames)
    if not args.vae:
        report_clips(pipe, args, size)


if __name__ == "__main__":
    main()

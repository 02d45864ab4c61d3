"""Command line: `python -m sora_core generate|extend|transition|loop|restyle ...`.

Errors print one line and exit with status 2; nothing is written unless the video is complete.
"""

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from .video import IMAGE_SUFFIXES, Video

USER_ERRORS = (ValueError, RuntimeError, OSError, InterruptedError)


def _common(parser: argparse.ArgumentParser, needs_video: int = 0):
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--out", required=True, help=".mp4, or .png / .jpg / .webp for an image")
    parser.add_argument("--model", default="sora-tiny", help="preset name, Hub repo id or local folder")
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="load a model even if it looks too big for memory")
    for name in ("--video", "--video-b")[:needs_video]:
        parser.add_argument(name, required=True, help="a video or image file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sora_core", description="Sora-style video generation.")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="text to video (or image with --out x.png)")
    _common(generate)
    generate.add_argument("--frames", type=int, default=None, help="4k+1 frames; 1 for an image")
    extend = commands.add_parser("extend", help="continue a video or animate an image")
    _common(extend, needs_video=1)
    extend.add_argument("--frames", type=int, default=None, help="about how many new frames")
    extend.add_argument("--direction", choices=["forward", "backward"], default="forward")
    transition = commands.add_parser("transition", help="bridge from --video to --video-b")
    _common(transition, needs_video=2)
    transition.add_argument("--frames", type=int, default=None, help="about how many bridge frames")
    loop = commands.add_parser("loop", help="make a video loop seamlessly")
    _common(loop, needs_video=1)
    loop.add_argument("--frames", type=int, default=None, help="about how many bridge frames")
    for workflow in (extend, transition, loop):
        workflow.add_argument(
            "--init-strength",
            type=float,
            default=None,
            help="below 1: new frames start from the source (continuity over motion); default: 1 forward, "
            "else the checkpoint's arrival_init_strength",
        )
    restyle = commands.add_parser("restyle", help="video to video (SDEdit)")
    _common(restyle, needs_video=1)
    restyle.add_argument("--strength", type=float, default=None, help="0 keeps the input, 1 ignores it")
    return parser


def run(args) -> Video:
    from .pipeline import SoraPipeline

    out = Path(args.out)
    if out.suffix.lower() not in IMAGE_SUFFIXES | {".mp4"}:
        raise ValueError(f"--out must end in .mp4, .png, .jpg or .webp; got '{out.suffix or out.name}'.")
    if not out.parent.is_dir():
        raise ValueError(f"The folder {out.parent} does not exist.")
    pipe = SoraPipeline.from_pretrained(args.model, force=args.force)
    bar = None

    def progress(step, total):
        nonlocal bar
        bar = bar or tqdm(total=total, desc="denoising", unit="step")
        bar.update(step - bar.n)

    common = dict(
        negative_prompt=args.negative_prompt,
        height=args.height,
        width=args.width,
        steps=args.steps,
        guidance=args.guidance,
        seed=args.seed,
        progress=progress,
    )
    if args.command == "generate":
        frames = args.frames
        if frames is None and out.suffix.lower() in IMAGE_SUFFIXES:
            frames = 1
        video = pipe.generate(args.prompt, num_frames=frames, **common)
    elif args.command == "extend":
        video = pipe.extend(
            Video.load(args.video), args.prompt, args.frames, args.direction, init_strength=args.init_strength, **common
        )
    elif args.command == "transition":
        video_a, video_b = Video.load(args.video), Video.load(args.video_b)
        video = pipe.transition(video_a, video_b, args.prompt, args.frames, init_strength=args.init_strength, **common)
    elif args.command == "loop":
        video = pipe.loop(Video.load(args.video), args.prompt, args.frames, init_strength=args.init_strength, **common)
    else:
        video = pipe.restyle(Video.load(args.video), args.prompt, args.strength, **common)
    if bar is not None:
        bar.close()
    video.save(out)
    return video


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        video = run(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written.", file=sys.stderr)
        return 130
    print(f"wrote {args.out} ({video.num_frames} frames, {video.width}×{video.height}, seed {args.seed})")
    return 0

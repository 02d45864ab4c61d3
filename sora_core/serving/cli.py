"""Command line: `python -m sora_core generate|extend|transition|loop|restyle ...`.

Arguments are checked before the model loads (what can be checked without it), with the engine's own rules, and
errors name the flag that was typed. Errors print one line and exit with status 2; nothing is written unless the
video is complete.
"""

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from ..engine import limits
from ..engine.requests import REQUESTS, VIDEO_FIELDS, build, field_names, source_of
from ..engine.video import IMAGE_SUFFIXES, Video, load_field

USER_ERRORS = (ValueError, RuntimeError, OSError, InterruptedError)
# The engine names fields as the Python API does; the CLI speaks in flags.
FLAGS = {
    "negative_prompt": "--negative-prompt",
    "init_strength": "--init-strength",
    "num_frames": "--frames",
    "video_a": "--video",
    "video_b": "--video-b",
    "direction": "--direction",
    "guidance": "--guidance",
    "strength": "--strength",
    "prompt": "--prompt",
    "height": "--height",
    "width": "--width",
    "steps": "--steps",
    "video": "--video",
    "seed": "--seed",
    "reference_images": "--reference",
    "match_colour": "--match-colour",
    "fast": "--fast",
    "cards": "--card",
    "threads": "--threads",
}
OUT_SUFFIXES = ".mp4, .png, .jpg, .jpeg or .webp"


def in_flags(message: str) -> str:
    """An engine message, which opens with the field it is about, with that field spelled as its flag
    ("num_frames must be ..." -> "--frames must be ...", "cards[0].seconds ..." -> "--card 1's seconds ...")."""
    names = "|".join(sorted(FLAGS, key=len, reverse=True))
    message = re.sub(r"^cards\[(\d+)\]\.", lambda m: f"--card {int(m.group(1)) + 1}'s ", message)
    return re.sub(rf"^({names})\b", lambda m: FLAGS[m.group(1)], message)


def _common(parser: argparse.ArgumentParser, videos: tuple[str, ...] = (), prompt: bool = True, image: bool = False):
    """The flags every command shares; `image`: the command can make a single image (--out may be a picture)."""
    if prompt:
        parser.add_argument("--prompt", required=True, help='what the result shows, e.g. "a red ball moving right"')
    out = ".mp4 file to write, or .png / .jpg / .webp for an image" if image else ".mp4 file to write"
    parser.add_argument("--out", required=True, help=out)
    parser.add_argument(
        "--model", default="sora-tiny", help="preset name, Hub repo id or local folder (default: %(default)s)"
    )
    parser.add_argument("--negative-prompt", default=None, help="what the result should not show")
    parser.add_argument("--height", type=int, default=None, help="pixels (default: the model's)")
    parser.add_argument("--width", type=int, default=None, help="pixels (default: the model's)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps, 1-100 (default: the model's)")
    parser.add_argument("--guidance", type=float, default=None, help="0-20; higher follows the prompt more")
    parser.add_argument("--seed", type=int, default=0, help="the same seed and settings give the same result")
    parser.add_argument("--fast", action="store_true", help="fast mode: step caching, bfloat16 where the CPU has it")
    parser.add_argument(
        "--enhance",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rewrite prompts into the captions the model was trained on (default: on where that works offline, "
        "as for the bundled model)",
    )
    parser.add_argument("--force", action="store_true", help="load a model even if it looks too big for memory")
    threads_flag(parser)
    for name in videos:
        parser.add_argument(FLAGS[name], dest=name, required=True, help="a video or image file")


def vocabulary_epilog() -> str:
    """The bundled model's words, for --help (other models take any text)."""
    from ..toyworld.world import VOCABULARY

    words = "; ".join(f"{kind}: {', '.join(values)}" for kind, values in VOCABULARY.items())
    return f"The bundled sora-tiny knows a toy world: {words}. --enhance maps other wording onto these words."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sora_core", description="Sora-style video generation.")
    commands = parser.add_subparsers(dest="command", required=True)
    epilog = vocabulary_epilog()
    generate = commands.add_parser("generate", help="text to video (or image with --out x.png)", epilog=epilog)
    _common(generate, image=True)
    generate.add_argument("--frames", dest="num_frames", type=int, default=None, help="4k+1 frames; 1 for an image")
    extend = commands.add_parser("extend", help="continue a video or animate an image", epilog=epilog)
    _common(extend, ("video",))
    extend.add_argument(
        "--direction",
        choices=["forward", "backward"],
        default="forward",
        help="add frames after the source, or before it (default: %(default)s)",
    )
    transition = commands.add_parser("transition", help="bridge from --video to --video-b", epilog=epilog)
    _common(transition, ("video_a", "video_b"))
    loop = commands.add_parser("loop", help="make a video loop seamlessly", epilog=epilog)
    _common(loop, ("video",))
    for workflow in (extend, transition, loop):
        workflow.add_argument("--frames", dest="num_frames", type=int, default=None, help="about how many new frames")
        workflow.add_argument(
            "--match-colour",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="give new frames the source's colours at the seam (--no-match-colour lets the prompt change them)",
        )
        workflow.add_argument(
            "--init-strength",
            type=float,
            default=None,
            help="below 1: new frames start from the source (continuity over motion); default: 1 forward, "
            "else the checkpoint's arrival_init_strength",
        )
    for command in (generate, extend):
        command.add_argument(
            "--reference",
            dest="reference_images",
            action="append",
            default=None,
            help="an image of a subject or style to follow (VACE models; up to 3, repeat the flag)",
        )
    story = commands.add_parser("storyboard", help="several prompts along one timeline, up to a minute", epilog=epilog)
    _common(story, prompt=False)
    story.add_argument(
        "--card",
        dest="cards",
        action="append",
        required=True,
        help='"PROMPT=SECONDS", or "PROMPT=SECONDS=KEYFRAME" to end the card on an image or clip; repeat in order',
    )
    batch_parser(commands)
    restyle = commands.add_parser("restyle", help="video to video (SDEdit)", epilog=epilog)
    _common(restyle, ("video",), image=True)
    restyle.add_argument(
        "--strength", type=float, default=None, help="0 keeps the input, 1 ignores it (default: the checkpoint's)"
    )
    return parser


def threads_flag(parser, text: str = "CPU threads (default: the cores idle at the start, at least 1)"):
    parser.add_argument("--threads", type=int, default=0, metavar="N", help=text)


def batch_parser(commands):
    """`batch`: a JSONL file of requests (serving/batch.py)."""
    batch = commands.add_parser(
        "batch", help="one request a line of a JSONL file; resumable; accelerate launch splits it"
    )
    batch.add_argument("--jobs", required=True, help='a .jsonl file, a request a line: {"task": "generate", ...}')
    batch.add_argument("--out", required=True, help="the folder for <line>.mp4 / .png and manifest.jsonl")
    batch.add_argument("--model", default="sora-tiny", help="preset name, Hub repo id or local folder")
    batch.add_argument("--fast", action="store_true", help="fast mode for lines that do not say")
    threads_flag(batch, "CPU threads a process (default: its share of the cores idle at the start)")
    batch.add_argument(
        "--context-parallel",
        type=int,
        default=1,
        metavar="N",
        help="make each clip on N processes together, its tokens split between them (N GPUs; diffusers' Ulysses)",
    )
    batch.add_argument("--force", action="store_true", help="load a model even if it looks too big for memory")


def parse_cards(cards: list[str]) -> tuple[list[dict], tuple[Video, ...]]:
    """["a red ball=3", "a box=2=key.png", ...] -> the API's cards ({"prompt", "seconds"} and, where a keyframe
    file follows the seconds, "keyframe": its place among the returned keyframes) and those keyframes, loaded."""
    parsed, keyframes = [], []
    for card in cards:
        prompt, _, seconds = card.rpartition("=")
        keyframe = None
        if "=" in prompt and not is_numeric_text(seconds):
            keyframe, (prompt, _, seconds) = seconds, prompt.rpartition("=")
        if not is_numeric_text(seconds):
            raise ValueError(f'--card must be "PROMPT=SECONDS" or "PROMPT=SECONDS=KEYFRAME"; got {card!r}.')
        limits.check_text(prompt, "--card's prompt", required=True)
        parsed.append({"prompt": prompt.strip(), "seconds": float(seconds)})
        limits.check_card_seconds(parsed[-1]["seconds"], f"cards[{len(parsed) - 1}].seconds")
        if keyframe is not None:
            keyframes.append(load_field(keyframe.strip(), "--card's keyframe"))
            parsed[-1]["keyframe"] = len(keyframes)
    limits.check_story_seconds(sum(card["seconds"] for card in parsed))
    return parsed, tuple(keyframes)


def is_numeric_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_out(args):
    out = Path(args.out)
    if out.suffix.lower() not in IMAGE_SUFFIXES | {".mp4"}:
        raise ValueError(f"--out must end in {OUT_SUFFIXES}; got '{out.suffix or out.name}'.")
    if not out.parent.is_dir():
        raise ValueError(f"--out: the folder {out.parent} does not exist.")


def check_image_out(args, values: dict):
    """An image file holds one frame: said before the run, not after it (the frames made would be lost)."""
    suffix = Path(args.out).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        return
    if args.command == "generate":
        one_frame = values.get("num_frames") == 1
    elif args.command == "restyle":
        one_frame = values["video"].num_frames == 1  # an image restyled stays an image
    else:
        one_frame = False  # extend, transition, loop and storyboard add frames
    if not one_frame:
        raise ValueError(f"--out: a {suffix} file holds one image, but this {args.command} makes a video; use .mp4.")


def check_early(args) -> dict:
    """What can be checked before the model loads; returns the request's values by name (videos loaded)."""
    check_out(args)
    out = Path(args.out)
    kind = REQUESTS[args.command]
    values = {name: getattr(args, name) for name in field_names(kind) if getattr(args, name, None) is not None}
    if args.command == "generate" and args.num_frames is None and out.suffix.lower() in IMAGE_SUFFIXES:
        values["num_frames"] = 1
    limits.check_before_loading(args.command, values)
    for name in VIDEO_FIELDS:
        if name in values:
            values[name] = load_field(values[name], name)
    if "reference_images" in values:
        values["reference_images"] = tuple(load_field(path, "reference_images") for path in values["reference_images"])
    check_image_out(args, values)
    return values


def run_storyboard(args) -> Video:
    check_out(args)
    check_image_out(args, {})
    cards, keyframes = parse_cards(args.cards)
    limits.check_seed(args.seed)
    from ..engine.pipeline import SoraPipeline
    from .cards import story_cards
    from .threads import use_threads

    use_threads(args.threads)
    pipe = SoraPipeline.from_pretrained(args.model, force=args.force)
    settings = dict(negative_prompt=args.negative_prompt, height=args.height, width=args.width, fast=args.fast)
    with tqdm(desc="denoising", unit="step") as bar:

        def progress(step, total):
            bar.total = total
            bar.update(step - bar.n)

        cards = [{**card, "prompt": prompt_for(args, pipe, card["prompt"])} for card in cards]
        cards = story_cards(cards, pipe.preset.fps, keyframes)
        video = pipe.storyboard(cards, args.seed, args.steps, args.guidance, progress, **settings)
    video.save(Path(args.out))
    return video


def prompt_for(args, pipe, prompt: str, source=None) -> str:
    """The prompt the model gets: through the checkpoint's enhancer where --enhance is on (default: where it works
    offline; a workflow's short prompt completed from its `source` frames), said on stderr when it changed, with
    the words it dropped; without it, words the model does not know are named."""
    from ..toyworld.rewriter import dropped_sentence
    from .enhance import rewrite_prompt, unknown_words, works_offline

    enhance = works_offline(pipe.preset) if args.enhance is None else args.enhance
    if not enhance:
        unknown = unknown_words(prompt, pipe.preset)
        if unknown:
            hint = " (--enhance maps other wording onto its vocabulary)"
            print(f"warning: the model does not know these words: {', '.join(unknown)}{hint}", file=sys.stderr)
        return prompt
    rewrite = rewrite_prompt(prompt, pipe.preset, seed=args.seed, device=str(pipe.device), source=source)
    if rewrite.prompt != prompt:
        print(f"prompt rewritten for the model: {rewrite.prompt!r}", file=sys.stderr)
    if rewrite.unplaced:
        print(f"warning: {dropped_sentence(rewrite.unplaced)}", file=sys.stderr)
    return rewrite.prompt


def run(args) -> Video | int:
    """The command's video (a batch: how many of its lines failed)."""
    if args.command == "batch":
        from .batch import run_batch

        return run_batch(args)  # it says what it wrote itself, and returns how many lines failed
    if args.command == "storyboard":
        return run_storyboard(args)
    values = check_early(args)
    from ..engine import workflows
    from ..engine.pipeline import SoraPipeline
    from .threads import use_threads

    use_threads(args.threads)
    pipe = SoraPipeline.from_pretrained(args.model, force=args.force)
    request = build(REQUESTS[args.command], values)
    request = replace(request, prompt=prompt_for(args, pipe, request.prompt, source_of(request)))
    plan = pipe.plan(request)
    two_stages = workflows.animates_first_frame(pipe.grid, plan)  # its steps reported as one run of both
    label = "denoising (image, then motion)" if two_stages else "denoising"
    with tqdm(total=plan.settings.steps * (2 if two_stages else 1), desc=label, unit="step") as bar:

        def report(step: int, total: int):
            bar.total = total  # a call made of parts (a bridge made as two arrivals) counts its own way
            bar.update(step - bar.n)

        video = pipe.sample(plan, progress=report)
    video.save(Path(args.out))
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
        print(f"error: {in_flags(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written.", file=sys.stderr)
        return 130
    if args.command == "batch":  # a batch says what it wrote itself; status 1 where any line failed
        failed = video
        return 1 if failed else 0
    frames = "1 frame" if video.num_frames == 1 else f"{video.num_frames} frames"
    print(f"wrote {args.out} ({frames}, {video.width}×{video.height}, seed {args.seed})")
    return 0

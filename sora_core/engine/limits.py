"""What a request may ask for, defined once: the Python API, the CLI and the Space check with these same rules.

Each check returns the value it accepts (a whole number given as 20.0 becomes 20) or raises ValueError with
one sentence that names the field as the Python API spells it; the CLI renames fields to its flags.
A preset's `max_frames` bounds one sampling window, not the returned video: a transition of two full clips is
longer than one window.
"""

import math
import numbers

import numpy as np

MAX_PROMPT_CHARS = 2000
MAX_STEPS = 100
MAX_GUIDANCE = 20.0
MAX_SEED = 2**32 - 1


def check_text(value, name: str = "prompt", required: bool = False) -> str:
    """A prompt (required: not empty) or a negative prompt (may be empty; None counts as empty)."""
    value = "" if value is None and not required else value
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text; got {type(value).__name__}.")
    if required and not value.strip():
        raise ValueError(f"{name} is empty: describe the video to make.")
    if len(value) > MAX_PROMPT_CHARS:
        raise ValueError(f"{name} is {len(value):,} characters long; the limit is {MAX_PROMPT_CHARS:,}.")
    return value


def frame_count_ok(num_frames: int, stride: int = 4) -> bool:
    """The frame rule of a causal video VAE: 4k+1 frames (1 is an image)."""
    return num_frames >= 1 and (num_frames - 1) % stride == 0


def check_frame_count(num_frames, stride: int = 4) -> int:
    """A whole number of frames that the VAE's rule allows: `stride`k+1."""
    whole = isinstance(num_frames, (int, np.integer)) and not isinstance(num_frames, bool)
    if not whole or not frame_count_ok(num_frames, stride):
        k = stride
        raise ValueError(f"num_frames must be {k}k+1 (1, {k + 1}, {2 * k + 1}, ...); got {shown(num_frames)}.")
    return int(num_frames)


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def shown(value) -> str:
    """A value as a message shows it: a number plainly (5, 1.5), anything else as Python writes it ('5', None)."""
    return f"{value}" if is_number(value) else repr(value)


def number(value, name: str, low: float, high: float) -> float:
    """A finite number from low to high (text is refused: every interface passes numbers as numbers)."""
    result = float(value) if is_number(value) else math.nan
    if not math.isfinite(result) or not low <= result <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}; got {shown(value)}.")
    return result


def whole(value, name: str, low: int, high: int) -> int:
    """A whole number from low to high (20.0 is 20)."""
    allowed = f"{name} must be a whole number from {low:,} to {high:,}; got {shown(value)}."
    if not is_number(value):
        raise ValueError(allowed)
    try:
        result = float(value)
    except OverflowError:
        raise ValueError(allowed) from None
    if not math.isfinite(result) or not result.is_integer() or not low <= result <= high:
        raise ValueError(allowed)
    return int(value) if isinstance(value, int) else int(result)


def check_seed(seed) -> int:
    return whole(seed, "seed", 0, MAX_SEED)


def check_steps(steps) -> int:
    return whole(steps, "steps", 1, MAX_STEPS)


def check_guidance(guidance) -> float:
    return number(guidance, "guidance", 0, MAX_GUIDANCE)


def check_fraction(value, name: str, zero_ok: bool = False) -> float:
    """A noise level: a number in (0, 1], or in [0, 1] where 0 (keep the input) makes sense."""
    allowed = "from 0 to 1" if zero_ok else "above 0 and at most 1"
    result = float(value) if is_number(value) else float("nan")
    if not 0 <= result <= 1 or (result == 0 and not zero_ok):
        raise ValueError(f"{name} must be a number {allowed}; got {shown(value)}.")
    return result


def check_flag(value, name: str) -> bool:
    """A switch: True or False only (1 or "yes" are refused, so that a typo is not read as a choice)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def check_callbacks(progress, should_stop) -> None:
    """`progress(step, total)` and `should_stop()`: functions, or None."""
    for name, value in (("progress", progress), ("should_stop", should_stop)):
        if value is not None and not callable(value):
            raise ValueError(f"{name} must be a function or None; got {type(value).__name__}.")


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        allowed = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be {allowed}; got {value!r}.")
    return value


def check_before_loading(task: str, values: dict):
    """What a request's named values can be checked for before any model loads (the CLI's flags, a batch's lines):
    the texts, the seed, steps and guidance where given, a generate's frame count and an extension's direction.
    The rest (sizes, lengths against the model's grid) waits for the model. A storyboard's prompts are its cards'."""
    if task != "storyboard":
        check_text(values.get("prompt"), "prompt", required=True)
    check_text(values.get("negative_prompt"), "negative_prompt")
    check_seed(values.get("seed", 0))
    for name, check in (("steps", check_steps), ("guidance", check_guidance)):
        if values.get(name) is not None:
            check(values[name])
    if task == "generate" and values.get("num_frames") is not None:
        check_frame_count(values["num_frames"])
    if task == "extend" and values.get("direction") is not None:
        check_choice(values["direction"], "direction", ("forward", "backward"))


# ------------------------------------------------------------------ durations: seconds <-> frames, defined once


def max_seconds(fps: float, max_frames: int) -> float:
    """The longest clip one sampling window makes, in seconds."""
    return (max_frames - 1) / fps


def default_seconds(fps: float, num_frames: int) -> tuple[float, float]:
    """A generated clip's default length (the model's `num_frames`), and the default length of what extend,
    transition and loop add (half of it)."""
    clip_seconds = round((num_frames - 1) / fps, 2)
    return clip_seconds, round(clip_seconds / 2, 2)


def frames_for_seconds(seconds, fps: float, max_frames: int, plus_one: bool = True, stride: int = 4) -> int:
    """A length in seconds as a frame count of the VAE's rule: `stride`k+1 (a clip), or `stride`k (frames added to
    one). 0 seconds is a single frame (an image); frames added to a clip take more than 0 and round up to one
    latent frame at least."""
    longest = max_seconds(fps, max_frames)
    seconds = number(seconds, "seconds", 0, longest)
    blocks = round(seconds * fps / stride)
    if not plus_one:
        if seconds == 0:
            least = stride / fps
            raise ValueError(f"seconds must be more than 0 to add frames (at least {least:g} s are added); got 0.")
        blocks = max(1, blocks)
    frames = blocks * stride + (1 if plus_one else 0)
    limit = max_frames - (0 if plus_one else 1)
    if frames > limit:
        most = (limit - (1 if plus_one else 0)) / fps
        raise ValueError(f"seconds must be at most {most:g} at {fps:g} fps; got {seconds:g}.")
    return frames


# ------------------------------------------------------------------ a storyboard's lengths, in seconds

MAX_STORY_SECONDS = 60.0
SHORTEST_CARD = 0.5  # seconds: two latent frames at 16 fps


def check_card_seconds(seconds, field: str) -> float:
    """A card's length in seconds, checked (before a model, and so its frame rate, is known)."""
    return number(seconds, field, SHORTEST_CARD, MAX_STORY_SECONDS)


def check_story_seconds(seconds: float, fps: float | None = None):
    """A story's length against the limit; at a frame rate, one frame over (the cards' rounding) is allowed."""
    if seconds > MAX_STORY_SECONDS + (1 / fps if fps else 0):
        at = f" at {fps:g} fps" if fps else ""
        raise ValueError(f"cards: the story is {seconds:g} s long; the limit is {MAX_STORY_SECONDS:g} s{at}.")

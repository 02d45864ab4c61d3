"""A backward extension made as a forward one in reversed time, for checkpoints whose world runs the same both ways
(`time_symmetric` in a checkpoint's sora.json: the toy world's straight and ballistic motions do).

Going forward from given frames is what such a model does best (a known first frame is how it was taught to move);
arriving at given frames is not (measured on the bundled model: new frames arriving from noise or from still copies
froze or jumped). So the source is played backwards, extended forward under the prompt with its directions swapped
("moving left" <-> "moving right", "up" <-> "down"; bouncing and still read the same both ways), and the result is
played backwards again: the source frames come back exactly, now at the end.
"""

import re
from dataclasses import replace

from .requests import ExtendRequest
from .video import Video

OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}
DIRECTION_WORD = re.compile(r"\b(left|right|up|down)(wards?)?\b", re.IGNORECASE)


def reversed_prompt(prompt: str) -> str:
    """The prompt of the same scene played backwards: every direction word turned round, its case kept."""

    def turned(match: re.Match) -> str:
        word = OPPOSITE[match.group(1).lower()]
        word = word.capitalize() if match.group(1)[0].isupper() else word
        return word + (match.group(2) or "")

    return DIRECTION_WORD.sub(turned, prompt)


def reversed_video(video: Video) -> Video:
    return Video(video.frames[::-1].copy(), fps=video.fps, metadata=dict(video.metadata))


def as_forward(request: ExtendRequest) -> ExtendRequest:
    """A backward extension's forward twin in reversed time."""
    video, prompt = reversed_video(request.video), reversed_prompt(request.prompt)
    return replace(request, video=video, prompt=prompt, direction="forward")


def played_back(result: Video) -> Video:
    """The forward twin's result played backwards; its metadata says what was asked (the prompt turned back, a
    backward extension) and how it was made."""
    metadata = {**result.metadata, "prompt": reversed_prompt(result.metadata["prompt"]), "task": "extend backward"}
    return Video(result.frames[::-1].copy(), fps=result.fps, metadata={**metadata, "made_in_reversed_time": True})

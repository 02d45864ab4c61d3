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
from .workflows import Plan

REVERSED = "made_in_reversed_time"  # a plan's extra (and a result's metadata): sampled forward, played back
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
    """A backward extension's forward twin in reversed time; the prompt stays the user's (the sampler turns it round:
    `twin`), so that enhancement, "prompt used" and metadata speak of what was asked."""
    return replace(request, video=reversed_video(request.video), direction="forward")


def marked(plan: Plan) -> Plan:
    """The twin's plan, marked to be sampled in reversed time (`twin`) and played back (`played_back`)."""
    return replace(plan, task="extend backward", extra={**plan.extra, REVERSED: True})


def twin(plan: Plan) -> Plan:
    """What the sampler runs for a marked plan: the forward extension under the prompt turned round."""
    extra = {key: value for key, value in plan.extra.items() if key != REVERSED}
    return replace(plan, prompt=reversed_prompt(plan.prompt), extra=extra)


def played_back(result: Video, plan: Plan) -> Video:
    """The twin's result played backwards; its metadata says what was asked and how it was made."""
    metadata = {**result.metadata, "prompt": plan.prompt, "task": plan.task, REVERSED: True}
    return Video(result.frames[::-1].copy(), fps=result.fps, metadata=metadata)

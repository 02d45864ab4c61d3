"""A bridge (transition, loop) made as two arrivals that meet, for checkpoints whose world runs the same both ways
(`time_symmetric` in a checkpoint's sora.json).

Going forward from given frames is what such a model does best; arriving at given frames is not (measured on the
bundled model: bridges sampled in one window ended in jumps, cross-fades and second objects). So a bridge is made
of two extensions: forward from clip A's end, and backward into clip B's start (itself made forward in reversed
time: time_reversal.py), started at the bridge's init strength along its clip's motion (motion_fill.py): from
noise, under a prompt without a motion word, a half from a moving clip stood still. Each meets its own clip as an
extension does. Where the two paths are closest, a short bridge of `JOIN_LATENTS` latent frames, sampled between
them, joins them; each side keeps at least one latent frame of its extension, so both outer seams are an
extension's.

    bridge frames:  [ forward from A ... | join (sampled between the two) | ... backward into B ]
"""

from dataclasses import replace

import numpy as np

from .requests import ExtendRequest, Options, TransitionRequest
from .video import Video
from .workflows import Plan

MEETS = "made_as_two_arrivals"  # a plan's extra (and a result's metadata): the bridge was made in parts
JOIN_LATENTS = 1  # the join's length in latent frames
PARTS = 3  # sampling calls a bridge takes: two extensions and the join
BLUR = 8  # frames are compared as block means of this many pixels a side: near, not only overlapping, objects count


def applies(plan: Plan, temporal_stride: int) -> bool:
    """Whether the bridge is long enough for two extensions and a join between them."""
    return plan.task in ("transition", "loop") and plan.extra["new_frames"] >= (JOIN_LATENTS + 2) * temporal_stride


def marked(plan: Plan) -> Plan:
    return replace(plan, extra={**plan.extra, MEETS: True})


def options(plan: Plan) -> Options:
    """The plan's settings as a request's options, so that every part samples with what the user asked."""
    s = plan.settings
    return Options(
        negative_prompt=s.negative_prompt,
        height=s.height,
        width=s.width,
        steps=s.steps,
        guidance=s.guidance,
        seed=s.seed,
        fast=s.fast,
    )


def clips(plan: Plan, fps: float) -> tuple[Video, Video]:
    """Clip A and clip B (a loop's B is its own clip), already fitted to the model's size and frame rate."""
    timeline = plan.timeline
    b = timeline.before if plan.task == "loop" else timeline.after
    return Video(timeline.before, fps=fps), Video(b, fps=fps)


def halves(plan: Plan, fps: float) -> tuple[ExtendRequest, ExtendRequest]:
    """The two extensions a bridge is made of: forward from A's end, backward into B's start."""
    a, b = clips(plan, fps)
    new, match, strength = plan.extra["new_frames"], plan.timeline.match_colour, plan.timeline.init_strength
    same = dict(init_strength=strength, match_colour=match, options=options(plan))
    forward = ExtendRequest(a, plan.prompt, new, "forward", **same)
    backward = ExtendRequest(b, plan.prompt, new, "backward", **same)
    return forward, backward


def blurred(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) frames as (T, H / BLUR, W / BLUR, 3) block means."""
    t, h, w, _ = frames.shape
    h, w = h // BLUR * BLUR, w // BLUR * BLUR
    return frames[:, :h, :w].astype(np.float32).reshape(t, h // BLUR, BLUR, w // BLUR, BLUR, 3).mean((2, 4))


def meeting_latent(forward: np.ndarray, backward: np.ndarray, stride: int) -> int:
    """Where the join starts, in latent frames from the bridge's start: centred on the frame where the two
    extensions' frames (N, H, W, 3) at the same time are closest, each side keeping at least one latent frame."""
    distance = np.abs(blurred(forward) - blurred(backward)).mean((1, 2, 3))  # (N,)
    closest = int(np.argmin(distance))
    latents = len(forward) // stride
    return int(np.clip(round((closest + 0.5 - JOIN_LATENTS * stride / 2) / stride), 1, latents - 1 - JOIN_LATENTS))


def join_request(plan: Plan, forward: Video, backward: Video, fps: float, stride: int) -> TransitionRequest:
    """The join: a short transition from A and its forward extension's first part to the backward extension's
    last part and B."""
    a, b = clips(plan, fps)
    new = plan.extra["new_frames"]
    ahead, behind = forward.frames[len(a.frames) :], backward.frames[: len(backward.frames) - len(b.frames)]
    start = meeting_latent(ahead, behind, stride) * stride
    end = start + JOIN_LATENTS * stride
    left = Video(np.concatenate([a.frames, ahead[:start]]), fps=fps)
    right = Video(np.concatenate([behind[end:new], b.frames]), fps=fps)
    init_strength = plan.timeline.init_strength
    match = plan.timeline.match_colour
    return TransitionRequest(left, right, plan.prompt, end - start, init_strength, match, options(plan))


def finished(joined: Video, plan: Plan) -> Video:
    """The joined result as the bridge asked for: a loop ends before its clip comes round again; the metadata
    speaks of what was asked and says how it was made."""
    frames = joined.frames
    if plan.task == "loop":
        frames = frames[: len(frames) - len(plan.timeline.before)]
    metadata = {**joined.metadata, **plan.extra, "prompt": plan.prompt, "task": plan.task, "num_frames": len(frames)}
    return Video(frames, fps=joined.fps, metadata=metadata)

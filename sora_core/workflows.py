"""Sora's applications on one sampler: extend (both ways, image-to-video), transition, loop, restyle.

Every workflow places the user's frames on the output timeline, marks them known, samples, and
pastes the user's frames back unchanged; only the new frames come from the decoder, given the colours of
their neighbouring source frames (colour_transfer.py). Timelines (pixel frames, 4 per latent frame after the first):
    forward  : [context 4a+1 | new 4b]          backward : [new 4b+1 | context 4a]
    transition: [A context 4a+1 | bridge 4m | B context 4c]
"""

import numpy as np
import torch
from PIL import Image

from .colour_transfer import colour_levels, transfer_colours
from .conditioning import fill_unknown, known_latent_frames
from .sampling import Conditioning, sdedit_start
from .video import Video

DEFAULT_STRENGTH = 0.6
# `init_strength` < 1 starts new frames from the filled timeline (each unknown frame a copy of its nearest known
# one) noised to that t, instead of from pure noise (t = 1): a knob between continuity and free motion. Continuing
# from given frames (forward) the models keep their seams at 1; arriving at given frames (backward, the end of a
# bridge, a loop) the bundled one jumped, so its checkpoint sets `arrival_init_strength` below 1 for those
# (measurements in the model card); None picks that default per workflow.
MAX_CONTEXT_LATENTS = 2  # context frames beyond this add cost but little information


# ------------------------------------------------------------------------------------ fitting inputs


def grid_size(pipe, video: Video, height: int | None, width: int | None) -> tuple[int, int]:
    """The output size: as asked, else the input's own when it is on the grid, else its aspect ratio at the
    preset's area."""
    stride, preset = pipe.spatial_stride, pipe.preset
    if height is not None and width is not None:
        return height, width
    h, w = video.height, video.width
    if h % stride == 0 and w % stride == 0 and h <= preset.max_height and w <= preset.max_width:
        return h, w
    area = preset.height * preset.width
    scale = (area / (h * w)) ** 0.5
    fit_h = int(np.clip(round(h * scale / stride) * stride, stride, preset.max_height))
    fit_w = int(np.clip(round(w * scale / stride) * stride, stride, preset.max_width))
    return fit_h, fit_w


def fit(video: Video, height: int, width: int, fps: float) -> np.ndarray:
    """Frames at the model's fps (nearest frame) and size (scale to cover, centre crop); untouched if already so."""
    frames = video.frames
    if video.num_frames > 1 and abs(video.fps - fps) > 0.01 * fps:
        count = max(1, int(round(video.num_frames * fps / video.fps)))
        index = np.minimum(np.round(np.arange(count) * video.fps / fps).astype(int), video.num_frames - 1)
        frames = frames[index]
    if frames.shape[1:3] == (height, width):
        return frames
    h, w = frames.shape[1:3]
    scale = max(height / h, width / w)
    new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
    top, left = (new_h - height) // 2, (new_w - width) // 2
    resized = [np.asarray(Image.fromarray(f).resize((new_w, new_h), Image.BICUBIC)) for f in frames]
    return np.stack(resized)[:, top : top + height, left : left + width]


# ------------------------------------------------------------------------------------ the shared core


def check_fraction(value, name: str, zero_ok: bool = False) -> float:
    """A noise level for SDEdit: a number in (0, 1], or in [0, 1] where 0 (keep the input) makes sense."""
    allowed = "from 0 to 1" if zero_ok else "above 0 and at most 1"
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if not number or not (0 <= value if zero_ok else 0 < value) or value > 1:
        raise ValueError(f"{name} must be a number {allowed}; got {value}.")
    return value


def match_colour(new: np.ndarray, anchors: dict[int, np.ndarray], positions: np.ndarray, device=None) -> np.ndarray:
    """Each new frame (N, H, W, 3) given the colours of the source frames beside its gap (`anchors`, timeline
    position -> frame), blended by distance across a gap between two seams. The DiT continues the scene but not
    always its exact colours (measured: an object's colour changed by up to 70 levels at a seam, while the
    background held within 4), and the decoder adds its own tint; matching to the source removes both. Runs on
    `device` (the model's), so a GPU call does not wait on the CPU for it."""
    device = torch.device("cpu") if device is None else torch.device(device)
    order = sorted(anchors)
    levels = {a: colour_levels(anchors[a], device=device) for a in order}
    frames = torch.as_tensor(new).to(device)  # (N, H, W, 3) uint8
    out = torch.empty(frames.shape, dtype=torch.float32, device=device)
    for k, position in enumerate(positions):
        before = [a for a in order if a < position]
        after = [a for a in order if a > position]
        if before and after:
            # The frames right beside each seam take that seam's colours alone.
            weight = (position - before[-1] - 1) / max(after[0] - before[-1] - 2, 1)
            blend = [(before[-1], 1 - weight), (after[0], weight)]
        else:
            blend = [(before[-1] if before else after[0], 1.0)]
        out[k] = sum(w * transfer_colours(frames[k], levels[a]) for a, w in blend if w > 0)
    return out.round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def sample_with_known(
    pipe,
    prompt: str,
    timeline: np.ndarray,
    known_pixels: np.ndarray,
    settings: dict,
    seed: int,
    progress=None,
    should_stop=None,
    init_strength=None,
) -> np.ndarray:
    """Sample a timeline (T, H, W, 3) whose `known_pixels` frames are given; returns decoded frames, colour-matched,
    with the given frames pasted back exactly. New frames start from the filled timeline noised to `init_strength`
    (1: pure noise; None: 1 where new frames only continue given ones, else the preset's arrival_init_strength)."""
    if init_strength is None:
        arrives = bool(known_pixels[np.argmin(known_pixels) :].any())  # a given frame after a new one
        init_strength = pipe.preset.arrival_init_strength if arrives else 1.0
    init_strength = check_fraction(init_strength, "init_strength")
    filled = fill_unknown(timeline, known_pixels)
    known_frames = known_latent_frames(known_pixels, pipe.temporal_stride)
    known_latents = pipe.encode_frames(filled)
    conditioning = Conditioning(known_latents, known_frames.to(pipe.device), pipe.preset.conditioning)
    decoded = pipe.sample(
        prompt,
        settings,
        seed,
        conditioning=conditioning,
        start_latents=known_latents if init_strength < 1 else None,
        start_step=sdedit_start(pipe.scheduler, settings["steps"], init_strength),
        progress=progress,
        should_stop=should_stop,
    )
    given = np.flatnonzero(known_pixels)
    new = np.flatnonzero(~known_pixels)
    # Colour anchors: the given frames right beside each gap.
    anchors = sorted({int(g) for g in given if (g - 1 in new) or (g + 1 in new)})
    out = timeline.copy()
    out[new] = match_colour(decoded[new], {a: timeline[a] for a in anchors}, new, device=pipe.device)
    return out


def pad_frames(frames: np.ndarray, count: int) -> np.ndarray:
    """At least `count` frames: a short input (an image) repeats its last frame to fill whole latent frames."""
    if len(frames) >= count:
        return frames
    return np.concatenate([frames, np.repeat(frames[-1:], count - len(frames), 0)])


def new_frame_count(pipe, num_frames: int | None, plus_one: bool) -> int:
    """About `num_frames` new frames, rounded to the frame rule: 4b (forward, bridges) or 4b+1 (backward)."""
    k = pipe.temporal_stride
    if num_frames is None:
        num_frames = pipe.preset.num_frames - 1
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
        raise ValueError(f"num_frames must be a positive whole number; got {num_frames}.")
    blocks = max(1, int(round(num_frames / k)))
    return blocks * k + (1 if plus_one else 0)


def _context_latents(pipe, available: int, new: int, extra_latents: int = 0) -> int:
    """How many latent frames of context fit beside `new` frames within the preset's length."""
    k = pipe.temporal_stride
    room = (pipe.preset.max_frames - 1 - new) // k - extra_latents
    if room < 0:
        raise ValueError(f"At most {pipe.preset.max_frames - 1 - k} new frames fit in one call; ask for fewer.")
    return max(0, min(MAX_CONTEXT_LATENTS, room, available))


# ------------------------------------------------------------------------------------ workflows


def extend(
    pipe,
    video: Video,
    prompt: str,
    num_frames=None,
    direction: str = "forward",
    seed: int = 0,
    height=None,
    width=None,
    progress=None,
    should_stop=None,
    init_strength=None,
    negative_prompt=None,
    steps=None,
    guidance=None,
) -> Video:
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward'; got {direction!r}.")
    height, width = grid_size(pipe, video, height, width)
    source = fit(video, height, width, pipe.preset.fps)
    k, n = pipe.temporal_stride, len(source)
    if direction == "forward":
        new = new_frame_count(pipe, num_frames, plus_one=False)
        a = _context_latents(pipe, (n - 1) // k, new)
        context = source[n - (a * k + 1) :]  # 4a+1 frames
        timeline = np.concatenate([context, np.zeros((new, height, width, 3), np.uint8)])
        known = np.arange(len(timeline)) < len(context)
    else:
        new = new_frame_count(pipe, num_frames, plus_one=True)
        a = max(1, _context_latents(pipe, n // k, new, extra_latents=0))
        context = pad_frames(source[: a * k], a * k)
        timeline = np.concatenate([np.zeros((new, height, width, 3), np.uint8), context])
        known = np.arange(len(timeline)) >= new
    settings = pipe.settings(negative_prompt, len(timeline), height, width, steps, guidance)
    result = sample_with_known(pipe, prompt, timeline, known, settings, seed, progress, should_stop, init_strength)
    frames = np.concatenate([source, result[~known]] if direction == "forward" else [result[~known], source])
    return pipe.make_video(frames, prompt, seed, settings, task=f"extend {direction}", new_frames=int(new))


def transition(
    pipe,
    video_a: Video,
    video_b: Video,
    prompt: str,
    num_frames=None,
    seed: int = 0,
    height=None,
    width=None,
    progress=None,
    should_stop=None,
    init_strength=None,
    negative_prompt=None,
    steps=None,
    guidance=None,
) -> Video:
    """Clip A, bridge frames, then clip B."""
    asked = dict(negative_prompt=negative_prompt, steps=steps, guidance=guidance)
    source_a, bridge, source_b, settings = _bridge(
        pipe, video_a, video_b, prompt, num_frames, seed, height, width, progress, should_stop, init_strength, asked
    )
    frames = np.concatenate([source_a, bridge, source_b])
    return pipe.make_video(frames, prompt, seed, settings, task="transition", new_frames=len(bridge))


def loop(
    pipe,
    video: Video,
    prompt: str,
    num_frames=None,
    seed: int = 0,
    height=None,
    width=None,
    progress=None,
    should_stop=None,
    init_strength=None,
    negative_prompt=None,
    steps=None,
    guidance=None,
) -> Video:
    """The video, then a bridge from its last frame back to its first: it plays seamlessly on repeat."""
    asked = dict(negative_prompt=negative_prompt, steps=steps, guidance=guidance)
    source, bridge, _, settings = _bridge(
        pipe, video, video, prompt, num_frames, seed, height, width, progress, should_stop, init_strength, asked
    )
    frames = np.concatenate([source, bridge])
    return pipe.make_video(frames, prompt, seed, settings, task="loop", new_frames=len(bridge))


def _bridge(
    pipe, video_a, video_b, prompt, num_frames, seed, height, width, progress, should_stop, init_strength, asked: dict
):
    """New frames from clip A's end to clip B's start: (source A, bridge frames, source B, settings used).
    `asked`: the caller's negative_prompt, steps and guidance (None: the preset's)."""
    height, width = grid_size(pipe, video_a, height, width)
    source_a = fit(video_a, height, width, pipe.preset.fps)
    source_b = fit(video_b, height, width, pipe.preset.fps)
    k = pipe.temporal_stride
    bridge = new_frame_count(pipe, num_frames, plus_one=False)
    c = max(1, min(MAX_CONTEXT_LATENTS, len(source_b) // k))
    a = _context_latents(pipe, (len(source_a) - 1) // k, bridge, extra_latents=c)
    context_a = source_a[len(source_a) - (a * k + 1) :]
    context_b = pad_frames(source_b[: c * k], c * k)
    gap = np.zeros((bridge, height, width, 3), np.uint8)
    timeline = np.concatenate([context_a, gap, context_b])
    known = np.ones(len(timeline), bool)
    known[len(context_a) : len(context_a) + bridge] = False
    settings = pipe.settings(asked["negative_prompt"], len(timeline), height, width, asked["steps"], asked["guidance"])
    result = sample_with_known(pipe, prompt, timeline, known, settings, seed, progress, should_stop, init_strength)
    return source_a, result[~known], source_b, settings


def restyle(
    pipe,
    video: Video,
    prompt: str,
    strength=None,
    seed: int = 0,
    height=None,
    width=None,
    progress=None,
    should_stop=None,
    negative_prompt=None,
    steps=None,
    guidance=None,
) -> Video:
    """SDEdit: noise the input's latents to t = strength, then denoise under the new prompt."""
    strength = DEFAULT_STRENGTH if strength is None else strength
    strength = check_fraction(strength, "strength", zero_ok=True)
    height, width = grid_size(pipe, video, height, width)
    source = fit(video, height, width, pipe.preset.fps)
    n, k = len(source), pipe.temporal_stride
    if n > pipe.preset.max_frames:
        raise ValueError(f"Restyle takes at most {pipe.preset.max_frames} frames at {pipe.preset.fps:g} fps.")
    length = -(-(n - 1) // k) * k + 1  # pad to 4k+1 with the last frame, cut back after
    padded = pad_frames(source, length)
    settings = pipe.settings(negative_prompt, length, height, width, steps, guidance)
    if strength == 0:
        return pipe.make_video(source, prompt, seed, settings, task="restyle", strength=0.0)
    start_step = sdedit_start(pipe.scheduler, settings["steps"], strength)
    start_latents = pipe.encode_frames(padded) if strength < 1 else None
    frames = pipe.sample(
        prompt,
        settings,
        seed,
        start_latents=start_latents,
        start_step=start_step,
        progress=progress,
        should_stop=should_stop,
    )
    return pipe.make_video(frames[:n], prompt, seed, settings, task="restyle", strength=float(strength))

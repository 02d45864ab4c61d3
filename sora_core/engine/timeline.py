"""The timeline a sampling call works on: its frames, which of them are given, and where the result goes; and
the pixel <-> latent frame mapping that training and inference share.

Wan's causal VAE turns T = 4k+1 pixel frames into k+1 latent frames: latent 0 holds pixel frame 0,
latent j >= 1 holds pixel frames 4j-3 .. 4j. A latent frame counts as known only when all of its
pixel frames are known. Unknown pixel frames are filled with the nearest known frame before
encoding, in training and at inference alike, so a known segment encodes the same way in both —
which matters because each latent frame of a causal VAE depends on every frame before it.
"""

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Conditioning:
    """The latent side of a timeline's known frames, as the sampler holds them."""

    known_latents: torch.Tensor  # (B, C, F, h, w), normalised like the sampled latents
    known_frames: torch.Tensor  # (F,) bool: latent frames that are given
    mode: str = "clean"  # "clean" (per-token t = 0) or "replace" (re-noised every step); see sampling.py


@dataclass(frozen=True)
class Timeline:
    """One sampling window and how its new frames join the result: before + new frames + after.

    Every workflow is a function that lays one out (`workflows.py`); `SoraPipeline.sample` fills it in."""

    frames: np.ndarray  # (T, H, W, 3) uint8, T = 4k+1; unknown frames are zeros (or, for SDEdit, the input)
    known: np.ndarray  # (T,) bool: frames given by the user, pasted back exactly
    before: np.ndarray  # (N, H, W, 3) source frames that precede the new frames in the result
    after: np.ndarray  # (M, H, W, 3) source frames that follow them
    # Where the new frames start: 1 is pure noise; below 1, the timeline (unknown frames filled with their nearest
    # known one carried along its motion, motion_fill.py; or the input itself for SDEdit) noised to that t.
    init_strength: float = 1.0
    new: slice = field(default_factory=lambda: slice(None))  # which of the window's new frames the result keeps
    match_colour: bool = True  # give new frames the colours of the given frames beside their seams

    def assemble(self, sampled: np.ndarray) -> np.ndarray:
        """The result: before, the kept new frames of `sampled` (the window, decoded), after."""
        return np.concatenate([self.before, sampled[~self.known][self.new], self.after])

    @property
    def new_frames(self) -> int:
        return len(range(*self.new.indices(int((~self.known).sum()))))


def latent_frames(num_frames: int, stride: int = 4) -> int:
    return (num_frames - 1) // stride + 1


def pixel_span(latent_index: int, stride: int = 4) -> range:
    """Pixel frames that latent frame `latent_index` covers."""
    if latent_index == 0:
        return range(0, 1)
    return range(stride * latent_index - stride + 1, stride * latent_index + 1)


def known_latent_frames(known_pixels: np.ndarray, stride: int = 4) -> torch.Tensor:
    """(F,) bool: latent frames whose pixel frames are all known. known_pixels: (T,) bool."""
    count = latent_frames(len(known_pixels), stride)
    return torch.tensor([bool(known_pixels[list(pixel_span(j, stride))].all()) for j in range(count)])


def known_pixel_frames(known_latents: torch.Tensor, num_frames: int, stride: int = 4) -> np.ndarray:
    """(T,) bool: the pixel frames covered by the known latent frames."""
    known = np.zeros(num_frames, bool)
    for j in np.flatnonzero(known_latents.numpy()):
        known[list(pixel_span(int(j), stride))] = True
    return known


def nearest_known(known_pixels: np.ndarray) -> np.ndarray:
    """(T,) int: each frame's nearest known frame (known_pixels (T,) bool, at least one True). Ties go to the
    earlier frame, so a gap's first half takes after what precedes it."""
    known_index = np.flatnonzero(known_pixels)
    positions = np.arange(len(known_pixels))
    return known_index[np.abs(positions[:, None] - known_index[None, :]).argmin(axis=1)]


def fill_unknown(frames, known_pixels: np.ndarray):
    """Replace unknown frames (axis 0 of frames, or axis 1 of a (B, C, T, H, W) tensor) by the nearest known one."""
    if not known_pixels.any() or known_pixels.all():
        return frames
    nearest = nearest_known(known_pixels)
    if isinstance(frames, torch.Tensor):
        return frames[:, :, torch.from_numpy(nearest)]
    return frames[nearest]


def random_known_latents(num_latent_frames: int, rng: np.random.Generator, p_none: float = 0.4) -> torch.Tensor:
    """A Sora-style training mask over latent frames: none, first frame, first frames, last frames, or both ends."""
    known = torch.zeros(num_latent_frames, dtype=torch.bool)
    if num_latent_frames < 2 or rng.random() < p_none:
        return known
    kinds = ["first_frame", "first_frames", "last_frames", "both_ends"]
    kind = rng.choice(kinds if num_latent_frames >= 3 else kinds[:3])  # both ends need a frame between them
    most = max(1, num_latent_frames // 2)
    if kind == "first_frame":
        known[0] = True
    elif kind == "first_frames":
        known[: rng.integers(1, most + 1)] = True
    elif kind == "last_frames":
        known[num_latent_frames - rng.integers(1, most + 1) :] = True
    else:
        head = rng.integers(1, max(2, num_latent_frames // 3 + 1))
        tail = rng.integers(1, max(2, num_latent_frames // 3 + 1))
        if head + tail >= num_latent_frames:
            head, tail = 1, 1
        known[:head] = True
        known[num_latent_frames - tail :] = True
    return known

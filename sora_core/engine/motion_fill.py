"""Where new frames start when sampling begins part way (init_strength < 1): each unknown frame is its nearest known
frame carried along the motion the known frames beside it show, so the new frames set off at the source's speed.

A still copy of the nearest frame (the fill the known frames are encoded with, `timeline.fill_unknown`) told the
bundled model to hold still: frames arriving at a given clip moved 0.1-1.5 px a frame against its sources'
1.7-2.5 (research log, 2026-12-04). The motion is one whole-frame translation (phase correlation): an object on a
plain background, or a camera pan. Where the frames show none clearly (a still scene, motion that is no
translation) the copy stays.
"""

import numpy as np

from .timeline import fill_unknown, nearest_known

SPAN = 4  # known frames the motion is measured over (a latent frame's worth)
MIN_PEAK = 0.2  # phase correlation's peak (1 for a pure translation) below which no motion is read: noise peaks ~0.1


def translation(a: np.ndarray, b: np.ndarray) -> tuple[int, int] | None:
    """The whole-pixel (dy, dx) that moves frame a (H, W, 3) onto frame b, or None where none is clear."""
    spectra = []
    for frame in (a, b):
        grey = frame.astype(np.float32).mean(-1)
        spectra.append(np.fft.fft2(grey - grey.mean()))
    cross = spectra[1] * np.conj(spectra[0])
    correlation = np.fft.ifft2(cross / (np.abs(cross) + 1e-9)).real  # (H, W), a peak at the shift
    if correlation.max() < MIN_PEAK:
        return None
    dy, dx = np.unravel_index(int(np.argmax(correlation)), correlation.shape)
    height, width = correlation.shape
    return int(dy - height if dy > height // 2 else dy), int(dx - width if dx > width // 2 else dx)


def shifted(frame: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """frame (H, W, 3) moved by (dy, dx) pixels, the uncovered side repeating its edge."""
    height, width = frame.shape[:2]
    dy, dx = int(np.clip(dy, -height, height)), int(np.clip(dx, -width, width))
    pad = max(abs(dy), abs(dx))
    if pad == 0:
        return frame
    padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    return padded[pad - dy : pad - dy + height, pad - dx : pad - dx + width]


def velocity(frames: np.ndarray, known: np.ndarray, anchor: int, inward: int) -> tuple[float, float] | None:
    """Pixels a frame (dy, dx), forward in time, of the known run that starts at `anchor` and goes `inward` (+1 or
    -1) into the known frames; None where fewer than two frames are known there or no translation is clear."""
    span = 0
    while span < SPAN and 0 <= anchor + inward * (span + 1) < len(known) and known[anchor + inward * (span + 1)]:
        span += 1
    if span == 0:
        return None
    earlier, later = sorted((anchor, anchor + inward * span))
    moved = translation(frames[earlier], frames[later])
    return None if moved is None else (moved[0] / span, moved[1] / span)


def motion_filled(frames: np.ndarray, known: np.ndarray) -> np.ndarray:
    """frames (T, H, W, 3) with each unknown frame its nearest known one carried along the motion there."""
    filled = fill_unknown(frames, known)
    if not known.any() or known.all():
        return filled
    filled = filled.copy()
    nearest = nearest_known(known)
    motions = {}
    for index in np.flatnonzero(~known):
        anchor = int(nearest[index])
        inward = 1 if anchor > index else -1
        if (anchor, inward) not in motions:
            motions[anchor, inward] = velocity(frames, known, anchor, inward)
        motion = motions[anchor, inward]
        if motion is not None:
            distance = index - anchor  # frames from the anchor, negative before it
            filled[index] = shifted(frames[anchor], round(motion[0] * distance), round(motion[1] * distance))
    return filled

"""The toy world's detector: colour, shape and motion read back from frames, and the measures of a seam.

The toy world has flat colours on plain backgrounds, so simple pixel statistics suffice: the object is the pixels
more than 60 RGB levels from the border's median colour; its shape comes from its bounding-box fill on its
high-contrast pixels (median over frames), its motion from its centre's path. The evaluation and the tests read
generated frames with it.
"""

from dataclasses import dataclass

import numpy as np

from . import world as toyworld

FOREGROUND_THRESHOLD = 60  # summed |RGB difference| from the background colour
# Shape is read on the pixels past this share of the object's contrast. Measured on the bundled VAE's round trips of
# 60 held-out rendered 17-frame clips: shape read right 31 / 60 at the 60-level mask, 50 / 60 at 0.6 (0.4: 41, 0.5:
# 45); rendered clips 60 / 60 either way.
SHAPE_CONTRAST = 0.6
# Fill thresholds between the shapes, set midway across the gaps between their fills after the bundled VAE's round
# trip (every generated frame is decoded by it), 30 rendered images and 30 clips a shape: balls 0.72-0.83, squares
# 0.86-0.99, triangles 0.54-0.68. The ideal shapes' midpoints (0.9 and 0.64) read 15 % of round-tripped squares as
# balls and some triangles as balls, a ceiling under any image model.
SQUARE_FILL = 0.84
BALL_FILL = 0.70
MIN_ACCELERATION = 0.1  # px / frame^2: what counts as speeding up downwards


@dataclass
class Reading:
    color: str | None
    shape: str | None
    motion: str | None
    background: str
    centers: np.ndarray  # (T, 2) x, y per frame; NaN where nothing was seen
    object_rgb: np.ndarray  # (T, 3) mean colour of the object per frame
    background_rgb: np.ndarray  # (T, 3) mean colour of the background per frame


def nearest(rgb, table: dict) -> str:
    return min(table, key=lambda name: np.abs(np.float32(table[name]) - rgb).sum())


def border_colour(frames: np.ndarray) -> np.ndarray:
    """(3,) the median colour of the frames' (T, H, W, 3) border pixels: the background's."""
    border = np.concatenate([frames[:, 0], frames[:, -1], frames[:, :, 0], frames[:, :, -1]], axis=1)
    return np.median(border.reshape(-1, 3).astype(np.float32), axis=0)


def read(frames: np.ndarray) -> Reading:
    """Colour, shape and motion of the (main) object in uint8 frames (T, H, W, 3)."""
    frames = frames.astype(np.float32)
    background_rgb = border_colour(frames)
    differences = np.abs(frames - background_rgb).sum(-1)  # (T, H, W)
    masks = differences > FOREGROUND_THRESHOLD
    count = len(frames)
    centers = np.full((count, 2), np.nan)
    object_rgb = np.full((count, 3), np.nan)
    bg_rgb = np.zeros((count, 3))
    fills = []
    for t in range(count):
        bg_rgb[t] = frames[t][~masks[t]].mean(0) if (~masks[t]).any() else background_rgb
        ys, xs = np.nonzero(masks[t])
        if len(xs) < 6:
            continue
        centers[t] = xs.mean(), ys.mean()
        object_rgb[t] = frames[t][masks[t]].mean(0)
        fill = box_fill(differences[t], masks[t])
        if fill is not None:
            fills.append(fill)
    seen = ~np.isnan(centers[:, 0])
    color = nearest(np.nanmedian(object_rgb[seen], axis=0), toyworld.COLORS) if seen.any() else None
    shape = None
    if fills:
        fill = float(np.median(fills))
        shape = "square" if fill > SQUARE_FILL else "ball" if fill > BALL_FILL else "triangle"
    return Reading(
        color,
        shape,
        _motion(centers[seen]) if seen.sum() >= 2 else None,
        nearest(background_rgb, toyworld.BACKGROUNDS),
        centers,
        object_rgb,
        bg_rgb,
    )


def foreground(frame: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of a uint8 frame (H, W, 3) more than FOREGROUND_THRESHOLD from its border's colour."""
    return np.abs(frame.astype(np.float32) - border_colour(frame[None])).sum(-1) > FOREGROUND_THRESHOLD


def count_objects(frame: np.ndarray) -> int:
    """How many objects a uint8 frame (H, W, 3) shows: 8-connected regions of foreground pixels (as `read` masks
    them) of at least a quarter of the smallest object the world draws at this size. A second object, a
    cross-fade's ghost or a blob split in two each count."""
    mask = foreground(frame)
    smallest = np.pi * (toyworld.RADIUS[0] * min(frame.shape[:2]) / 128) ** 2
    return sum(area >= smallest / 4 for area in region_areas(mask))


def region_areas(mask: np.ndarray) -> list[int]:
    """The pixel counts of a boolean mask's 8-connected regions."""
    unseen = mask.copy()
    areas = []
    for start in zip(*np.nonzero(mask)):
        if not unseen[start]:
            continue
        unseen[start] = False
        stack, area = [start], 0
        while stack:
            y, x = stack.pop()
            area += 1
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and unseen[ny, nx]:
                        unseen[ny, nx] = False
                        stack.append((ny, nx))
        areas.append(area)
    return areas


def box_fill(difference: np.ndarray, mask: np.ndarray) -> float | None:
    """The share of its bounding box the object fills (square 1, ball pi/4, triangle 1/2), read on the pixels past
    SHAPE_CONTRAST of its contrast: a blurred edge (a VAE's, a generated one) widens the object at the 60-level
    threshold, which drew triangles as balls and squares' corners round; None where it touches the frame's edge."""
    peak = np.percentile(difference[mask], 90)  # the object's contrast, robust to a few stray pixels
    ys, xs = np.nonzero(difference > max(FOREGROUND_THRESHOLD, SHAPE_CONTRAST * peak))
    if len(xs) < 6 or xs.min() == 0 or ys.min() == 0:
        return None
    if xs.max() == difference.shape[1] - 1 or ys.max() == difference.shape[0] - 1:
        return None
    return len(xs) / ((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1))


def _motion(centers: np.ndarray) -> str:
    dx, dy = centers[-1] - centers[0]
    vy = np.diff(centers[:, 1])
    if np.abs(centers - centers[0]).max() < 3:
        return "standing still"
    # A bounce: falling (y grows), then rising after hitting the floor, each by over a fifth of the vertical travel,
    # so that a straight rise after a 2-px wobble of a generated object is not a bounce.
    ys, travel = centers[:, 1], np.abs(vy).sum()
    falls = ys - ys[0]  # down from the start to each frame
    rises = ys - np.minimum.accumulate(ys[::-1])[::-1]  # up from each frame to the highest point after it
    if len(vy) > 3 and np.minimum(falls, rises).max() > 0.2 * travel and abs(dx) < 0.5 * travel:
        return "bouncing"
    if abs(dx) >= abs(dy):
        return "moving right" if dx > 0 else "moving left"
    return "moving down" if dy > 0 else "moving up"


def falls_with_gravity(reading: Reading) -> bool:
    """Between bounces a ball speeds up downwards: the median vertical acceleration is positive, by more than the
    ~0.02 px/frame^2 that anti-aliased edges add to a straight path (gravity is 0.45-0.6 at 96-128 px)."""
    ys = reading.centers[:, 1]
    ys = ys[~np.isnan(ys)]
    return len(ys) >= 4 and float(np.median(np.diff(ys, 2))) > MIN_ACCELERATION


@dataclass
class Seam:
    jump: float  # object movement across the seam, pixels
    bound: float  # 2 x the median step between neighbouring frames + 2 pixels
    object_change: float  # max per-channel change of the object's mean colour across the seam, 0-255
    background_change: float

    @property
    def ok(self) -> bool:
        return self.jump <= self.bound and self.object_change <= 6 and self.background_change <= 6


def median_step(reading: Reading) -> float:
    """The object's median movement between neighbouring frames, pixels (0 when it is seen in no two)."""
    steps = np.linalg.norm(np.diff(reading.centers, axis=0), axis=1)
    steps = steps[~np.isnan(steps)]
    return float(np.median(steps)) if len(steps) else 0.0


def seam(frames: np.ndarray, index: int) -> Seam:
    """Continuity between frames index-1 and index of a clip."""
    reading = read(frames)
    median = median_step(reading)
    jump = float(np.linalg.norm(reading.centers[index] - reading.centers[index - 1]))
    object_change = float(np.abs(reading.object_rgb[index] - reading.object_rgb[index - 1]).max())
    background_change = float(np.abs(reading.background_rgb[index] - reading.background_rgb[index - 1]).max())
    return Seam(
        np.nan_to_num(jump, nan=np.inf), 2 * median + 2, np.nan_to_num(object_change, nan=255.0), background_change
    )

"""The toy world: procedural, captioned clips of flat-coloured shapes moving on plain backgrounds.

It is the bundled model's whole training set and the ground truth of its evaluation: every clip is
described exactly by a `Scene`, so what a generated clip shows can be read back and compared.
"""

from dataclasses import dataclass, field

import numpy as np

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 190, 60),
    "blue": (40, 70, 230),
    "yellow": (240, 220, 40),
    "purple": (150, 50, 200),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (10, 10, 10),
    "gray": (128, 128, 128),
    "white": (245, 245, 245),
}
SHAPES = ("ball", "square", "triangle")
MOTIONS = ("moving left", "moving right", "moving up", "moving down", "bouncing", "standing still")
VOCABULARY = {"colors": tuple(COLORS), "shapes": SHAPES, "motions": MOTIONS, "backgrounds": tuple(BACKGROUNDS)}

CAPTION_TEMPLATES = (
    "{object} on a {background} background",
    "{object} against a {background} background",
    "{object}, {background} background",
    "on a {background} background, {object}",
    "{object} in front of a plain {background} background",
)
GRAVITY = 0.6  # pixels / frame^2 at 128 pixels of height; scaled with the frame height
SPEED = 2.5  # pixels / frame at 128 pixels; scaled with the frame size
# Object radius in pixels at 128 pixels, scaled with the frame size: about 7 % of the frame's area. Objects of
# 2.8 % (radius 9-15) spanned about two DiT tokens, and samples came out as blobs of no readable shape.
RADIUS = (14.0, 20.0)
IMAGE_AS_FIRST_OF = 17  # frames: an image is drawn as the first frame of a clip this long (sora-tiny's default)


@dataclass(frozen=True)
class Thing:
    shape: str
    color: str
    motion: str

    def describe(self, color: bool = True, motion: bool = True) -> str:
        words = [self.color] if color else []
        words += [self.shape, self.motion] if motion else [self.shape]
        article = "an" if words[0][0] in "aeiou" else "a"
        return " ".join([article, *words])


@dataclass(frozen=True)
class Scene:
    things: tuple[Thing, ...]
    background: str
    template: int = 0

    def caption(self, color: bool = True, motion: bool = True, background: bool = True) -> str:
        """The full caption, or one that leaves out the colour, the motion or the background (a user's short
        prompt: a model trained on both picks a likely value for what is left out)."""
        objects = " and ".join(t.describe(color, motion) for t in self.things)
        if not background:
            return objects
        return CAPTION_TEMPLATES[self.template % len(CAPTION_TEMPLATES)].format(
            object=objects, background=self.background
        )

    def partial_caption(self, rng: np.random.Generator, p_omit: float) -> str:
        """With probability `p_omit` each, the colour, the motion and the background go unsaid (p_omit 0 draws
        nothing from `rng`)."""
        if p_omit <= 0:
            return self.caption()
        keep = rng.random(3) >= p_omit
        return self.caption(color=bool(keep[0]), motion=bool(keep[1]), background=bool(keep[2]))


def combination(thing: Thing, background: str) -> tuple[str, str, str, str]:
    return (thing.color, thing.shape, thing.motion, background)


def is_held_out(thing: Thing, background: str) -> bool:
    """About one combination in ten of colour, shape, motion and background never appears in training."""
    key = "|".join(combination(thing, background))
    return sum(key.encode()) * 2654435761 % 97 < 10


def valid(thing: Thing, background: str) -> bool:
    return COLORS[thing.color] != BACKGROUNDS[background]


def all_combinations(held_out: bool | None = None) -> list[tuple[Thing, str]]:
    """Every valid single-object combination; held_out=True / False keeps only that split."""
    out = []
    for color in COLORS:
        for shape in SHAPES:
            for motion in MOTIONS:
                for background in BACKGROUNDS:
                    thing = Thing(shape, color, motion)
                    if valid(thing, background) and (held_out is None or is_held_out(thing, background) == held_out):
                        out.append((thing, background))
    return out


@dataclass(frozen=True)
class Subset:
    """The part of the world a scene's main object is drawn from (a curriculum's early stages: one scene, then every
    appearance with two motions, ...); an empty tuple allows every value."""

    colors: tuple[str, ...] = ()
    shapes: tuple[str, ...] = ()
    motions: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()

    def __post_init__(self):
        for kind, chosen, allowed in (
            ("color", self.colors, COLORS),
            ("shape", self.shapes, SHAPES),
            ("motion", self.motions, MOTIONS),
            ("background", self.backgrounds, BACKGROUNDS),
        ):
            for value in chosen:
                if value not in allowed:
                    raise ValueError(f"unknown {kind} {value!r}; the toy world's: {', '.join(allowed)}.")

    def pool(self, split: str) -> list[tuple[Thing, str]]:
        """The split's combinations within the subset."""
        pool = [
            (thing, background)
            for thing, background in _POOLS[split]
            if (not self.colors or thing.color in self.colors)
            and (not self.shapes or thing.shape in self.shapes)
            and (not self.motions or thing.motion in self.motions)
            and (not self.backgrounds or background in self.backgrounds)
        ]
        if not pool:
            raise ValueError(f"no {split} combination of colour, shape, motion and background is in {self}.")
        return pool


def random_scene(
    rng: np.random.Generator, second_object_p: float = 0.1, split: str = "train", subset: Subset = Subset()
) -> Scene:
    """A random scene; its main object's combination is drawn from the training (or held-out) split."""
    pool = subset.pool(split)
    thing, background = pool[rng.integers(len(pool))]
    things = [thing]
    if rng.random() < second_object_p:
        for _ in range(10):
            other = Thing(rng.choice(SHAPES), rng.choice(list(COLORS)), rng.choice(MOTIONS))
            if valid(other, background) and other.color != thing.color:
                things.append(other)
                break
    return Scene(tuple(things), background, template=int(rng.integers(len(CAPTION_TEMPLATES))))


def caption_words() -> list[str]:
    """Every word (and comma) a caption can use: the vocabulary of a model trained on the toy world."""
    text = " ".join([*CAPTION_TEMPLATES, *COLORS, *SHAPES, *MOTIONS, *BACKGROUNDS, "a an and"])
    return sorted(set(text.replace("{object}", " ").replace("{background}", " ").replace(",", " , ").split()))


@dataclass
class Track:
    """Where each thing is in each frame: centres (T, 2) as (x, y) and a radius in pixels."""

    centers: list[np.ndarray] = field(default_factory=list)
    radii: list[float] = field(default_factory=list)


def render(
    scene: Scene, height: int, width: int, num_frames: int, rng: np.random.Generator, inside: bool = False
) -> tuple[np.ndarray, Track]:
    """Frames (T, H, W, 3) uint8 and the objects' tracks. `inside`: moving objects start where their whole path
    stays in the frame where it fits (a source clip to extend or read back): the start then tells the direction."""
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    frames[:] = BACKGROUNDS[scene.background]
    track = Track()
    scale = min(height, width) / 128
    for thing in scene.things:
        radius = float(rng.uniform(*RADIUS) * scale)
        centers = _trajectory(thing.motion, height, width, num_frames, radius, rng, inside)
        track.centers.append(centers)
        track.radii.append(radius)
    for t in range(num_frames):
        for thing, centers, radius in zip(scene.things, track.centers, track.radii):
            _draw(frames[t], thing.shape, COLORS[thing.color], centers[t], radius)
    return frames, track


DIRECTIONS = {"moving left": (-1, 0), "moving right": (1, 0), "moving up": (0, -1), "moving down": (0, 1)}


def _trajectory(motion: str, height: int, width: int, num_frames: int, radius: float, rng, inside: bool):
    """Centres (T, 2). By default a moving object starts anywhere, whatever its direction, and may leave the frame:
    when starts were kept where the whole path fits, a first frame on the left meant "moving right", and a model
    animating a known first frame learned to read the direction from the position and not from the prompt
    (measured: left, right and up gave the same path from one frame; on 64 clips without that cue it learned the
    word in 200 steps)."""
    speed = SPEED * min(height, width) / 128 * rng.uniform(0.8, 1.25)
    steps = np.arange(num_frames, dtype=np.float64)
    dx, dy = DIRECTIONS.get(motion, (0, 0))
    x = _start(width, radius + 1, speed * (num_frames - 1), dx, inside, rng)
    y = _start(height, radius + 1, speed * (num_frames - 1), dy, inside, rng)
    xs, ys = x + dx * speed * steps, y + dy * speed * steps
    if motion == "bouncing":
        ys = _bounce(height, num_frames, radius, rng)
    return np.stack([xs, ys], 1)


def _start(extent: int, margin: float, span: float, sign: int, inside: bool, rng) -> float:
    """A start along one axis: anywhere, or (`inside`, moving along it) where a path of `span` stays in."""
    if not inside or sign == 0:
        return rng.uniform(margin, max(margin, extent - margin))
    room = max(0.0, extent - 2 * margin - span)
    start = margin + rng.uniform(0, room)
    return start if sign > 0 else extent - start


def _bounce(height: int, num_frames: int, radius: float, rng) -> np.ndarray:
    """Height under gravity, reflected elastically at the floor (y grows downwards). The ball starts low
    enough to hit the floor within the first 60% of the clip, so every "bouncing" clip shows a bounce."""
    gravity = GRAVITY * height / 128
    floor = height - radius - 1
    max_drop = min(0.5 * gravity * (0.6 * max(1, num_frames - 1)) ** 2, floor - radius - 1)
    y = floor - rng.uniform(0.3, 1.0) * max_drop
    vy = rng.uniform(0.0, 0.5) * gravity
    ys = np.empty(num_frames)
    for t in range(num_frames):
        ys[t] = y
        vy += gravity
        y += vy
        if y > floor:
            y = 2 * floor - y
            vy = -abs(vy)
    return ys


def _draw(frame: np.ndarray, shape: str, color, center, radius: float, supersample: int = 2):
    """Draw one shape with anti-aliased edges (coverage from a supersampled mask)."""
    height, width = frame.shape[:2]
    cx, cy = center
    x0, x1 = int(max(0, np.floor(cx - radius - 1))), int(min(width, np.ceil(cx + radius + 2)))
    y0, y1 = int(max(0, np.floor(cy - radius - 1))), int(min(height, np.ceil(cy + radius + 2)))
    if x1 <= x0 or y1 <= y0:
        return
    offsets = (np.arange(supersample) + 0.5) / supersample
    ys = (np.arange(y0, y1)[:, None] + offsets[None]).reshape(-1)[:, None]
    xs = (np.arange(x0, x1)[:, None] + offsets[None]).reshape(-1)[None, :]
    dx, dy = xs - cx, ys - cy
    if shape == "ball":
        inside = dx**2 + dy**2 <= radius**2
    elif shape == "square":
        half = radius * 0.85
        inside = (np.abs(dx) <= half) & (np.abs(dy) <= half)
    else:  # triangle, apex up
        top, bottom = -radius, radius * 0.75
        half_width = (dy - top) / (bottom - top) * radius
        inside = (dy >= top) & (dy <= bottom) & (np.abs(dx) <= half_width)
    coverage = inside.reshape(y1 - y0, supersample, x1 - x0, supersample).mean(axis=(1, 3))[..., None]
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.round(patch * (1 - coverage) + np.float32(color) * coverage).astype(np.uint8)


def sample_clip(
    rng: np.random.Generator,
    height: int,
    width: int,
    num_frames: int,
    split: str = "train",
    p_omit: float = 0.0,
    subset: Subset = Subset(),
) -> tuple[np.ndarray, str, Scene]:
    """A random scene's clip and its caption. An image (one frame) places a moving object where its path would stay
    in the frame: generation makes a clip's first frame as an image, and a "moving right" object drawn at the right
    edge would leave the frame as soon as it is animated. Videos keep their starts anywhere (see `_trajectory`)."""
    scene = random_scene(rng, split=split, subset=subset)
    if num_frames == 1:
        frames = render(scene, height, width, IMAGE_AS_FIRST_OF, rng, inside=True)[0][:1]
    else:
        frames, _ = render(scene, height, width, num_frames, rng)
    return frames, scene.partial_caption(rng, p_omit), scene


def sample_paired_clips(
    rng: np.random.Generator, size: tuple[int, int, int], p_omit: float = 0.0, subset: Subset = Subset()
) -> list[tuple[np.ndarray, str, Scene]]:
    """One training scene under each motion of the subset, in a random order: the object's appearance, size, start
    and speed are the same in every clip, so their first frames are identical (a bounce starts at its own height)
    and only the words tell the clips apart.
    Measured (2026-12-03): a model animating known first frames learned the direction word in 200 steps where
    each first frame came with both directions and one scene, not where each came with one."""
    scene = random_scene(rng, subset=subset)
    main, background = scene.things[0], scene.background
    seed = int(rng.integers(1 << 31))
    pool = subset.pool("train")
    clips = []
    for motion in rng.permutation(MOTIONS):
        thing = Thing(main.shape, main.color, str(motion))
        if (thing, background) not in pool:  # held out, or outside the subset
            continue
        variant = Scene((thing, *scene.things[1:]), background, scene.template)
        frames, _ = render(variant, *size, np.random.default_rng(seed))
        clips.append((frames, variant.partial_caption(rng, p_omit), variant))
    return clips


_POOLS = {"train": all_combinations(held_out=False), "held_out": all_combinations(held_out=True)}

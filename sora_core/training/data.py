"""Training data: endless toy-world clips, or a folder of the user's own videos with `.txt` captions.

Batches come from size buckets (height, width, frames): every clip in a batch shares one bucket, so
the model sees many sizes, aspect ratios and durations, as the Sora report recommends.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import toyworld
from ..engine.video import VIDEO_SUFFIXES, Video, to_pixels

CAPTIONS_RECORD = "captions.json"  # in a video folder: who wrote its captions, and so their style (recaption.py)


@dataclass(frozen=True)
class Bucket:
    height: int
    width: int
    num_frames: int


class BucketedData:
    """What both sources share: a batch of clips from a random bucket (subclasses give `batch_of`)."""

    buckets: list[Bucket]
    rng: np.random.Generator

    def batch(self, batch_size: int) -> tuple[torch.Tensor, list[str]]:
        return self.batch_of(self.buckets[self.rng.integers(len(self.buckets))], batch_size)


@dataclass(frozen=True)
class WorldOptions:
    """How toy-world clips are drawn (a folder of videos has none of these)."""

    # Draw clips at this size and cut a bucket-sized window around the object, so small crops keep objects at their
    # full scale (what the VAE stage trains on).
    render_size: tuple[int, int] | None = None
    p_omit: float = 0.0  # the chance that a caption leaves out each of colour, motion and background (`Scene`)
    paired: bool = False  # videos in groups of one scene under every motion (`toyworld.sample_paired_clips`)
    subset: toyworld.Subset = toyworld.Subset()  # the part of the world clips come from (a curriculum's stages)


class ToyWorldData(BucketedData):
    """Endless toy-world clips, drawn as `options` say."""

    def __init__(self, buckets: list[Bucket], seed: int, options: WorldOptions = WorldOptions()):
        self.buckets, self.options = buckets, options
        self.rng = np.random.default_rng(seed)

    def clip(self, bucket: Bucket, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        options = self.options
        if options.render_size is None:
            size = (bucket.height, bucket.width, bucket.num_frames)
            frames, caption, _ = toyworld.sample_clip(rng, *size, p_omit=options.p_omit, subset=options.subset)
            return frames, caption
        height, width = max(options.render_size[0], bucket.height), max(options.render_size[1], bucket.width)
        scene = toyworld.random_scene(rng)
        frames, track = toyworld.render(scene, height, width, bucket.num_frames, rng)
        x, y = track.centers[0][bucket.num_frames // 2]
        jitter = rng.integers(-bucket.height // 4, bucket.height // 4 + 1, size=2)
        top = int(np.clip(y - bucket.height // 2 + jitter[0], 0, height - bucket.height))
        left = int(np.clip(x - bucket.width // 2 + jitter[1], 0, width - bucket.width))
        return frames[:, top : top + bucket.height, left : left + bucket.width], scene.caption()

    def paired_clips(self, bucket: Bucket, count: int, rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
        clips = []
        while len(clips) < count:
            size = (bucket.height, bucket.width, bucket.num_frames)
            group = toyworld.sample_paired_clips(rng, size, self.options.p_omit, self.options.subset)
            clips += [(frames, caption) for frames, caption, _ in group]
        return clips[:count]

    def batch_of(self, bucket: Bucket, batch_size: int, rng: np.random.Generator | None = None):
        """Clips (B, 3, T, H, W) of one bucket and their captions; `rng` makes them reproducible."""
        rng = self.rng if rng is None else rng
        paired = self.options.paired and self.options.render_size is None
        if paired and bucket.num_frames > 1:  # an image has no motion to pair
            clips, captions = zip(*self.paired_clips(bucket, batch_size, rng))
        else:
            clips, captions = zip(*(self.clip(bucket, rng) for _ in range(batch_size)))
        return torch.stack([to_pixels(c) for c in clips]), list(captions)


class FolderData(BucketedData):
    """Videos (or images) in a folder, each with a caption in a `.txt` file of the same name."""

    def __init__(self, folder, buckets: list[Bucket], seed: int):
        self.items = []
        for path in sorted(Path(folder).rglob("*")):
            caption_file = path.with_suffix(".txt")
            if path.suffix.lower() in VIDEO_SUFFIXES | {".png", ".jpg", ".jpeg", ".webp"} and caption_file.exists():
                self.items.append((path, caption_file.read_text().strip()))
        if not self.items:
            raise ValueError(f"{folder} holds no videos with a .txt caption beside them.")
        self.buckets = buckets
        self.rng = np.random.default_rng(seed)
        self.cache: dict[Path, np.ndarray] = {}

    def batch_of(self, bucket: Bucket, batch_size: int, rng: np.random.Generator | None = None):
        rng = self.rng if rng is None else rng
        clips, captions = [], []
        for index in rng.integers(len(self.items), size=batch_size):
            path, caption = self.items[index]
            if path not in self.cache:
                self.cache[path] = Video.load(path).frames
            clips.append(to_pixels(self.crop(self.cache[path], bucket, rng)))
            captions.append(caption)
        return torch.stack(clips), captions

    def crop(self, frames: np.ndarray, bucket: Bucket, rng: np.random.Generator) -> np.ndarray:
        """A random window of the bucket's size; short or small videos repeat their edges."""
        t, h, w = frames.shape[:3]
        pad = ((0, max(0, bucket.num_frames - t)), (0, max(0, bucket.height - h)), (0, max(0, bucket.width - w)))
        frames = np.pad(frames, (*pad, (0, 0)), mode="edge")
        t, h, w = frames.shape[:3]
        t0 = rng.integers(t - bucket.num_frames + 1)
        y0, x0 = rng.integers(h - bucket.height + 1), rng.integers(w - bucket.width + 1)
        return frames[t0 : t0 + bucket.num_frames, y0 : y0 + bucket.height, x0 : x0 + bucket.width]


def make_data(source: str, buckets: list[Bucket], seed: int, options: WorldOptions = WorldOptions()):
    if source == "toyworld":
        return ToyWorldData(buckets, seed, options)
    return FolderData(source, buckets, seed)

"""A cache of VAE latents for the DiT stage.

On a CPU, encoding a batch of clips costs several times the DiT's own step, so the clips are rendered and
encoded once, in chunk files that survive an interruption, and the DiT trains on many passes over them.
Each entry carries its Sora-style conditioning mask: known latent frames are encoded from a timeline whose
unknown frames were filled with the nearest known one, exactly as inference encodes known segments.
"""

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..engine.timeline import fill_unknown, known_pixel_frames, random_known_latents
from .data import Bucket

CHUNK = 16  # clips per file: the unit of resumption


def chunk_path(folder: Path, bucket: Bucket, index: int) -> Path:
    return folder / f"{bucket.height}x{bucket.width}x{bucket.num_frames}-{index:04d}.pt"


@torch.no_grad()
def encode_chunk(vae, data, bucket: Bucket, rng: np.random.Generator, mean, std, known_share: float = 0.6) -> dict:
    """CHUNK clips of one bucket: normalised latents (fp16), their masks and captions."""
    pixels, captions = data.batch_of(bucket, CHUNK, rng)  # (N, 3, T, H, W)
    pixels = pixels.to(vae.device)
    stride = vae.config.scale_factor_temporal

    def encode(clips):
        return (vae.encode(clips).latent_dist.mode() - mean) / std  # (N, C, F, h, w)

    latents = encode(pixels)
    known = torch.stack([random_known_latents(latents.shape[2], rng, 1 - known_share) for _ in captions])  # (N, F)
    for i in range(len(captions)):
        # A known prefix encodes the same either way (the VAE is causal); other segments see filled frames.
        if not known[i][: int(known[i].sum())].all():
            filled = fill_unknown(pixels[i : i + 1], known_pixel_frames(known[i], pixels.shape[2], stride))
            latents[i, :, known[i]] = encode(filled)[0, :, known[i]]
    return {"latents": latents.half().cpu(), "known": known, "captions": list(captions)}


def build(
    folder: Path,
    vae,
    data,
    buckets: list[Bucket],
    clips: int,
    seed: int,
    rank: int = 0,
    world: int = 1,
    known_share: float = 0.6,
):
    """Encode `clips` clips spread over the buckets (a bucket listed twice gets twice the clips), a `known_share`
    of them with known frames. Chunks already on disk are kept; with several processes each writes every
    `world`-th chunk."""
    folder.mkdir(parents=True, exist_ok=True)
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(vae.device)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(vae.device)
    jobs = []
    for slot, bucket in enumerate(buckets):
        count = -(-clips // (len(buckets) * CHUNK))  # chunks per listed bucket, rounded up
        jobs += [(bucket, slot * 1000 + i) for i in range(count)]
    mine = [(bucket, index) for n, (bucket, index) in enumerate(jobs) if n % world == rank]
    todo = [(bucket, index) for bucket, index in mine if not chunk_path(folder, bucket, index).exists()]
    for bucket, index in tqdm(todo, desc="encoding clips", unit="chunk", disable=rank != 0 or not todo):
        rng = np.random.default_rng([seed, index])  # a chunk's content depends only on its index: resumable
        chunk = encode_chunk(vae, data, bucket, rng, mean, std, known_share)
        partial = chunk_path(folder, bucket, index).with_suffix(".part")
        torch.save(chunk, partial)
        partial.rename(chunk_path(folder, bucket, index))  # never a half-written chunk under the final name


class LatentCache:
    """Every chunk in memory; a batch is drawn from one chunk's bucket, so its clips share a shape."""

    def __init__(self, folder: Path, seed: int):
        self.chunks = [torch.load(path, weights_only=True) for path in sorted(Path(folder).glob("*.pt"))]
        if not self.chunks:
            raise ValueError(f"{folder} holds no encoded clips.")
        self.by_shape: dict[tuple, list[dict]] = {}
        for chunk in self.chunks:
            self.by_shape.setdefault(tuple(chunk["latents"].shape[1:]), []).append(chunk)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return sum(len(chunk["captions"]) for chunk in self.chunks)

    def batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """Latents (B, C, F, h, w) float, known (B, F) bool, captions."""
        # A random chunk picks the shape, so buckets weigh by their number of clips.
        group = self.by_shape[tuple(self.chunks[self.rng.integers(len(self.chunks))]["latents"].shape[1:])]
        picks = [(self.rng.integers(len(group)), self.rng.integers(CHUNK)) for _ in range(batch_size)]
        picks = [(group[c], min(i, len(group[c]["captions"]) - 1)) for c, i in picks]
        latents = torch.stack([chunk["latents"][i] for chunk, i in picks]).float()
        known = torch.stack([chunk["known"][i] for chunk, i in picks])
        return latents, known, [chunk["captions"][i] for chunk, i in picks]

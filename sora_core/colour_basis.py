"""A change of latent basis that spreads colours apart, folded into the VAE (and a DiT trained on the old basis).

Measured on the bundled VAE: the normalised latents of flat colours differ mostly along two directions (std of
the colour means 2.5 and 2.1: brightness and one chroma axis); along the others they spread 0.67, 0.53, 0.22,
0.18, ... . Red and purple sat 0.7 apart in a first latent frame, orange and yellow 0.5, green and gray 0.15,
against a noise of norm 4 (16 channels of std 1), so the flow-matching loss hardly saw an object's colour, and
the DiT took it from the noisy input instead of the prompt. Stretching the weak colour directions makes a colour
error cost the DiT more, and makes the same DiT error `gain` times smaller in pixels.

The map is linear on normalised latents, z' = M z with M = I + sum_j (gain_j - 1) v_j v_j^T (v_j orthonormal),
so it folds exactly into the VAE's 1x1x1 `quant_conv` (the posterior's mean) and `post_quant_conv`, with the
latent mean and std unchanged: the result is still a stock `AutoencoderKLWan` that decodes what it encodes as
before. For a DiT trained on the old basis, `fold_into_transformer` gives a warm start: its patch embedding
reads M^-1 z' = z and its output is mapped by M.

    python -m sora_core.colour_basis assets/sora-tiny runs/rebased --cache runs/sora-tiny/dit/latents
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from . import toyworld

MIN_SPREAD = 0.05  # directions along which the colours spread less are left alone (the VAE's nonlinearity)


@torch.no_grad()
def colour_means(vae, colours, size: int = 32, frames: int = 17) -> torch.Tensor:
    """(n, C, F): the normalised latent of each flat colour in each latent frame, averaged over the interior. Each
    latent frame position codes a colour its own way (the first holds one pixel frame, the others four each)."""
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    pixels = torch.tensor(np.asarray(colours), dtype=torch.float32) / 127.5 - 1  # (n, 3)
    pixels = pixels[:, :, None, None, None].expand(-1, -1, frames, size, size).to(vae.dtype)  # (n, 3, T, H, W)
    latents = (vae.encode(pixels).latent_dist.mode().float() - mean) / std  # (n, C, F, h, w)
    edge = latents.shape[-1] // 4  # the encoder's zero padding tints the border
    return latents[..., edge:-edge, edge:-edge].mean((3, 4))


def spread_matrix(means: torch.Tensor, target: float = 1.0, max_gain: float = 6.0) -> torch.Tensor:
    """(C, C) M stretching each principal direction of the colours' differences (within each latent frame) until
    their std along it reaches `target`, by at most `max_gain`; directions spread wider are left alone."""
    differences = (means - means.mean(0, keepdim=True)).permute(2, 0, 1).flatten(0, 1)  # (F * n, C)
    _, singular, directions = torch.linalg.svd(differences.double(), full_matrices=False)
    spread = singular / len(differences) ** 0.5
    v = directions[spread >= MIN_SPREAD]  # (k, C) orthonormal rows
    gains = (target / spread[spread >= MIN_SPREAD]).clamp(1.0, max_gain)
    return torch.eye(means.shape[1], dtype=torch.float64) + v.T @ torch.diag(gains - 1) @ v


def raw_affine(vae, matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """M on normalised latents as (A, b) on raw ones: raw' = A raw + b, with the latent mean and std kept."""
    mean = torch.tensor(vae.config.latents_mean, dtype=torch.float64)
    std = torch.tensor(vae.config.latents_std, dtype=torch.float64)
    a = torch.diag(std) @ matrix @ torch.diag(1 / std)
    return a, mean - a @ mean


@torch.no_grad()
def fold_into_vae(vae, matrix: torch.Tensor):
    """Rewrite the VAE's weights in place so that its normalised latents become M z (decoding unchanged)."""
    a, b = raw_affine(vae, matrix)
    z = vae.config.z_dim
    quant = vae.quant_conv  # 1x1x1 conv: output channels [:z] are the posterior's mean, [z:] its log-variance
    weight, bias = quant.weight.double(), quant.bias.double()
    quant.weight[:z] = torch.einsum("ij,jk...->ik...", a, weight[:z]).to(quant.weight.dtype)
    quant.bias[:z] = (a @ bias[:z] + b).to(quant.bias.dtype)
    post = vae.post_quant_conv  # y = W raw + c = W A^-1 raw' + (c - W A^-1 b)
    a_inv = torch.linalg.inv(a)
    weight = torch.einsum("ij...,jk->ik...", post.weight.double(), a_inv)
    post.bias.copy_(post.bias.double() - weight[:, :, 0, 0, 0] @ b)
    post.weight.copy_(weight)


@torch.no_grad()
def fold_into_transformer(transformer, matrix: torch.Tensor):
    """A DiT trained on z, re-based to z' = M z: its patch embedding reads M^-1 z', its velocity comes out
    multiplied by M. Exact for the clean-latent path; the noise it sees along stretched directions is smaller,
    so this is a warm start for fine-tuning, not a finished model."""
    embed = transformer.patch_embedding  # Conv3d weight (D, C, pt, ph, pw)
    inverse = torch.linalg.inv(matrix)
    embed.weight.copy_(torch.einsum("dj...,jc->dc...", embed.weight.double(), inverse))
    proj = transformer.proj_out  # Linear rows ordered (pt, ph, pw, C), channels fastest
    channels = matrix.shape[0]
    weight = proj.weight.double().view(-1, channels, proj.weight.shape[1])  # (P, C, D)
    proj.weight.copy_(torch.einsum("ij,pjd->pid", matrix, weight).reshape(proj.weight.shape))
    bias = proj.bias.double().view(-1, channels)  # (P, C)
    proj.bias.copy_((bias @ matrix.T).reshape(-1))


def rebase_cache(folder: Path, matrix: torch.Tensor):
    """Map every cached chunk's normalised latents through M, once each: `rebased.json` lists the chunks done,
    so an interrupted call resumes and a repeated one changes nothing."""
    marker = Path(folder) / "rebased.json"
    record = json.loads(marker.read_text()) if marker.exists() else {"matrix": matrix.tolist(), "done": []}
    if not torch.allclose(torch.tensor(record["matrix"], dtype=torch.float64), matrix.double()):
        raise ValueError(f"{folder} was re-based with another matrix (see {marker}).")
    for path in sorted(Path(folder).glob("*.pt")):
        if path.name in record["done"]:
            continue
        chunk = torch.load(path, weights_only=True)
        latents = chunk["latents"].double()  # (N, C, F, h, w)
        chunk["latents"] = torch.einsum("ij,njfhw->nifhw", matrix.double(), latents).half()
        torch.save(chunk, path.with_suffix(".part"))
        path.with_suffix(".part").rename(path)
        record["done"].append(path.name)
        marker.write_text(json.dumps(record))


def all_colours() -> list[tuple[int, int, int]]:
    return list(dict.fromkeys([*toyworld.COLORS.values(), *toyworld.BACKGROUNDS.values()]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a Wan diffusers folder (VAE, transformer, text encoder)")
    parser.add_argument("out", help="where the re-based checkpoint is written")
    parser.add_argument("--cache", default="", help="a latent cache encoded by the same VAE, re-based in place")
    parser.add_argument("--max-gain", type=float, default=6.0)
    args = parser.parse_args(argv)

    from .architecture import save_checkpoint
    from .pipeline import _load_components

    components = _load_components(Path(args.checkpoint), torch.float32)
    matrix = spread_matrix(colour_means(components["vae"], all_colours()), max_gain=args.max_gain)
    fold_into_vae(components["vae"], matrix)
    fold_into_transformer(components["transformer"], matrix)
    save_checkpoint(components, args.out, dtype=torch.float32)
    if (Path(args.checkpoint) / "sora.json").is_file():
        shutil.copy(Path(args.checkpoint) / "sora.json", Path(args.out) / "sora.json")
    if args.cache:
        rebase_cache(Path(args.cache), matrix)
    gains = torch.linalg.eigvalsh((matrix + matrix.T) / 2).numpy()
    print(f"re-based into {args.out}; gains {np.round(gains[gains > 1.001], 2).tolist()}")


if __name__ == "__main__":
    main()

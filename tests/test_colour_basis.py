"""The colour-spreading change of latent basis: exact folds into the VAE and the DiT, the cache, the CLI."""

import json

import pytest
import torch

from sora_core import colour_basis
from sora_core.architecture import ARCHITECTURES, build_components


def channel_map(matrix, latents):  # (C, C) applied to (B, C, F, h, w)
    return torch.einsum("ij,bjfhw->bifhw", matrix.float(), latents)


def random_stretch(channels: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(channels, channels, generator=generator, dtype=torch.float64))
    return (
        torch.eye(channels, dtype=torch.float64) + q[:, :2] @ torch.diag(torch.tensor([2.0, 5.0]).double()) @ q[:, :2].T
    )


@torch.no_grad()
def test_vae_fold_keeps_decoding_and_maps_normalised_latents():
    vae = build_components(ARCHITECTURES["test"])["vae"].eval()
    vae.register_to_config(latents_mean=[0.1, -0.2, 0.3, 0.0], latents_std=[0.5, 2.0, 1.0, 1.5])
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    pixels = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    raw = vae.encode(pixels).latent_dist.mode()
    decoded = vae.decode(raw).sample
    matrix = random_stretch(vae.config.z_dim)
    colour_basis.fold_into_vae(vae, matrix)
    raw_after = vae.encode(pixels).latent_dist.mode()
    assert torch.allclose((raw_after - mean) / std, channel_map(matrix, (raw - mean) / std), atol=1e-5)
    assert torch.allclose(vae.decode(raw_after).sample, decoded, atol=1e-5)


@torch.no_grad()
def test_transformer_fold_predicts_the_mapped_velocity():
    transformer = build_components(ARCHITECTURES["test"])["transformer"].eval()
    channels = transformer.config.in_channels
    latents = torch.randn(1, channels, 2, 8, 8)
    text = torch.randn(1, 5, transformer.config.text_dim)
    t = torch.tensor([400])
    before = transformer(latents, t, text).sample
    matrix = random_stretch(channels, seed=1)
    colour_basis.fold_into_transformer(transformer, matrix)
    after = transformer(channel_map(matrix, latents), t, text).sample
    assert torch.allclose(after, channel_map(matrix, before), atol=1e-4)


def test_spread_matrix_stretches_only_the_narrow_colour_directions():
    wide, narrow = torch.zeros(8), torch.zeros(8)
    wide[0], narrow[1] = 1.0, 1.0
    codes = torch.tensor([[a, b] for a in (-1.0, 0.0, 1.0) for b in (-1.0, 0.0, 1.0)])  # centred, uncorrelated
    means = (codes[:, :1] * 3 * wide + codes[:, 1:] * 0.2 * narrow)[:, :, None]  # (n, C, F=1)
    matrix = colour_basis.spread_matrix(means, target=1.0, max_gain=4.0)
    assert torch.allclose(matrix, matrix.T)
    gains = torch.linalg.eigvalsh(matrix)
    assert gains.min() == pytest.approx(1.0) and 1.0 < gains.max() <= 4.0
    assert (matrix @ wide.double()).allclose(wide.double())  # already wide: untouched
    stretched = matrix @ narrow.double()
    assert stretched.norm() == pytest.approx(gains.max()) and stretched.allclose(stretched.norm() * narrow.double())


def test_rebase_cache_maps_each_chunk_once(tmp_path):
    chunk = {"latents": torch.randn(2, 4, 3, 4, 4).half(), "known": torch.zeros(2, 3, dtype=torch.bool)}
    torch.save({**chunk, "captions": ["a", "b"]}, tmp_path / "a.pt")
    matrix = random_stretch(4)
    colour_basis.rebase_cache(tmp_path, matrix)
    colour_basis.rebase_cache(tmp_path, matrix)  # again: nothing changes
    stored = torch.load(tmp_path / "a.pt", weights_only=True)["latents"].float()
    assert torch.allclose(stored, channel_map(matrix, chunk["latents"].float()), atol=2e-2)
    assert json.loads((tmp_path / "rebased.json").read_text())["done"] == ["a.pt"]
    with pytest.raises(ValueError, match="another matrix"):
        colour_basis.rebase_cache(tmp_path, random_stretch(4, seed=3))


def test_cli_writes_a_rebased_checkpoint_that_loads(tiny_checkpoint, tmp_path, capsys):
    from sora_core import SoraPipeline

    colour_basis.main([str(tiny_checkpoint), str(tmp_path / "rebased")])
    assert "re-based into" in capsys.readouterr().out
    pipe = SoraPipeline.from_pretrained(str(tmp_path / "rebased"), device="cpu")
    assert pipe.generate("a red ball", num_frames=5, height=32, width=32, steps=2).frames.shape == (5, 32, 32, 3)

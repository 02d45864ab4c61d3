"""The DiT stage's latent cache: reproducible chunks that resume, masks encoded as inference encodes them."""

import numpy as np
import torch
from conftest import TINY_ARCHITECTURE

from sora_core.engine.timeline import fill_unknown, known_pixel_frames
from sora_core.training import latent_cache as latents
from sora_core.training.architectures import architecture, build_vae
from sora_core.training.data import Bucket, ToyWorldData, WorldOptions

BUCKETS = [Bucket(32, 32, 9), Bucket(32, 32, 1)]


def tiny_vae():
    torch.manual_seed(0)
    return build_vae(architecture(TINY_ARCHITECTURE).vae).eval()


def test_cache_resumes_with_the_same_chunks(tmp_path):
    vae = tiny_vae()
    folder = tmp_path / "cache"
    latents.build(folder, vae, ToyWorldData(BUCKETS, seed=0), BUCKETS, clips=32, seed=5)
    files = sorted(folder.glob("*.pt"))
    assert len(files) == 2 and not list(folder.glob("*.part"))
    first = torch.load(files[0], weights_only=True)
    files[0].unlink()  # as if interrupted before this chunk was written
    latents.build(folder, vae, ToyWorldData(BUCKETS, seed=0), BUCKETS, clips=32, seed=5)
    again = torch.load(files[0], weights_only=True)
    assert torch.equal(first["latents"], again["latents"]) and first["captions"] == again["captions"]

    cache = latents.LatentCache(folder, seed=0)
    assert len(cache) == 32
    clean, known, captions = cache.batch(4)
    assert clean.dtype == torch.float32 and clean.shape[0] == known.shape[0] == len(captions) == 4
    assert clean.shape[2] == known.shape[1]


def test_a_known_prefix_encodes_the_same_filled_or_not():
    """Why the cache skips re-encoding prefixes: the causal VAE's first latents see only the first frames."""
    vae = tiny_vae()
    pixels, _ = ToyWorldData([Bucket(32, 32, 9)], seed=1).batch(1)  # (1, 3, 9, 32, 32)
    known = torch.tensor([True, True, False])
    filled = fill_unknown(pixels, known_pixel_frames(known, 9, vae.config.scale_factor_temporal))
    with torch.no_grad():
        whole = vae.encode(pixels).latent_dist.mode()
        from_filled = vae.encode(filled).latent_dist.mode()
    torch.testing.assert_close(whole[:, :, :2], from_filled[:, :, :2])
    assert not torch.allclose(whole[:, :, 2], from_filled[:, :, 2])  # the unknown frame did change


def test_known_suffix_latents_come_from_the_filled_timeline(tmp_path):
    vae = tiny_vae()
    data = ToyWorldData([Bucket(32, 32, 9)], seed=0)
    rng = np.random.default_rng(3)
    mean, std = torch.zeros(1, 4, 1, 1, 1), torch.ones(1, 4, 1, 1, 1)
    chunk = latents.encode_chunk(vae, data, Bucket(32, 32, 9), rng, mean, std)
    pixels, _ = data.batch_of(Bucket(32, 32, 9), latents.CHUNK, np.random.default_rng(3))
    suffixes = [i for i, k in enumerate(chunk["known"]) if k.any() and not k[: int(k.sum())].all()]
    assert suffixes, "the masks should include segments that are not a prefix"
    i = suffixes[0]
    filled = fill_unknown(pixels[i : i + 1], known_pixel_frames(chunk["known"][i], 9, 4))
    with torch.no_grad():
        expected = vae.encode(filled).latent_dist.mode()[0][:, chunk["known"][i]]
    torch.testing.assert_close(chunk["latents"][i][:, chunk["known"][i]].float(), expected, atol=2e-3, rtol=1e-2)


def test_paired_data_fills_a_chunk_with_groups_of_one_first_frame():
    data = ToyWorldData([Bucket(32, 32, 9)], seed=0, options=WorldOptions(paired=True))
    pixels, captions = data.batch_of(Bucket(32, 32, 9), latents.CHUNK, np.random.default_rng(2))  # (N, 3, T, H, W)
    assert len(captions) == pixels.shape[0] == latents.CHUNK
    same_start = [torch.equal(pixels[i, :, 0], pixels[i + 1, :, 0]) for i in range(len(captions) - 1)]
    assert sum(same_start) >= latents.CHUNK // 2  # most neighbours are the same scene under another motion
    assert len(set(captions)) == len(captions)  # yet every caption differs
    images, _ = data.batch_of(Bucket(32, 32, 1), 4, np.random.default_rng(2))
    assert not all(torch.equal(images[0], image) for image in images[1:])  # images are not paired

"""The VAE's convolutions through oneDNN on the CPU (engine/onednn.py), in the exact path as in fast mode: checked,
routed on the VAE's first use, and the same frames as PyTorch's own kernel to float rounding."""

import numpy as np
import torch

from sora_core import SoraPipeline
from sora_core.engine import onednn


def conv3d_names(module) -> tuple[str, ...]:
    return tuple(name for name, _ in onednn.convolutions(module))


def counted_onednn_calls(monkeypatch) -> list:
    """A list that gains an entry for every oneDNN convolution from now on (the call itself still runs)."""
    calls = []
    onednn_convolution = torch.mkldnn_convolution
    monkeypatch.setattr(torch, "mkldnn_convolution", lambda *args: calls.append(1) or onednn_convolution(*args))
    return calls


def test_the_exact_path_decodes_through_onednn_as_pytorch_does(tiny_checkpoint, monkeypatch):
    pipe = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")
    calls = []
    onednn_convolution = torch.mkldnn_convolution

    def counted(*args):
        calls.append(args[1].shape)
        return onednn_convolution(*args)

    monkeypatch.setattr(torch, "mkldnn_convolution", counted)
    latents = torch.randn(pipe.latent_shape(9, 32, 32), generator=torch.Generator().manual_seed(0))
    quick = pipe.decode_latents(latents)  # the VAE's first use: checked (each layer once), then routed
    assert pipe.onednn_faults == ()
    first = len(calls)
    assert first > len(conv3d_names(pipe.vae))
    pipe.decode_latents(latents)
    assert len(calls) - first == first - len(conv3d_names(pipe.vae))  # the same decoding, no check again
    onednn.route(pipe.vae, skip=conv3d_names(pipe.vae))
    calls.clear()
    reference = pipe.decode_latents(latents)
    assert calls == []  # skipped layers run PyTorch's own kernel
    assert np.abs(reference.astype(int) - quick.astype(int)).max() <= 1


def test_encoding_goes_through_onednn_too(tiny_checkpoint, monkeypatch):
    """The workflows encode their sources (`encode_frames`): after a generate has routed the VAE, so does that."""
    pipe = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")
    source = pipe.generate("a red ball", num_frames=5, height=32, width=32, steps=2, seed=1)
    calls = counted_onednn_calls(monkeypatch)
    pipe.encode_frames(source.frames)
    assert calls


def test_evaluate_s_vae_round_trips_go_through_onednn(tiny_checkpoint, monkeypatch, capsys):
    """`evaluate --vae` measures the VAE the pipeline decodes with: routed, not PyTorch's one-thread kernel."""
    from sora_core.toyworld import evaluate

    calls = counted_onednn_calls(monkeypatch)
    evaluate.main(["--model", str(tiny_checkpoint), "--vae", "--size", "32", "32"])
    assert "VAE round trip" in capsys.readouterr().out
    assert len(calls) > 10 * len(conv3d_names(SoraPipeline.from_pretrained(str(tiny_checkpoint)).vae))

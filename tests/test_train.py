"""Training on the toy world with a tiny architecture: both stages, resuming, export, and two processes."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from app_server import free_port
from conftest import TINY_ARCHITECTURE, tiny_variant
from diffusers import WanPipeline
from safetensors.torch import load_file

from sora_core import SoraPipeline
from sora_core.training.architectures import architecture, build_components
from sora_core.training.export import dit_weights
from sora_core.training.train import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--architecture", TINY_ARCHITECTURE, "--batch-size", "1", "--buckets", "32x32x5", "--threads", "1"]
TINY += ["--log-every", "1", "--cache-clips", "16"]


def progress(folder: Path) -> dict:
    return json.loads((folder / "state" / "progress.json").read_text())


def test_both_stages_resume_and_export(tmp_path):
    out = str(tmp_path / "run")
    main(["--stage", "vae", "--out", out, "--steps", "2", "--save-every", "1", *TINY])
    assert progress(tmp_path / "run" / "vae")["step"] == 2
    log_path = tmp_path / "run" / "vae" / "loss.csv"
    with log_path.open("a") as f:  # a row logged after the last save, as when a run is killed between saves
        f.write("3,9.9,1,1,1,1\n")
    main(["--stage", "vae", "--out", out, "--steps", "4", "--save-every", "1", *TINY])  # resumes at 2
    log = (tmp_path / "run" / "vae" / "loss.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["1", "2", "3", "4"]
    vae_config = json.loads((tmp_path / "run" / "vae" / "model" / "config.json").read_text())
    assert len(vae_config["latents_std"]) == 4 and all(s > 0 for s in vae_config["latents_std"])

    main(["--stage", "dit", "--out", out, "--steps", "3", "--save-every", "2", *TINY])
    assert progress(tmp_path / "run" / "dit")["step"] == 3
    final = dit_weights(tmp_path / "run" / "dit")
    (tmp_path / "run" / "dit" / "weights.safetensors").unlink()  # as mid-run: only the last saved state is there
    mid_run = dit_weights(tmp_path / "run" / "dit")
    for part in ("transformer", "text_encoder"):
        assert mid_run[part].keys() == final[part].keys()
        assert all(torch.equal(mid_run[part][k], final[part][k]) for k in final[part])
    export = tmp_path / "exported"
    main(["--stage", "export", "--out", out, "--export-to", str(export), "--architecture", TINY_ARCHITECTURE])
    weights = export / "transformer" / "diffusion_pytorch_model.safetensors"
    assert weights.exists() and json.loads((export / "sora.json").read_text())["trained"] is True
    pipe = SoraPipeline.from_pretrained(str(export), device="cpu")
    assert pipe.preset.conditioning == "clean"
    video = pipe.generate("a red ball", num_frames=5, height=32, width=32, steps=2)
    assert video.frames.shape == (5, 32, 32, 3)
    plain = WanPipeline.from_pretrained(export, torch_dtype=torch.float32)
    assert plain.transformer.dtype == torch.float32


def test_one_command_runs_every_stage(tmp_path):
    out, export = str(tmp_path / "run"), tmp_path / "exported"
    steps = ["--vae-steps", "1", "--steps", "1", "--decoder-steps", "1"]
    main(["--stage", "all", "--out", out, "--export-to", str(export), *steps, *TINY])
    for stage in ("vae", "dit", "decoder"):
        assert progress(tmp_path / "run" / stage)["step"] == 1
    assert (export / "model_index.json").exists()
    exported = load_file(export / "vae" / "diffusion_pytorch_model.safetensors")  # stage 3's decoder, not stage 1's
    polished = load_file(tmp_path / "run" / "decoder" / "model" / "diffusion_pytorch_model.safetensors")
    first = load_file(tmp_path / "run" / "vae" / "model" / "diffusion_pytorch_model.safetensors")
    decoder = [k for k in first if k.startswith("decoder.")]
    assert all(torch.equal(exported[k].float(), polished[k].half().float()) for k in decoder)
    assert any(not torch.equal(polished[k], first[k]) for k in decoder)
    assert all(torch.equal(polished[k], first[k]) for k in first if k.startswith("encoder."))


def test_trains_from_a_folder_of_videos(tmp_path):
    from sora_core import Video

    data = tmp_path / "clips"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Video(rng.integers(0, 255, (6, 40, 40, 3), dtype=np.uint8), fps=8).save(data / f"clip{i}.mp4")
        (data / f"clip{i}.txt").write_text(f"clip number {i}")
    main(["--stage", "vae", "--out", str(tmp_path / "run"), "--data", str(data), "--steps", "1", *TINY])
    assert progress(tmp_path / "run" / "vae")["step"] == 1


@pytest.mark.slow
def test_two_processes_stay_in_sync(tmp_path):
    """Data-parallel over gloo, launched by torchrun: both copies of the weights end identical, and both exit 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        "-m",
        "sora_core.train",
        "--stage",
        "vae",
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "3",
        *TINY,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "run" / "vae"
    checksums = [float((folder / f"checksum-rank{rank}.txt").read_text()) for rank in (0, 1)]
    assert checksums[0] == checksums[1]
    assert progress(folder)["step"] == 3


def test_vae_loss_reads_the_decoder_before_its_clamp():
    """The loss must see overshooting pixels (the clamp would zero their gradient), yet agree with `decode`."""
    from sora_core.training.architectures import build_vae
    from sora_core.training.losses import VAELoss

    torch.manual_seed(0)
    vae = build_vae(architecture(TINY_ARCHITECTURE).vae)
    loss = VAELoss(vae, kl_weight=1e-6)
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(20)  # push pixels past [-1, 1]
    latents = torch.randn(1, vae.config.z_dim, 3, 4, 4)
    raw = loss.decode_unclamped(latents)
    decoded = vae.decode(latents).sample
    assert raw.shape == decoded.shape == (1, 3, 9, 32, 32)
    assert raw.abs().max() > 1
    torch.testing.assert_close(raw.clamp(-1, 1), decoded)
    assert not vae.decoder._forward_hooks  # the hook is gone afterwards


def test_vae_loss_latent_noise_reaches_the_decoder_in_units_of_each_channels_std():
    """--latent-noise: the decoder sees the posterior's mean plus noise scaled by each channel's latent std (so a
    decoder learns to draw the latents a DiT makes, which sit near, not on, the encoder's)."""
    from sora_core.training.architectures import build_vae
    from sora_core.training.losses import VAELoss

    torch.manual_seed(0)
    vae = build_vae(architecture(TINY_ARCHITECTURE).vae)
    stds = [0.5, 2.0, 3.0, 4.0]
    vae.register_to_config(latents_std=stds)
    seen = []
    hook = vae.post_quant_conv.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    pixels = torch.rand(4, 3, 5, 32, 32) * 2 - 1
    with torch.no_grad():
        mean = vae.encode(pixels).latent_dist.mode()
        VAELoss(vae, kl_weight=0.0)(pixels)
        VAELoss(vae, kl_weight=0.0, latent_noise=0.3)(pixels)
    hook.remove()
    torch.testing.assert_close(seen[0], mean)  # without it, the mean as before
    measured = (seen[1] - mean).transpose(0, 1).flatten(1).std(1)  # per channel
    torch.testing.assert_close(measured, 0.3 * torch.tensor(stds), rtol=0.15, atol=0.0)


def test_the_high_noise_share_goes_only_to_the_eligible_clips_and_the_rest_keep_their_logit_normal_t():
    """--high-noise-known-only: clips with known frames draw their t from [HIGH_T, 1); the others (images, clips
    from noise) keep exactly the logit-normal t they would have drawn without any high share."""
    from sora_core.training.losses import HIGH_T, sample_t

    eligible = np.arange(400) % 2 == 0
    plain = sample_t(400, np.random.default_rng(0)).numpy()
    everyone = sample_t(400, np.random.default_rng(0), high_share=1.0).numpy()
    some = sample_t(400, np.random.default_rng(0), high_share=1.0, eligible=eligible).numpy()
    assert (everyone >= HIGH_T).all() and (plain < HIGH_T).mean() > 0.5
    assert (some[eligible] >= HIGH_T).all()
    np.testing.assert_array_equal(some[~eligible], plain[~eligible])


def test_the_dit_stage_passes_which_clips_have_known_frames_to_the_t_draw(tmp_path, monkeypatch):
    import sora_core.training.train as train_module

    drawn, real = [], train_module.sample_t

    def recording(*args, **kwargs):
        drawn.append(kwargs.get("eligible"))
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "sample_t", recording)
    out = str(tmp_path / "run")
    main(["--stage", "vae", "--out", out, "--steps", "1", *TINY])
    flags = ["--high-noise-share", "0.5", "--first-frame-share", "1.0", "--batch-size", "2"]
    main(["--stage", "dit", "--out", out, "--steps", "1", *TINY, *flags, "--high-noise-known-only"])
    shutil.copytree(tmp_path / "run" / "vae", tmp_path / "other" / "vae")
    main(["--stage", "dit", "--out", str(tmp_path / "other"), "--steps", "1", *TINY, *flags])
    assert drawn[0].tolist() == [True, True]  # every video's first frame known
    assert drawn[1] is None  # without the flag: every clip may draw a high t


def test_flow_loss_weighs_the_object_and_skips_known_frames():
    from sora_core.training.losses import FlowLoss

    latents = torch.zeros(2, 4, 3, 8, 8)  # (B, C, F, h, w): a flat background ...
    latents[:, :, :, 2:4, 5:7] = 3.0  # ... and an object of 2 x 2 positions in every frame
    known = torch.tensor([[True, False, False], [False, False, False]])
    weight = FlowLoss(None, None, foreground_weight=5.0).position_weight(latents, known)
    assert weight.shape == (2, 1, 3, 8, 8)
    assert (weight[0, :, 0] == 0).all()  # a known frame is never scored
    on_object = torch.zeros(8, 8, dtype=torch.bool)
    on_object[2:4, 5:7] = True
    assert (weight[1, 0, :, on_object] == 5).all() and (weight[1, 0, :, ~on_object] == 1).all()
    plain = FlowLoss(None, None).position_weight(latents, known)
    assert set(plain[1].unique().tolist()) == {1.0}  # weight 1: the plain flow-matching mean


def test_a_new_dit_can_start_beside_a_checkpoints_vae_and_text_encoder(tmp_path):
    """--stage init --init-from: a fresh transformer of another architecture (here one layer deeper), the VAE and
    text encoder of the checkpoint as they were; a VAE whose latents the new DiT cannot take is one sentence."""
    start, fresh = tmp_path / "start", tmp_path / "fresh"
    main(["--stage", "init", "--export-to", str(start), "--architecture", TINY_ARCHITECTURE])
    sora = json.loads((start / "sora.json").read_text())
    sora["defaults"] |= {"guidance": 3.5, "notice": "the start's numbers", "image_guidance": 1.5}
    (start / "sora.json").write_text(json.dumps(sora))
    deeper = tiny_variant(tmp_path / "deeper.json", "dit", num_layers=3)
    fresh_flags = ["--architecture", str(deeper), "--init-from", str(start), "--seed", "1"]  # other random weights
    main(["--stage", "init", "--export-to", str(fresh), *fresh_flags])
    for part in ("vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        kept, original = load_file(fresh / part), load_file(start / part)
        assert kept.keys() == original.keys() and all(torch.equal(kept[k], original[k]) for k in kept)
    assert json.loads((fresh / "transformer" / "config.json").read_text())["num_layers"] == 3
    fresh_sora = json.loads((fresh / "sora.json").read_text())
    assert not fresh_sora["trained"]
    # measured as the start is served: its guidance kept, its notice (its own numbers) and its image model's guidance
    # (no image model comes along) not
    assert fresh_sora["defaults"]["guidance"] == 3.5
    assert "notice" not in fresh_sora["defaults"] and "image_guidance" not in fresh_sora["defaults"]
    wider = tiny_variant(tmp_path / "wider.json", "vae", z_dim=8)
    with pytest.raises(SystemExit, match="--init-from .*4 latent channels.*takes 8"):
        main(
            [
                "--stage",
                "init",
                "--export-to",
                str(tmp_path / "no"),
                "--architecture",
                str(wider),
                "--init-from",
                str(start),
            ]
        )


def test_a_fine_tune_grows_the_dit_deeper_starting_as_the_checkpoint_and_trains_the_new_blocks(tmp_path):
    """--init-from with an architecture of more blocks of the same size: the grown transformer computes what the
    checkpoint's did, its new blocks train, and blocks of another size or fewer blocks are one sentence."""
    from diffusers import WanTransformer3DModel

    from sora_core.training.train import load_dit_weights

    checkpoint, out = tmp_path / "checkpoint", tmp_path / "run"
    main(["--stage", "init", "--export-to", str(checkpoint), "--architecture", TINY_ARCHITECTURE])
    deeper = tiny_variant(tmp_path / "deeper.json", "dit", num_layers=5)
    grown = build_components(architecture(str(deeper)), seed=1)
    load_dit_weights(grown, checkpoint)
    trained = WanTransformer3DModel.from_pretrained(checkpoint, subfolder="transformer", torch_dtype=torch.float32)
    latents, text = torch.randn(1, 4, 3, 8, 8), torch.randn(1, 6, trained.config.text_dim)
    with torch.no_grad():
        before = trained(latents, torch.tensor([700.0]), text, return_dict=False)[0]
        after = grown["transformer"](latents, torch.tensor([700.0]), text, return_dict=False)[0]
    assert before.abs().mean() > 0 and torch.allclose(after, before, atol=1e-5)

    main(["--stage", "dit", "--out", str(out), "--steps", "2", "--lr", "1e-2", "--init-from", str(checkpoint)]
         + [*TINY, "--architecture", str(deeper)])  # fmt: skip
    weights = dit_weights(out / "dit")["transformer"]
    new_outputs = [k for k in weights if re.match(r"blocks\.[124]\.(attn1\.to_out\.0|ffn\.net\.2)\.weight", k)]
    assert new_outputs and all(weights[k].abs().max() > 0 for k in new_outputs)
    main(["--stage", "export", "--out", str(out), "--export-to", str(tmp_path / "grown")])  # the run's architecture
    assert json.loads((tmp_path / "grown" / "transformer" / "config.json").read_text())["num_layers"] == 5

    for field, value in (("num_layers", 1), ("ffn_dim", 48)):
        other = tiny_variant(tmp_path / f"{field}.json", "dit", **{field: value})
        with pytest.raises(SystemExit, match=r"^--init-from .*\(2 blocks .*does not fit --architecture's"):
            main(["--stage", "dit", "--out", str(tmp_path / field), "--steps", "1", "--init-from", str(checkpoint)]
                 + [*TINY, "--architecture", str(other)])  # fmt: skip
        assert not (tmp_path / field / "dit" / "latents").exists()  # said before any clip was encoded


def test_fine_tunes_from_a_checkpoint(tmp_path):
    """--init-from starts a stage from exported weights; --decoder-only keeps the encoder (so latents) as it was."""
    checkpoint, out = tmp_path / "checkpoint", str(tmp_path / "run")
    main(["--stage", "init", "--export-to", str(checkpoint), "--architecture", TINY_ARCHITECTURE])
    start = load_file(checkpoint / "vae" / "diffusion_pytorch_model.safetensors")
    config = lambda folder: json.loads((folder / "config.json").read_text())  # noqa: E731
    measured = {**config(checkpoint / "vae"), "latents_std": [0.5, 2.0, 3.0, 4.0]}  # as a trained VAE's would be
    (checkpoint / "vae" / "config.json").write_text(json.dumps(measured))
    main(
        ["--stage", "vae", "--out", out, "--steps", "2", "--lr", "1e-2", "--init-from", str(checkpoint)]
        + ["--decoder-only", *TINY]
    )
    tuned = load_file(tmp_path / "run" / "vae" / "model" / "diffusion_pytorch_model.safetensors")
    encoder = [k for k in start if k.startswith(("encoder.", "quant_conv."))]
    decoder = [k for k in start if k.startswith(("decoder.", "post_quant_conv."))]
    assert encoder and decoder
    assert all(torch.equal(tuned[k], start[k].float()) for k in encoder)
    assert any(not torch.equal(tuned[k], start[k].float()) for k in decoder)
    assert config(tmp_path / "run" / "vae" / "model")["latents_std"] == [0.5, 2.0, 3.0, 4.0]

    main(["--stage", "dit", "--out", out, "--steps", "0", "--init-from", str(checkpoint), *TINY])
    weights = dit_weights(tmp_path / "run" / "dit")  # safetensors: no pickle to load
    start = load_file(checkpoint / "transformer" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(weights["transformer"][k], start[k].float()) for k in start)

    # Defaults set by hand after measuring the start carry over to the fine-tune's export; its notice and the
    # settings the run itself decides (its clip size) do not.
    sora = json.loads((checkpoint / "sora.json").read_text())
    sora["defaults"] |= {"restyle_strength": 0.7, "notice": "the start's numbers", "num_frames": 99}
    (checkpoint / "sora.json").write_text(json.dumps(sora))
    main(["--stage", "export", "--out", out, "--export-to", str(tmp_path / "tuned"), *TINY])
    exported = json.loads((tmp_path / "tuned" / "sora.json").read_text())
    assert exported["defaults"]["restyle_strength"] == 0.7 and "notice" not in exported["defaults"]
    assert exported["defaults"]["num_frames"] == exported["train_config"]["num_frames"] != 99
    assert exported["train_config"]["first_frame_share"] == 0 and not exported["defaults"]["animate_first_frame"]
    # A start that animates its first frame still does after a fine-tune that trained no first frames (images).
    sora["defaults"]["animate_first_frame"] = True
    (checkpoint / "sora.json").write_text(json.dumps(sora))
    main(["--stage", "export", "--out", out, "--export-to", str(tmp_path / "tuned"), *TINY])
    assert json.loads((tmp_path / "tuned" / "sora.json").read_text())["defaults"]["animate_first_frame"] is True


def test_a_dit_fine_tune_takes_its_checkpoints_vae_and_without_one_names_the_flags(tmp_path):
    checkpoint, out = tmp_path / "checkpoint", tmp_path / "tune"
    main(["--stage", "init", "--export-to", str(checkpoint), "--architecture", TINY_ARCHITECTURE])
    main(["--stage", "dit", "--out", str(out), "--steps", "0", "--init-from", str(checkpoint), *TINY])
    start = load_file(checkpoint / "vae" / "diffusion_pytorch_model.safetensors")
    copied = load_file(out / "vae" / "model" / "diffusion_pytorch_model.safetensors")
    assert copied.keys() == start.keys() and all(torch.equal(copied[k], start[k]) for k in start)
    assert list((out / "dit" / "latents").glob("*.pt"))  # its clips were encoded with it
    with pytest.raises(SystemExit, match=r"^--stage dit encodes clips with the VAE in .*--init-from a checkpoint"):
        main(["--stage", "dit", "--out", str(tmp_path / "bare"), "--steps", "0", *TINY])


def test_ema_decay_exports_the_weights_moving_average_not_the_last_step(tmp_path):
    out, dit = str(tmp_path / "run"), tmp_path / "run" / "dit"
    main(["--stage", "vae", "--out", out, "--steps", "1", *TINY])
    flags = ["--steps", "3", "--save-every", "1", "--lr", "1e-2", "--ema-decay", "0.9"]
    main(["--stage", "dit", "--out", out, *flags, *TINY])
    last_step = load_file(dit / "state" / "model.safetensors")
    average = load_file(dit / "state" / "ema.safetensors")
    final = dit_weights(dit)
    names = [k for k in average if k.startswith("transformer.")]
    assert names and all(torch.equal(final["transformer"][k.split(".", 1)[1]], average[k]) for k in names)
    assert any(not torch.equal(average[k], last_step[k]) for k in names)
    with pytest.raises(SystemExit, match=r"^--ema-decay must be at least 0 \(off\) and below 1, not 1.0\.$"):
        main(["--stage", "dit", "--out", out, "--ema-decay", "1", *TINY])
    (dit / "weights.safetensors").unlink()  # mid-run: the average saved with the state
    mid_run = dit_weights(dit)
    assert all(torch.equal(mid_run["transformer"][k.split(".", 1)[1]], average[k]) for k in names)


def test_a_resumed_weight_average_goes_on_as_if_never_stopped(tmp_path):
    from sora_core.training.ema import WeightAverage

    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    steps = [torch.randn(2, 3) for _ in range(4)]  # what each optimizer step leaves in the weight
    running = WeightAverage(module, 0.9, tmp_path, step=0)
    for weight in steps[:3]:
        module.weight.data.copy_(weight)
        running.step()
    running.save(tmp_path)
    resumed = WeightAverage(module, 0.9, tmp_path, step=3)
    for average in (running, resumed):
        module.weight.data.copy_(steps[3])
        average.step()
    assert torch.equal(resumed.average.shadow_params[0], running.average.shadow_params[0])
    assert not torch.allclose(resumed.average.shadow_params[0], steps[3])  # an average, not the last weights


def test_opponent_colours_follow_the_causal_latent_cells():
    from sora_core.training.losses import opponent_colours

    pixels = torch.full((1, 3, 9, 8, 8), -1.0)  # (B, 3, T, H, W): black ...
    pixels[:, 0, 5:, :4, :4] = 1.0  # ... with a red corner from pixel frame 5, i.e. latent frame 2 on
    target = opponent_colours(pixels, spatial=4, temporal=4)
    assert target.shape == (1, 3, 3, 2, 2)
    luma, red_green, yellow_blue = target[0]
    assert torch.allclose(luma[:2], torch.tensor(-1.0)) and (red_green[:2] == 0).all()  # black: no chroma
    assert red_green[2, 0, 0] == 2 and yellow_blue[2, 0, 0] == 1  # red: (1) - (-1), (1 - 1) / 2 - (-1)
    assert (red_green[2, 1] == 0).all() and (red_green[2, :, 1] == 0).all()  # the corner stays in its cell


def test_colour_term_pulls_the_latents_towards_the_pixels_colours():
    from sora_core.training.architectures import build_vae
    from sora_core.training.losses import VAELoss, opponent_colours

    torch.manual_seed(0)
    vae = build_vae(architecture(TINY_ARCHITECTURE).vae)
    pixels = torch.rand(2, 3, 5, 16, 16) * 2 - 1
    spatial, temporal = vae.config.scale_factor_spatial, vae.config.scale_factor_temporal
    target = opponent_colours(pixels, spatial, temporal)

    def colour_error():
        with torch.no_grad():
            return (vae.encode(pixels).latent_dist.mode()[:, :3] - target).pow(2).mean().item()

    before = colour_error()
    plain, _ = VAELoss(vae, kl_weight=0.0)(pixels)
    with_colour, _ = VAELoss(vae, kl_weight=0.0, colour_weight=2.0)(pixels)
    assert with_colour.item() == pytest.approx(plain.item() + 2.0 * before, rel=1e-4)
    optimizer = torch.optim.Adam(vae.encoder.parameters(), lr=1e-3)
    for _ in range(30):
        loss, _ = VAELoss(vae, kl_weight=0.0, colour_weight=1.0)(pixels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert colour_error() < 0.5 * before


def test_flow_loss_path_weight_covers_where_the_object_just_was():
    from sora_core.training.losses import FlowLoss

    latents = torch.zeros(1, 4, 3, 8, 8)  # (B, C, F, h, w)
    for f in range(3):
        latents[:, :, f, 2:4, 2 * f : 2 * f + 2] = 3.0  # an object moving 2 positions right a frame
    known = torch.zeros(1, 3, dtype=torch.bool)
    weight = FlowLoss(None, None, foreground_weight=5.0, path_weight=True).position_weight(latents, known)[0, 0]
    assert (weight[1, 2:4, 0:4] == 5).all()  # frame 1: where the object is, and where it was in frame 0
    assert (weight[0, 2:4, 0:2] == 5).all() and (weight[0, 2:4, 2:4] == 1).all()  # frame 0 has no earlier frame
    assert (weight[2, 2:4, 0:2] == 1).all()  # two frames back is not weighed
    plain = FlowLoss(None, None, foreground_weight=5.0).position_weight(latents, known)[0, 0]
    assert (plain[1, 2:4, 0:2] == 1).all()


def test_flow_loss_motion_term_tells_a_wrong_motion_from_an_equal_error():
    """Two predictions as far from the clean latents frame by frame: one off by the same amount in every frame (the
    motion right), one alternating (the motion wrong). Only the frame-difference term tells them apart."""
    from sora_core.training.losses import FlowLoss

    components = build_components(architecture(TINY_ARCHITECTURE), seed=0)
    latents = torch.randn(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.7])

    class Guess(torch.nn.Module):  # a "transformer" whose velocity implies the clean latents `guess`
        config = components["transformer"].config

        def __init__(self, guess):
            super().__init__()
            self.guess = guess

        def forward(self, noisy, t_tokens, text, return_dict=False):
            return ((noisy - self.guess) / t,)

    steady = latents + 0.5
    flicker = latents + 0.5 * torch.tensor([1.0, -1.0, 1.0]).view(1, 1, 3, 1, 1)
    ids, mask = torch.ones(1, 4, dtype=torch.long), torch.ones(1, 4, dtype=torch.long)
    known = torch.zeros(1, 3, dtype=torch.bool)

    def loss(guess, motion_weight):
        torch.manual_seed(0)
        return float(
            FlowLoss(Guess(guess), components["text_encoder"], motion_weight=motion_weight)(
                latents, known, ids, mask, t
            )
        )

    assert abs(loss(steady, 0.0) - loss(flicker, 0.0)) < 1e-4  # per-frame MSE: the same
    assert abs(loss(steady, 1.0) - loss(steady, 0.0)) < 1e-4  # the right change costs nothing more
    assert loss(flicker, 1.0) > loss(flicker, 0.0) + 0.5  # the wrong change does


@pytest.mark.slow
def test_the_gpu_training_script_runs_at_a_tiny_size_on_the_cpu(tmp_path):
    """benchmarks/train_gpu.py is what a lent GPU runs first (issue 26): here its code path at test size."""
    script = ROOT / "benchmarks" / "train_gpu.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--tiny", "--ema-decay", "0.9", "--minutes", "1"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "sora-tiny" / "model_index.json").is_file()
    sora = json.loads((tmp_path / "sora-tiny" / "sora.json").read_text())
    assert [stage["ema_decay"] for stage in sora["recipe"]] == [0.9] * 4  # every stage ends on its weight average
    assert (tmp_path / "run" / "everything" / "dit" / "state" / "ema.safetensors").is_file()
    assert sora["defaults"]["animate_first_frame"] is True  # trained for the image-first recipe
    assert [stage["name"] for stage in sora["recipe"]] == ["one-scene", "left-right", "five-motions", "everything"]
    assert "animate 20 rendered first frames:" in done.stdout


@pytest.mark.slow
def test_one_device_call_trains_two_candidates_side_by_side_and_brings_back_checkpoints_and_scores(tmp_path):
    """benchmarks/gpu_lease.py at test size: a fresh DiT of a finer grid through the whole recipe (the start's VAE
    kept) and the start's DiT grown deeper through the last stage, at once; each exported in parts that unpack to a
    checkpoint of that architecture, and each scored beside the start in its own log."""
    out, back = tmp_path / "out", tmp_path / "back"
    flags = ["--out", str(out), "--scratch", str(tmp_path / "scratch"), "--tiny", "--minutes", "0.5", "--limit", "3"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_lease.py"), *flags], capture_output=True, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_lease.py"), "--unpack", str(out), "--to", str(back)])
    config = {name: json.loads((back / name / "transformer" / "config.json").read_text()) for name in ("grid2", "deep")}
    assert (config["grid2"]["patch_size"], config["deep"]["num_layers"]) == ([1, 1, 1], 3)
    vae, start = (
        load_file(folder / "vae" / "diffusion_pytorch_model.safetensors")
        for folder in (back / "grid2", tmp_path / "scratch" / "grid2" / "untrained")
    )
    assert all(torch.equal(vae[k], start[k]) for k in start)  # only the transformer is new: the latents stay
    recipe = {name: json.loads((back / name / "sora.json").read_text())["recipe"] for name in ("grid2", "deep")}
    assert [stage["name"] for stage in recipe["grid2"]] == ["one-scene", "left-right", "five-motions", "everything"]
    assert [stage["name"] for stage in recipe["deep"]] == ["everything"]
    for name in ("bundled", "grid2", "deep"):
        assert re.search(r"\| held out \| \d+% \| \d+% \|", (out / f"{name}.txt").read_text()), name
    for name in ("grid2", "deep"):
        log = (out / f"{name}.txt").read_text()
        assert "training finished with exit status 0" in log and re.search(r"ms a step at batch 2: \d+ steps", log)


@pytest.mark.slow
def test_one_device_call_trains_two_image_models_and_brings_back_checkpoints_and_scores(tmp_path):
    """benchmarks/gpu_lease.py --image at test size: a copy of the bundled DiT and a fresh finer grid trained on
    rendered images at once (worker processes rendering), each exported beside the bundled video model, brought back
    in parts and scored with `evaluate --images` beside the bundled model."""
    out, back = tmp_path / "out", tmp_path / "back"
    flags = ["--out", str(out), "--scratch", str(tmp_path / "scratch"), "--tiny", "--image", "--minutes", "0.3"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_lease.py"), *flags, "--limit", "3"], capture_output=True,
        text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_lease.py"), "--unpack", str(out), "--to", str(back)])
    grid = {
        name: json.loads((back / name / "image_transformer" / "config.json").read_text())["patch_size"]
        for name in ("image-copy", "image-grid2")
    }
    assert grid == {"image-copy": [1, 4, 4], "image-grid2": [1, 1, 1]}
    bundled = ROOT / "assets" / "sora-tiny" / "transformer" / "diffusion_pytorch_model.safetensors"
    video = load_file(back / "image-grid2" / "transformer" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(video[k], v) for k, v in load_file(bundled).items())  # the video model untouched
    for name in ("bundled", "image-copy", "image-grid2"):
        assert re.search(r"\| held out \| \d+% \| \d+% \|", (out / f"{name}.txt").read_text()), name
    for name in ("image-copy", "image-grid2"):
        assert "training finished with exit status 0" in (out / f"{name}.txt").read_text()


@pytest.mark.slow
def test_the_gpu_script_continues_the_last_stage_on_new_clips_with_its_steps_fitted_to_the_time(tmp_path):
    """train_gpu.py --continue: clips encoded by two worker processes, a timed run, then the
    recipe's last stage with as many steps as the minutes allow, exported; here with the start's DiT grown deeper."""
    script = ROOT / "benchmarks" / "train_gpu.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    deeper = ["--architecture", str(tiny_variant(tmp_path / "deeper.json", "dit", num_layers=3))]
    flags = ["--tiny", "--continue", "--clips", "64", "--workers", "2", "--batch-size", "2", "--minutes", "1.2"]
    flags += deeper
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), *flags], capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    fitted = re.search(r"(\d+) ms a step at batch 2: (\d+) steps", done.stdout)
    assert fitted, done.stdout[-2000:]
    run = json.loads((tmp_path / "sora-tiny" / "sora.json").read_text())["train_config"]
    assert (run["seed"], run["cache_clips"], run["batch_size"]) == (2, 64, 2)  # new clips, not v2's or v3's
    assert run["steps"] == int(fitted.group(2)) > 60  # more than the timed run: the minutes were used
    chunks = list((tmp_path / "run" / "everything" / "dit" / "latents").glob("*.pt"))
    assert len(chunks) == 10  # every bucket slot of the last stage got its clips (64 clips, 16 a chunk, rounded up)
    assert json.loads((tmp_path / "sora-tiny" / "transformer" / "config.json").read_text())["num_layers"] == 3
    assert not (tmp_path / "fresh").exists()  # grown from the start, not a fresh DiT
    assert "animate 20 rendered first frames:" in done.stdout


@pytest.mark.slow
def test_the_recipe_is_one_command_that_chains_its_stages_and_goes_on_where_it_stopped(tmp_path):
    """recipe.py: each stage starts from the export of the one before, trains on its own part of the world, and a
    second run of the same command redoes nothing that is done."""
    from sora_core.training import recipe

    start, out = tmp_path / "start", tmp_path / "run"
    tiny = ["--architecture", TINY_ARCHITECTURE, "--height", "32", "--width", "32", "--threads", "1"]
    main(["--stage", "init", "--export-to", str(start), *tiny])
    command = ["--out", str(out), "--init-from", str(start), "--steps-scale", "0.0001", "--clips-scale", "0.001"]
    command += ["--batch-size", "1", "--", *tiny]
    recipe.main(command)
    sora = json.loads((out / "sora-tiny" / "sora.json").read_text())
    stages = [stage["name"] for stage in sora["recipe"]]
    assert stages == ["one-scene", "left-right", "five-motions", "everything"]
    starts = [stage["init_from"] for stage in sora["recipe"]]
    assert starts == [str(start)] + [str(out / name / "export") for name in stages[:-1]]
    first = [c for chunk in (out / "one-scene" / "dit" / "latents").glob("*.pt") for c in torch.load(chunk)["captions"]]
    assert first and all("red ball moving" in c and "black" in c for c in first)  # the stage's part of the world
    last = [torch.load(chunk)["latents"].shape[2] for chunk in (out / "everything" / "dit" / "latents").glob("*.pt")]
    assert 1 in last and max(last) > 1  # the last stage adds images to the videos
    assert sora["defaults"]["animate_first_frame"] is True
    assert SoraPipeline.from_pretrained(str(out / "sora-tiny"), device="cpu").preset.animate_first_frame

    done_before = (out / "five-motions" / "export" / "sora.json").stat().st_mtime_ns
    shutil.rmtree(out / "everything" / "export")  # as if stopped between the last stage's training and its export
    recipe.main(command)
    assert (out / "five-motions" / "export" / "sora.json").stat().st_mtime_ns == done_before  # not redone
    assert (out / "everything" / "export" / "sora.json").is_file()
    assert progress(out / "everything" / "dit")["step"] == 1  # trained once: the second run only exported


def test_the_recipe_refuses_flags_it_sets_itself_and_a_start_that_is_no_checkpoint(tmp_path):
    from sora_core.training import recipe

    out = tmp_path / "run"
    for wrong, words in ((["--", "--steps", "5", "--lr", "1e-3"], "--lr, --steps: the recipe sets these"),
                         ([], f"--init-from {tmp_path}: not a checkpoint")):  # fmt: skip
        with pytest.raises(SystemExit) as error:
            recipe.main(["--out", str(out), "--init-from", str(tmp_path), *wrong])
        assert str(error.value).startswith(words)
        assert not out.exists()


def test_a_run_stops_in_time_saved_and_goes_on_with_the_same_command(tmp_path):
    out = str(tmp_path / "run")
    main(["--stage", "vae", "--out", out, *TINY, "--steps", "50", "--max-minutes", "0.0001"])
    stopped = progress(tmp_path / "run" / "vae")["step"]
    assert 1 <= stopped < 50
    main(["--stage", "vae", "--out", out, *TINY, "--steps", str(stopped + 2)])
    assert progress(tmp_path / "run" / "vae")["step"] == stopped + 2


def test_an_architecture_is_a_known_name_or_a_json_file_and_anything_else_is_one_sentence(tmp_path):
    from sora_core.training.architectures import ARCHITECTURES

    tiny = architecture(TINY_ARCHITECTURE)
    assert tiny.dit.patch_size == (1, 2, 2) and tiny.text.tokenizer == "bytes"
    assert tiny.vae != ARCHITECTURES["sora-tiny"].vae  # read from the file, not a default
    typo = tmp_path / "typo.json"
    typo.write_text('{"dit": {"layers": 3}}')
    named = "must be one of sora-tiny, sora-tiny-grid2, sora-tiny-deep or a .json file"
    for wrong, words in (("nope", named), (str(typo), "'layers'")):
        with pytest.raises(SystemExit) as error:
            main(["--stage", "export", "--architecture", wrong, "--export-to", str(tmp_path / "x")])
        assert words in str(error.value) and "--architecture" in str(error.value)


def test_a_wrong_stage_bucket_or_start_folder_is_one_sentence_naming_its_flag(tmp_path, capsys):
    """Refused before any work: nothing is written under --out."""
    out = str(tmp_path / "run")
    for flags, words in (
        (["--stage", "dti"], "argument --stage: invalid choice: 'dti'"),
        (["--buckets", "64x64"], "argument --buckets: must be HEIGHTxWIDTHxFRAMES, e.g. 96x96x17; got '64x64'"),
        (["--buckets", "64x64x0"], "argument --buckets: must be HEIGHTxWIDTHxFRAMES"),
    ):
        with pytest.raises(SystemExit) as error:
            main(["--out", out, "--steps", "1", *flags])
        assert error.value.code == 2 and words in capsys.readouterr().err, flags
    with pytest.raises(SystemExit) as error:
        main(["--stage", "dit", "--out", out, "--steps", "1", "--init-from", str(tmp_path / "none"), *TINY])
    assert str(error.value) == f"--init-from must be a checkpoint folder; {tmp_path / 'none'} is not a folder."
    assert not (tmp_path / "run").exists()


def test_another_tracker_that_is_not_there_is_one_sentence(tmp_path):
    """An unknown tracker, or one not installed here, is refused before a step."""
    import importlib.util

    missing = next(name for name in ("swanlab", "aim", "clearml", "dvclive") if importlib.util.find_spec(name) is None)
    for name, words in (("nosuch", "--log-with must be one of aim, "), (missing, "not installed here")):
        with pytest.raises(SystemExit) as error:
            main(["--stage", "vae", "--out", str(tmp_path / name), "--steps", "1", "--log-with", name, *TINY])
        assert str(error.value).startswith("--log-with") and words in str(error.value)
        assert not (tmp_path / name / "vae" / "state").exists()


def test_a_curriculum_stage_caches_only_its_part_of_the_world_paired(tmp_path):
    """--colors / --motions / ... choose the scenes a stage trains on; --paired-motions caches each first frame under
    every chosen motion. Wrong values are one sentence naming the flags, before any work."""
    out = str(tmp_path / "run")
    main(["--stage", "vae", "--out", out, "--steps", "1", *TINY])
    stage = ["--colors", "red", "--shapes", "ball", "--backgrounds", "black"]
    stage += ["--motions", "moving left", "moving right", "--paired-motions", "--caption-omit", "0"]
    stage += ["--first-frame-share", "1"]
    main(["--stage", "dit", "--out", out, "--steps", "1", *stage, *TINY])
    chunks = (tmp_path / "run" / "dit" / "latents").glob("*.pt")
    captions = [caption for chunk in chunks for caption in torch.load(chunk)["captions"]]
    assert len(captions) == 16 and all("red ball moving" in c and "black" in c for c in captions)
    assert {c.count("moving left") for c in captions} == {0, 1}
    assert sum("moving left" in c for c in captions) == 8  # pairs: each first frame under both motions
    main(["--stage", "export", "--out", out, "--export-to", str(tmp_path / "x"), "--architecture", TINY_ARCHITECTURE])
    recorded = json.loads((tmp_path / "x" / "sora.json").read_text())
    assert recorded["train_config"]["colors"] == ["red"] and recorded["train_config"]["paired_motions"] is True
    assert recorded["defaults"]["animate_first_frame"] is True  # the DiT run's recipe, not the export command's
    with pytest.raises(SystemExit) as error:
        main(["--stage", "dit", "--out", str(tmp_path / "bad"), "--colors", "pink", *TINY])
    assert str(error.value).startswith("--colors") and "unknown color 'pink'" in str(error.value)
    assert not (tmp_path / "bad").exists()

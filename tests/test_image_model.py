"""The image model: a checkpoint's `image_transformer/`, trained on rendered images beside its VAE and text encoder,
used for text to image and a two-stage generate's first stage only."""

import copy
import json
import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import TINY_ARCHITECTURE, tiny_variant
from diffusers import WanPipeline
from safetensors.torch import load_file

from sora_core import SoraPipeline, Video
from sora_core.engine.video import to_pixels
from sora_core.toyworld import world as tw
from sora_core.training.config import TrainConfig
from sora_core.training.image_model import RenderedPixels, mirrored, starting_transformer
from sora_core.training.losses import sample_image_t
from sora_core.training.token_labels import BACKGROUND, IGNORED, LabelledFlowLoss, object_class, token_labels
from sora_core.training.train import main

TINY = ["--architecture", TINY_ARCHITECTURE, "--batch-size", "2", "--threads", "1", "--log-every", "1"]
TINY += ["--height", "32", "--width", "32"]


def test_a_mirrored_image_swaps_left_and_right_in_its_caption_and_nothing_else():
    image = torch.arange(2 * 3 * 1 * 2 * 3, dtype=torch.float32).view(2, 3, 1, 2, 3)[0]  # (3, 1, H, W)
    flipped, caption = mirrored(image, "a red ball moving left, on the right of a black background")
    assert caption == "a red ball moving right, on the left of a black background"
    assert torch.equal(flipped[..., 0], image[..., 2]) and torch.equal(flipped[..., 2], image[..., 0])
    assert mirrored(image, "a blue square moving up")[1] == "a blue square moving up"


def test_the_image_models_t_draws_centre_where_asked():
    rng = np.random.default_rng(0)
    logit_normal = sample_image_t(20000, rng, "logit-normal").numpy()
    shifted = sample_image_t(20000, rng, "shifted").numpy()
    uniform = sample_image_t(20000, rng, "uniform").numpy()
    assert abs(np.median(logit_normal) - 0.5) < 0.02  # SD3's: centred on the middle of the schedule
    assert np.median(shifted) > 0.7  # the video model's, towards noise
    assert abs(np.mean(uniform < 0.25) - 0.25) < 0.02 and abs(np.mean(uniform > 0.75) - 0.25) < 0.02
    assert np.mean(np.abs(logit_normal - 0.5) < 0.25) > np.mean(np.abs(uniform - 0.5) < 0.25) + 0.1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny checkpoint, and an image model trained beside it (3 steps, resumed once), exported."""
    root = tmp_path_factory.mktemp("image")
    start, out, export = root / "start", root / "run", root / "export"
    main(["--stage", "init", "--export-to", str(start), "--architecture", TINY_ARCHITECTURE])
    flags = ["--stage", "image", "--out", str(out), "--init-from", str(start), "--save-every", "1", *TINY]
    main([*flags, "--steps", "2"])
    main([*flags, "--steps", "3", "--ema-decay", "0.5"])  # resumes at step 2
    main(["--stage", "export", "--out", str(out), "--export-to", str(export)])
    return start, out, export


def test_image_training_resumes_keeps_the_shared_parts_and_exports_an_image_transformer(trained):
    start, out, export = trained
    assert json.loads((out / "image" / "state" / "progress.json").read_text())["step"] == 3
    for part in ("vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors", "transformer"):
        if part == "transformer":
            part = "transformer/diffusion_pytorch_model.safetensors"
        kept, original = load_file(export / part), load_file(start / part)
        assert all(torch.equal(kept[k], original[k]) for k in original), part  # the video model and its parts
    image = load_file(export / "image_transformer" / "diffusion_pytorch_model.safetensors")
    video = load_file(start / "transformer" / "diffusion_pytorch_model.safetensors")
    assert image.keys() == video.keys()
    assert any(not torch.equal(image[k], video[k]) for k in image)  # it trained, from a copy of the video model
    record = json.loads((export / "sora.json").read_text())["image_train_config"]
    assert record["stage"] == "image" and record["init_from"] == "start"  # the start's name, not a machine path
    assert str(out) not in (export / "image_transformer" / "config.json").read_text()  # nor the run's folder


def test_plain_diffusers_still_loads_a_folder_with_an_image_model(trained):
    _, _, export = trained
    plain = WanPipeline.from_pretrained(export, torch_dtype=torch.float32)
    assert plain.transformer is not None and not hasattr(plain, "image_transformer")
    pipe = SoraPipeline.from_pretrained(str(export), device="cpu")
    assert pipe.image_transformer is not None and pipe.image_transformer is not pipe.transformer


def test_a_fresh_image_model_starts_from_the_architecture_not_the_checkpoint(trained, tmp_path):
    start, _, _ = trained
    flags = ["--stage", "image", "--out", str(tmp_path), "--init-from", str(start), "--image-init", "fresh"]
    main([*flags, "--steps", "1", *TINY, "--seed", "5"])
    trained_weights = load_file(tmp_path / "image" / "model" / "diffusion_pytorch_model.safetensors")
    video = load_file(start / "transformer" / "diffusion_pytorch_model.safetensors")
    # one step of lr ~1e-5 moves a weight by far less than two random draws differ
    assert all((trained_weights[k] - video[k]).abs().max() > 1e-3 for k in video if video[k].numel() > 16)


def test_a_copy_grows_deeper_where_the_architecture_asks_for_more_blocks_of_its_size(trained, tmp_path):
    """--image-init copy with an --architecture of more blocks of the start's size: the grown image model computes
    what the start's did, and its new blocks train; blocks of another size keep the start's architecture."""
    from diffusers import WanTransformer3DModel

    _, _, export = trained
    start = WanTransformer3DModel.from_pretrained(export / "image_transformer", torch_dtype=torch.float32)
    deeper = tiny_variant(tmp_path / "deeper.json", "dit", num_layers=start.config.num_layers + 2)
    config = TrainConfig(init_from=str(export), architecture=str(deeper))
    grown = starting_transformer(config, start.config.text_dim, start.config.in_channels)
    assert grown.config.num_layers == start.config.num_layers + 2
    latents, text = torch.randn(1, start.config.in_channels, 1, 8, 8), torch.randn(1, 6, start.config.text_dim)
    with torch.no_grad():
        before = start(latents, torch.tensor([500.0]), text, return_dict=False)[0]
        after = grown(latents, torch.tensor([500.0]), text, return_dict=False)[0]
    assert before.abs().mean() > 0 and torch.allclose(after, before, atol=1e-5)

    out = tmp_path / "run"
    main(["--stage", "image", "--out", str(out), "--init-from", str(export), "--steps", "2", "--lr", "1e-2", *TINY,
          "--architecture", str(deeper)])  # fmt: skip
    weights = load_file(out / "image" / "model" / "diffusion_pytorch_model.safetensors")
    new_outputs = [k for k in weights if re.match(r"blocks\.[13]\.(attn1\.to_out\.0|ffn\.net\.2)\.weight", k)]
    assert len(new_outputs) == 4 and all(weights[k].abs().max() > 0 for k in new_outputs)

    wider = tiny_variant(tmp_path / "wider.json", "dit", num_layers=start.config.num_layers + 2, ffn_dim=48)
    kept = starting_transformer(replace(config, architecture=str(wider)), start.config.text_dim, 4)
    assert kept.config.num_layers == start.config.num_layers and kept.config.ffn_dim == start.config.ffn_dim


def test_image_training_without_a_checkpoint_or_with_a_wrong_choice_is_one_sentence(tmp_path):
    with pytest.raises(SystemExit, match=r"^--stage image trains beside a checkpoint's VAE .*--init-from"):
        main(["--stage", "image", "--out", str(tmp_path), *TINY])
    with pytest.raises(SystemExit, match=r"^--image-t must be one of logit-normal, shifted, uniform; not 'mid'\.$"):
        main(["--stage", "image", "--out", str(tmp_path), "--image-t", "mid", *TINY])


def test_rendering_workers_each_render_their_own_images(trained, tmp_path):
    """`--image-workers N`: N processes render beside training (a GPU outruns one renderer); each its own stream,
    the first the same as rendering in the training process, and a run with workers trains and saves."""
    config = TrainConfig(height=32, width=32, batch_size=3)
    alone = next(iter(RenderedPixels(config, seed=[4])))
    loader = torch.utils.data.DataLoader(RenderedPixels(config, seed=[4]), batch_size=None, num_workers=2)
    batches = iter(loader)
    first, second = next(batches), next(batches)  # the workers' batches come in turn
    assert torch.equal(first[0], alone[0]) and list(first[1]) == alone[1]
    assert not torch.equal(first[0], second[0])
    start, _, _ = trained
    flags = ["--stage", "image", "--out", str(tmp_path), "--init-from", str(start), "--steps", "2", *TINY]
    main([*flags, "--image-workers", "2"])
    assert (tmp_path / "image" / "model" / "diffusion_pytorch_model.safetensors").is_file()
    with pytest.raises(SystemExit, match=r"^--image-workers must be 0 \(render in the training process\) or more"):
        main([*flags, "--image-workers", "-1"])


def test_a_resumed_run_trains_on_new_images_and_kept_images_are_drawn_once_there_are_enough(trained, tmp_path):
    """`--cache-images N` keeps what each step encoded (a file a batch of 2 here): the steps after a resume kept
    other images than the run's first steps (a stream seeded by its start would show the same ones again); once N
    are kept, no more are rendered and the run trains on."""
    start, _, _ = trained
    flags = ["--stage", "image", "--out", str(tmp_path), "--init-from", str(start), *TINY, "--cache-images", "8"]
    main([*flags, "--steps", "2", "--save-every", "2"])
    main([*flags, "--steps", "4", "--save-every", "2"])  # resumes at step 2
    kept = [torch.load(path) for path in sorted((tmp_path / "image" / "images" / "0").glob("*.pt"))]
    assert len(kept) == 4 and all(batch["latents"].shape[0] == 2 for batch in kept)
    assert not torch.equal(kept[2]["latents"], kept[0]["latents"]) and kept[2]["captions"] != kept[0]["captions"]
    main([*flags, "--steps", "6", "--save-every", "2"])  # 8 kept: drawn from, none added
    assert len(list((tmp_path / "image" / "images" / "0").glob("*.pt"))) == 4
    assert json.loads((tmp_path / "image" / "state" / "progress.json").read_text())["step"] == 6
    with pytest.raises(SystemExit, match=r"^--cache-images must be 0 \(render every step\) or at least --batch-size"):
        main([*flags[:-1], "1", "--steps", "7"])


def test_token_labels_mark_the_object_s_tokens_with_its_colour_and_shape_and_leave_two_objects_unscored():
    rng = np.random.default_rng(3)
    one = tw.Scene((tw.Thing("ball", "red", "standing still"),), "black")
    frames, track = tw.render(one, 96, 96, 1, rng, inside=True)
    labels = token_labels(to_pixels(frames)[None], 16).view(6, 6)  # 16-px tokens of a 96 x 96 image
    x, y = track.centers[0][0]
    assert labels[int(y) // 16, int(x) // 16] == object_class("red", "ball")  # the token at the object's centre
    far = (0 if y > 48 else 5, 0 if x > 48 else 5)  # the corner farthest from it
    assert labels[far] == BACKGROUND
    assert set(labels.unique().tolist()) <= {BACKGROUND, IGNORED, object_class("red", "ball")}
    two = tw.Scene((tw.Thing("ball", "red", "standing still"), tw.Thing("square", "blue", "standing still")), "gray")
    both = token_labels(to_pixels(tw.render(two, 96, 96, 1, rng, inside=True)[0])[None], 16)
    assert set(both.unique().tolist()) <= {BACKGROUND, IGNORED} and (both == IGNORED).any()


def test_the_token_loss_trains_the_blocks_up_to_its_head_and_nothing_after(tiny_pipe):
    """The head reads the middle block's output: the loss moves that block and those before it, not those after."""
    labels = torch.tensor([[0, 1, 2, 3] * 4])  # (1, 16 tokens) of a 16 x 16 latent at 1 x 2 x 2 patches... any classes
    inputs = (torch.randn(1, 4, 1, 8, 8), torch.zeros(1, 1, dtype=torch.bool), torch.ones(1, 5, dtype=torch.long))
    inputs = (*inputs, torch.ones(1, 5, dtype=torch.long), torch.tensor([0.5]))
    transformer = copy.deepcopy(tiny_pipe.transformer).float()

    def gradients(weight: float) -> list[torch.Tensor]:
        loss = LabelledFlowLoss(transformer, tiny_pipe.text_encoder, 1.0, weight)
        transformer.zero_grad()
        torch.manual_seed(0)  # the same noise
        loss(*inputs, labels).backward()
        return [block.ffn.net[2].weight.grad.clone() for block in transformer.blocks]

    plain, labelled = gradients(0.0), gradients(1.0)
    assert not torch.allclose(plain[0], labelled[0])  # the block the head reads
    assert torch.equal(plain[1], labelled[1])  # after it


def test_a_run_with_the_token_loss_logs_it_and_exports_the_transformer_alone(trained, tmp_path):
    start, _, _ = trained
    flags = ["--stage", "image", "--out", str(tmp_path), "--init-from", str(start), *TINY, "--steps", "2"]
    main([*flags, "--token-weight", "0.5", "--cache-images", "4"])
    log = (tmp_path / "image" / "loss.csv").read_text().splitlines()
    assert {"flow", "tokens"} <= set(log[0].split(",")) and len(log) == 3
    main(["--stage", "export", "--out", str(tmp_path), "--export-to", str(tmp_path / "export")])
    image = load_file(tmp_path / "export" / "image_transformer" / "diffusion_pytorch_model.safetensors")
    video = load_file(start / "transformer" / "diffusion_pytorch_model.safetensors")
    assert image.keys() == video.keys()  # no head
    with pytest.raises(SystemExit, match=r"^--token-weight must be 0 \(off\) or more, not -1\.0\.$"):
        main([*flags, "--token-weight", "-1"])
    plain = ["--stage", "image", "--out", str(tmp_path / "plain"), "--init-from", str(start), *TINY]
    main([*plain, "--steps", "2"])
    with pytest.raises(SystemExit, match=r"^--token-weight: .*plain began without the token loss; go on as it began"):
        main([*plain, "--steps", "3", "--token-weight", "0.5"])


def with_image_model(pipe: SoraPipeline, image_transformer) -> SoraPipeline:
    return SoraPipeline(
        pipe.vae,
        pipe.text_encoder,
        pipe.tokenizer,
        pipe.transformer,
        pipe.scheduler,
        pipe.preset,
        image_transformer=image_transformer,
    )


def other_weights(transformer, seed: int):
    other = copy.deepcopy(transformer)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return other


def test_the_image_model_makes_images_and_first_frames_and_nothing_else(tiny_pipe):
    image_model = other_weights(tiny_pipe.transformer, 1)
    pipe = with_image_model(tiny_pipe, image_model)
    same = with_image_model(tiny_pipe, tiny_pipe.transformer)
    settings = dict(height=32, width=32, steps=2, seed=3)
    alone = tiny_pipe.generate("a red ball", num_frames=1, **settings).frames
    assert np.array_equal(same.generate("a red ball", num_frames=1, **settings).frames, alone)
    assert not np.array_equal(pipe.generate("a red ball", num_frames=1, **settings).frames, alone)
    # a video made in one stage, an extension and a restyled image: the video model's alone
    video = tiny_pipe.generate("a red ball", num_frames=5, **settings)
    assert np.array_equal(pipe.generate("a red ball", num_frames=5, **settings).frames, video.frames)
    source = Video(video.frames[:1], fps=8)
    restyled = tiny_pipe.restyle(source, "a blue ball", strength=0.7, **settings).frames
    assert np.array_equal(pipe.restyle(source, "a blue ball", strength=0.7, **settings).frames, restyled)
    extended = tiny_pipe.extend(video, "a red ball", num_frames=4, **settings).frames
    assert np.array_equal(pipe.extend(video, "a red ball", num_frames=4, **settings).frames, extended)
    # a two-stage generate: its first frame is the image model's image
    two_stage = with_image_model(tiny_pipe, image_model)
    two_stage.preset = replace(tiny_pipe.preset, animate_first_frame=True)
    first = two_stage.generate("a red ball", num_frames=5, **settings).frames[0]
    assert np.array_equal(first, pipe.generate("a red ball", num_frames=1, **settings).frames[0])


def test_fast_mode_makes_images_with_the_image_model_too(tiny_pipe):
    pipe = with_image_model(tiny_pipe, other_weights(tiny_pipe.transformer, 2))
    settings = dict(height=32, width=32, steps=8, seed=3, num_frames=1)
    fast = pipe.generate("a red ball", fast=True, **settings).frames
    assert not np.array_equal(fast, tiny_pipe.generate("a red ball", fast=True, **settings).frames)
    exact = pipe.generate("a red ball", **settings).frames
    assert np.abs(fast.astype(int) - exact.astype(int)).mean() < 20


def test_an_image_model_draws_at_its_own_guidance_and_a_guidance_asked_for_an_image_wins(tiny_pipe):
    """Preset.image_guidance is the image model's: an image left at the defaults and a two-stage clip's first frame
    take it (the clip's own guidance stays the video model's); a guidance asked for an image wins; a checkpoint
    without an image model ignores it."""
    image_model = other_weights(tiny_pipe.transformer, 1)
    pipe = with_image_model(tiny_pipe, image_model)
    pipe.preset = replace(tiny_pipe.preset, guidance=4.0, image_guidance=1.5)
    settings = dict(height=32, width=32, steps=2, seed=3)
    image = pipe.generate("a red ball", num_frames=1, **settings)
    at_one_and_a_half = pipe.generate("a red ball", num_frames=1, guidance=1.5, **settings)
    at_four = pipe.generate("a red ball", num_frames=1, guidance=4.0, **settings)
    assert image.metadata["guidance"] == 1.5 and np.array_equal(image.frames, at_one_and_a_half.frames)
    assert at_four.metadata["guidance"] == 4.0 and not np.array_equal(at_four.frames, image.frames)
    pipe.preset = replace(pipe.preset, animate_first_frame=True)
    clip = pipe.generate("a red ball", num_frames=5, **settings)
    assert (clip.metadata["guidance"], clip.metadata["first_frame_guidance"]) == (4.0, 1.5)
    assert np.array_equal(clip.frames[0], image.frames[0])
    plain = copy.copy(tiny_pipe)
    plain.preset = replace(tiny_pipe.preset, guidance=4.0, image_guidance=1.5)
    assert plain.generate("a red ball", num_frames=1, **settings).metadata["guidance"] == 4.0

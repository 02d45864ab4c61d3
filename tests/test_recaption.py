"""Re-captioning a folder (training/recaption.py): the toy-world captioner against ground truth, the folder walk
(skipping, resuming, bad files in one line), a VLM end to end on a tiny random model, and training on the result."""

from pathlib import Path

import numpy as np
import pytest
import torch

from sora_core import Video, toyworld
from sora_core.training.recaption import VLMCaptioner, main, recaption, sample_frames, toyworld_caption

MOTION_WORDS = {
    "moving left": "left",
    "moving right": "right",
    "moving up": "up",
    "moving down": "down",
    "bouncing": "bouncing",
    "standing still": "still",
}


def toy_clips(folder: Path, count: int, seed: int = 0) -> dict[str, tuple]:
    """`count` toy-world clips saved as the issue asks (H.264 MP4, 128 x 128, 33 frames, 8 fps), no captions."""
    folder.mkdir(parents=True, exist_ok=True)
    rng, truth = np.random.default_rng(seed), {}
    combos = toyworld.all_combinations()
    for i in range(count):
        thing, background = combos[int(rng.integers(len(combos)))]
        frames = toyworld.render(toyworld.Scene((thing,), background), 128, 128, 33, rng, inside=True)[0]
        Video(frames, fps=8).save(folder / f"clip{i}.mp4")
        truth[f"clip{i}"] = (thing, background)
    return truth


def messages(stderr: str) -> list[str]:
    """What the command said on stderr, its progress bar left out."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("captioning")]


def words_right(caption: str, thing, background: str) -> bool:
    return (
        thing.color in caption
        and thing.shape in caption
        and MOTION_WORDS[thing.motion] in caption
        and f"{background} background" in caption
    )


@pytest.mark.slow
def test_the_toyworld_captioner_reads_every_colour_shape_and_motion():
    """One rendered clip for each colour x shape x motion (backgrounds in turn): at least 98 % captioned right."""
    rng, right, wrong = np.random.default_rng(1), 0, []
    backgrounds = list(toyworld.BACKGROUNDS)
    for i, (color, shape, motion) in enumerate(
        (c, s, m) for c in toyworld.COLORS for s in toyworld.SHAPES for m in toyworld.MOTIONS
    ):
        usable = [b for b in backgrounds if b != color]  # the world draws no white thing on white
        thing, background = toyworld.Thing(shape, color, motion), usable[i % len(usable)]
        scene = toyworld.Scene((thing,), background)
        caption = toyworld_caption(toyworld.render(scene, 128, 128, 33, rng, inside=True)[0])
        if words_right(caption, thing, background):
            right += 1
        else:
            wrong.append((thing, background, caption))
    assert right / (right + len(wrong)) >= 0.98, wrong


def test_a_folder_is_captioned_resumed_and_bad_files_skipped_in_one_line(tmp_path, capsys):
    folder = tmp_path / "footage"
    truth = toy_clips(folder / "day1", 4)
    Video(np.full((1, 64, 64, 3), 128, np.uint8), fps=1).save(folder / "still.png")
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    assert main([str(folder)]) == 1  # something was skipped
    err = messages(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("skipped broken.mp4: ") and "Traceback" not in err[0]
    for name, (thing, background) in truth.items():
        assert words_right((folder / "day1" / f"{name}.txt").read_text(), thing, background), name
    assert (folder / "still.txt").read_text().strip() == "a gray background"
    assert not (folder / "broken.txt").exists()
    (folder / "day1" / "clip0.txt").write_text("kept\n")
    again = recaption(folder, "toyworld", progress=False)
    assert (len(again.written), len(again.already), len(again.failed)) == (0, 5, 1)
    assert (folder / "day1" / "clip0.txt").read_text() == "kept\n"
    redone = recaption(folder, "toyworld", overwrite=True, progress=False)
    assert len(redone.written) == 5 and (folder / "day1" / "clip0.txt").read_text() != "kept\n"


def test_bad_arguments_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    assert main([str(tmp_path), "--frames", "0"]) == 2
    toy_clips(tmp_path / "f", 1)
    assert main([str(tmp_path / "f"), "--captioner", str(tmp_path / "no-model")]) == 2
    assert main([str(tmp_path / "f"), "--captioner", "nope"]) == 2
    (tmp_path / "empty-model").mkdir()
    assert main([str(tmp_path / "f"), "--captioner", str(tmp_path / "empty-model")]) == 2
    lines = messages(capsys.readouterr().err)
    assert lines[0] == f"error: FOLDER: {tmp_path / 'nowhere'} is not a folder."
    assert lines[1] == "error: --frames must be 1 or more; got 0."
    assert lines[2] == f"error: --captioner: {tmp_path / 'no-model'} is not a model folder."
    kinds = "toyworld, vlm, a Hub repo id (owner/name) or a model folder"
    assert lines[3] == f"error: --captioner must be {kinds}; got 'nope'."
    assert lines[4].startswith(f"error: --captioner {tmp_path / 'empty-model'}: could not load") and len(lines) == 5


def test_a_captioner_on_the_hub_is_not_waited_for_offline(tmp_path, capsys, monkeypatch):
    """Offline, a repo id not in the cache is one line at once, not huggingface_hub's five retries."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    toy_clips(tmp_path / "f", 1)
    assert main([str(tmp_path / "f"), "--captioner", "someone/no-such-captioner"]) == 2
    assert messages(capsys.readouterr().err) == [
        "error: --captioner someone/no-such-captioner: not in the local Hugging Face cache and the Hub cannot be "
        "reached (offline); connect once or run `hf download someone/no-such-captioner`."
    ]


def tiny_vlm(folder: Path) -> Path:
    """A random LLaVA of the smallest shapes, with a word-level tokenizer and a chat template, built here."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    words = ["<unk>", "<s>", "</s>", "<image>", "USER:", "ASSISTANT:"] + [f"w{i}" for i in range(58)]
    word_level = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=word_level,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
    )
    template = (
        "{% for m in messages %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image> "
        "{% else %}{{ c['text'] }} {% endif %}{% endfor %}{% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
    )
    image_processor = CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=template,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=16, patch_size=8
    )
    text = LlamaConfig(
        vocab_size=len(words),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=3, vision_feature_layer=-1)
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_a_vlm_captions_a_folder_end_to_end(tmp_path):
    """The VLM path on a tiny random model: its words are nonsense; files, skipping and resuming are checked."""
    model = tiny_vlm(tmp_path / "tiny-vlm")
    toy_clips(tmp_path / "clips", 2)
    captioner = VLMCaptioner(str(model), revision=None, frames=3)
    report = recaption(tmp_path / "clips", captioner, progress=False)
    assert len(report.written) == 2 and not report.failed
    for path in report.written:
        words = path.with_suffix(".txt").read_text().split()
        assert words and all(word.startswith("w") for word in words)  # the tiny vocabulary's words, no specials
    assert len(recaption(tmp_path / "clips", captioner, progress=False).already) == 2


def test_sample_frames_spreads_from_first_to_last():
    frames = np.arange(9)[:, None, None, None] * np.ones((9, 2, 2, 3), np.uint8)
    assert sample_frames(frames, 3)[:, 0, 0, 0].tolist() == [0, 4, 8]
    assert len(sample_frames(frames[:2], 4)) == 2


def test_two_training_steps_on_a_recaptioned_folder(tmp_path):
    from test_train import TINY, progress

    from sora_core.training.train import main as train

    toy_clips(tmp_path / "clips", 3)
    assert main([str(tmp_path / "clips")]) == 0
    args = ["--stage", "vae", "--out", str(tmp_path / "run"), "--data", str(tmp_path / "clips"), "--steps", "2"]
    train([*args, *TINY])
    assert progress(tmp_path / "run" / "vae")["step"] == 2


def test_the_caption_style_reaches_the_checkpoints_enhancer(tmp_path):
    """A folder's captions.json names its captioner; the export's sora.json picks the enhancer that writes that
    style: the toy world's rewriter, or the Hub presets' instruct model for a VLM's paragraphs."""
    from sora_core import PRESETS
    from sora_core.training.export import enhancer_for

    toy_clips(tmp_path / "toy", 1)
    recaption(tmp_path / "toy", "toyworld", progress=False)
    assert enhancer_for(str(tmp_path / "toy")) == (
        {"enhancer": "toyworld"},
        {"captioner": "toyworld", "style": "toyworld"},
    )
    toy_clips(tmp_path / "vlm", 1)
    recaption(tmp_path / "vlm", VLMCaptioner(str(tiny_vlm(tmp_path / "m")), revision=None, frames=2), progress=False)
    enhancer, captions = enhancer_for(str(tmp_path / "vlm"))
    assert enhancer["enhancer"] == PRESETS["wan2.1-t2v-1.3b"].enhancer and captions["style"] == "paragraph"
    assert enhancer_for("toyworld")[0] == {"enhancer": "toyworld"}

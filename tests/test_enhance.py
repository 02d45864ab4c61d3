"""Prompt enhancement: the offline rewriter's paraphrase table, and the language-model path with a tiny local model."""

import logging

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from sora_core import enhance_prompt
from sora_core.serving.enhance import enhance_with_language_model
from sora_core.toyworld import world
from sora_core.toyworld.rewriter import rewrite_for_toyworld

PARAPHRASES = [
    ("a crimson sphere drifting leftwards over a dark backdrop", "a red ball moving left on a black background"),
    ("golden cube rising against a grey wall", "a yellow square moving up on a gray background"),
    ("a violet pyramid that keeps bouncing on a black background", "a purple triangle bouncing on a black background"),
    ("an azure orb falling on a white background", "a blue ball moving down on a white background"),
    ("emerald disc, stationary, charcoal backdrop", "a green ball standing still on a gray background"),
    ("a tangerine box moves right over a pale backdrop", "an orange square moving right on a white background"),
    ("a bouncing scarlet ball on a gray background", "a red ball bouncing on a gray background"),
    ("A RED BALL MOVING RIGHT ON A BLACK BACKGROUND", "a red ball moving right on a black background"),
    (
        "a red ball moving right and a green square bouncing on a gray background",
        "a red ball moving right and a green square bouncing on a gray background",
    ),
]


@pytest.mark.parametrize("prompt,expected", PARAPHRASES)
def test_rewriter_maps_paraphrases_into_the_vocabulary(prompt, expected):
    assert rewrite_for_toyworld(prompt).prompt == expected
    assert enhance_prompt(prompt, model="sora-tiny") == expected


def test_rewriter_reports_what_it_could_not_place_and_fills_gaps():
    result = rewrite_for_toyworld("a fluffy cat chasing a crimson sphere")
    assert result.unplaced == ["fluffy", "cat", "chasing"]
    assert result.prompt == "a red ball standing still on a black background"
    assert "motion: standing still" in result.filled_in and "background: black" in result.filled_in


def test_a_prompt_that_is_not_text_is_one_sentence():
    with pytest.raises(ValueError, match=r"^prompt must be text; got NoneType\.$"):
        enhance_prompt(None)
    with pytest.raises(ValueError, match=r"^prompt is empty"):
        enhance_prompt("   ", "wan2.1-t2v-1.3b")


def test_unknown_models_keep_the_prompt():
    assert enhance_prompt("a dog on a beach", model="some/other-model") == "a dog on a beach"


def tiny_chat_model():
    """A random GPT-2 and a word-level tokenizer with a chat template, built here: nothing is downloaded."""
    words = [
        "<pad>",
        "<eos>",
        "<unk>",
        "system",
        "user",
        "assistant",
        "a",
        "red",
        "ball",
        "bouncing",
        "slowly",
        "on",
        "black",
        "background",
        "the",
        "camera",
        "light",
        "soft",
        "wide",
        "shot",
        "moves",
        "scene",
        "i",
        "am",
        "sorry",
    ]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}{% if add_generation_prompt %}"
        "assistant {% endif %}"
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(words),
        n_positions=512,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=1,
        eos_token_id=1,
        pad_token_id=0,
    )
    return GPT2LMHeadModel(config).eval(), tokenizer


def test_language_model_path_is_deterministic_for_a_seed():
    model, tokenizer = tiny_chat_model()
    first = enhance_with_language_model("a red ball", model, tokenizer, seed=3, max_new_tokens=20)
    again = enhance_with_language_model("a red ball", model, tokenizer, seed=3, max_new_tokens=20)
    assert first == again
    other = [enhance_with_language_model("a red ball", model, tokenizer, seed=s, max_new_tokens=20) for s in range(4)]
    assert len(set(other)) > 1  # the seed matters


def test_language_model_failure_returns_the_prompt_and_logs(caplog):
    model, tokenizer = tiny_chat_model()

    def broken(**kwargs):
        raise RuntimeError("CUDA error: out of memory")

    model.generate = broken
    with caplog.at_level(logging.WARNING):
        assert enhance_with_language_model("a red ball", model, tokenizer) == "a red ball"
    assert "prompt enhancement failed" in caplog.text


def test_refusals_are_not_used(caplog):
    """A reply long enough to be a caption that opens as a refusal: the refusal branch, not the length check."""
    model, tokenizer = tiny_chat_model()
    reply = tokenizer("i am sorry a red ball bouncing slowly on black background", add_special_tokens=False)
    assert tokenizer.unk_token_id not in reply.input_ids
    model.generate = lambda input_ids, **kwargs: torch.cat([input_ids, torch.tensor([reply.input_ids])], 1)
    with caplog.at_level(logging.WARNING):
        assert enhance_with_language_model("a red ball bouncing", model, tokenizer) == "a red ball bouncing"
    assert "unusable reply 'i am sorry a red ball" in caplog.text


def test_an_unreachable_hub_leaves_the_prompt_at_once(tmp_path):
    """No HF_HUB_OFFLINE, a Hub that refuses connections and an empty cache: the Wan preset's enhancer is not
    there, and the prompt is used as written without the download client's retries (each request would wait)."""
    import os
    import subprocess
    import sys

    from app_server import ROOT, free_port

    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_OFFLINE", None)
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code = "from sora_core import enhance_prompt\nprint('USED:', enhance_prompt('a red ball', 'wan2.1-t2v-1.3b'))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "USED: a red ball" in result.stdout, result.stdout + result.stderr
    assert "prompt enhancer" in result.stderr and "unavailable" in result.stderr
    assert "Retrying" not in result.stderr and "Traceback" not in result.stderr


def orange_triangles_on_gray(motion: str = "moving right", seed: int = 0) -> np.ndarray:
    scene = world.Scene((world.Thing("triangle", "orange", motion),), "gray")
    return world.render(scene, 96, 96, 17, np.random.default_rng(seed), inside=True)[0]


def test_a_workflows_short_prompt_takes_what_it_leaves_out_from_its_source_clip():
    """The words a prompt leaves out come from the clip it continues, not from the defaults (white, black)."""
    from sora_core.serving.enhance import rewrite_prompt

    source = orange_triangles_on_gray()
    rewrite = rewrite_prompt("the triangle turns upward", "sora-tiny", source=source)
    assert rewrite.prompt == "an orange triangle moving up on a gray background"
    assert {"colour: orange (the source's)", "background: gray (the source's)"} <= set(rewrite.filled_in)
    assert rewrite_prompt("the triangle turns upward", "sora-tiny").prompt == (
        "a white triangle moving up on a black background"  # text to video: the defaults
    )
    # the source's motion too, where the prompt names none; and a word the prompt gives wins over the source's
    assert rewrite_prompt("a triangle", "sora-tiny", source=source).prompt == (
        "an orange triangle moving right on a gray background"
    )
    assert rewrite_prompt("a blue ball", "sora-tiny", source=source).prompt.startswith("a blue ball moving right")


def test_a_language_model_enhancer_leaves_a_workflows_prompt_as_written():
    """On a Hub preset an instruct model would invent a scene the source does not show: no model is even loaded."""
    from sora_core.serving.enhance import rewrite_prompt

    rewrite = rewrite_prompt("the cat turns around", "wan2.1-t2v-1.3b", source=orange_triangles_on_gray())
    assert rewrite.prompt == "the cat turns around" and rewrite.unplaced == []


def test_the_words_a_rewrite_drops_are_named():
    from sora_core.serving.enhance import rewrite_prompt
    from sora_core.toyworld.rewriter import dropped_sentence

    rewrite = rewrite_prompt("a pink star spinning above the ocean", "sora-tiny")
    assert rewrite.unplaced == ["pink", "star", "spinning", "above", "ocean"]
    assert dropped_sentence(rewrite.unplaced) == (
        "The model does not know these words, so they were dropped: pink, star, spinning, above, ocean."
    )
    assert dropped_sentence([]) == ""

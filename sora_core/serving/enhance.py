"""Prompt enhancement: rewrite a user's short prompt into the kind of caption the model was trained on.

- `sora-tiny`: the toy world's offline rewriter (`sora_core.toyworld.rewriter`), which maps free wording into its
  vocabulary and reports the words it could not place.
- Hub presets: a small instruct language model (transformers), asked for one detailed caption; on any
  failure the user's prompt comes back unchanged and the log says why.
"""

import logging
import re

import numpy as np
import torch

from ..engine.limits import check_text
from ..engine.loading import hub_offline
from ..engine.presets import Preset, preset_for
from ..toyworld.rewriter import Rewrite, SourceWords, rewrite_for_toyworld

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You rewrite short video prompts into one detailed caption for a text-to-video model. Describe the main "
    "subject and its appearance, what moves and how, the scene and background, the camera and the light, in "
    "one paragraph of at most 80 words, in English. Keep everything the user asked for and add nothing that "
    "contradicts it. Reply with the caption only: no preamble, no quotes, no lists, never a refusal or a question."
)


def enhance_with_language_model(prompt: str, model, tokenizer, seed: int = 0, max_new_tokens: int = 120) -> str:
    """One detailed caption from an instruct model; the user's prompt unchanged on any failure."""
    try:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        inputs = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        torch.manual_seed(seed)  # sampling is deterministic for a seed
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                temperature=0.7,
                top_p=0.9,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        text = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
        text = re.sub(r"\s+", " ", text).strip(" \"'")
        refusal = re.match(r"(i'm sorry|i am sorry|i cannot|i can't|as an ai|sure[,!])", text.lower())
        if len(text) < len(prompt) or refusal:
            raise ValueError(f"unusable reply {text[:80]!r}")
        return text
    except Exception as error:  # the enhancer must never cost the user their request
        log.warning("prompt enhancement failed, using the prompt as written: %s", error)
        return prompt


_LANGUAGE_MODELS: dict = {}


def load_language_model(repo_id: str, revision: str, device: str = "cpu"):
    """The instruct model of a Hub preset, loaded once (safetensors only, no remote code)."""
    if repo_id not in _LANGUAGE_MODELS:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        where = dict(revision=revision, local_files_only=hub_offline())  # offline: no five retries each request
        tokenizer = AutoTokenizer.from_pretrained(repo_id, **where)
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
        model = AutoModelForCausalLM.from_pretrained(repo_id, dtype=dtype, use_safetensors=True, **where)
        _LANGUAGE_MODELS[repo_id] = (model.to(device).eval(), tokenizer)
    return _LANGUAGE_MODELS[repo_id]


def works_offline(preset: Preset) -> bool:
    """The enhancer needs nothing downloaded (the toy world's rewriter): the CLI turns it on by default, as the page
    does for every model."""
    return preset.enhancer == "toyworld"


def unknown_words(prompt: str, preset: Preset) -> list[str]:
    """Words of `prompt` a toy-world model was never trained on (empty for other models: their vocabulary is open)."""
    if preset.enhancer != "toyworld":
        return []
    from ..toyworld.world import caption_words

    known = set(caption_words())
    return [word for word in re.findall(r"[a-z]+", prompt.lower()) if word not in known]


def rewrite_prompt(
    prompt: str, model: "str | Preset" = "sora-tiny", seed: int = 0, device: str = "cpu", source=None
) -> Rewrite:
    """The user's prompt rewritten for `model` (a preset, or its name), with the words it dropped and what it filled
    in. `source`: the frames (T, H, W, 3) a workflow starts from; a toy-world model takes what a short prompt leaves
    out from them, and a language-model enhancer leaves a workflow's prompt as written (it would invent a scene the
    source does not show). Unchanged when the model has no enhancer or the enhancer fails."""
    check_text(prompt, "prompt", required=True)
    preset = model if isinstance(model, Preset) else preset_for(model)
    if preset.enhancer == "toyworld":
        return rewrite_for_toyworld(prompt, None if source is None else SourceWords.read_from(np.asarray(source)))
    if not preset.enhancer or source is not None:
        return Rewrite(prompt)
    try:
        language_model, tokenizer = load_language_model(preset.enhancer, preset.enhancer_revision, device=device)
    except Exception as error:
        log.warning("prompt enhancer %s unavailable, using the prompt as written: %s", preset.enhancer, error)
        return Rewrite(prompt)
    return Rewrite(enhance_with_language_model(prompt, language_model, tokenizer, seed))


def enhance_prompt(
    prompt: str, model: "str | Preset" = "sora-tiny", seed: int = 0, device: str = "cpu", source=None
) -> str:
    """The prompt `rewrite_prompt` gives, alone."""
    return rewrite_prompt(prompt, model, seed, device, source).prompt

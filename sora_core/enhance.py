"""Prompt enhancement: rewrite a user's short prompt into the kind of caption the model was trained on.

- `sora-tiny`: an offline rewriter that maps free wording into the toy world's vocabulary and reports the
  words it could not place.
- Hub presets: a small instruct language model (transformers), asked for one detailed caption; on any
  failure the user's prompt comes back unchanged and the log says why.
"""

import logging
import re
from dataclasses import dataclass, field

import torch

from . import toyworld
from .presets import Preset, preset_for

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You rewrite short video prompts into one detailed caption for a text-to-video model. Describe the main "
    "subject and its appearance, what moves and how, the scene and background, the camera and the light, in "
    "one paragraph of at most 80 words, in English. Keep everything the user asked for and add nothing that "
    "contradicts it. Reply with the caption only: no preamble, no quotes, no lists, never a refusal or a question."
)

# Free wording -> the toy world's words. Longer phrases are matched first.
COLOR_WORDS = {
    "red": ["crimson", "scarlet", "ruby", "cherry", "maroon", "vermilion"],
    "green": ["emerald", "lime", "jade", "olive", "grassy"],
    "blue": ["azure", "navy", "cobalt", "sapphire", "cyan", "sky blue", "teal"],
    "yellow": ["golden", "gold", "lemon", "amber", "canary"],
    "purple": ["violet", "lilac", "lavender", "magenta", "plum", "indigo"],
    "orange": ["tangerine", "apricot", "peach", "coral"],
    "white": ["ivory", "snowy", "snow white", "pale", "cream"],
}
SHAPE_WORDS = {
    "ball": ["sphere", "orb", "circle", "disc", "disk", "dot", "globe", "marble", "bubble", "balls", "spheres"],
    "square": ["cube", "box", "block", "rectangle", "tile", "squares", "cubes"],
    "triangle": ["pyramid", "cone", "wedge", "triangles"],
}
MOTION_WORDS = {
    "moving left": [
        "drifting leftwards",
        "drifting left",
        "moves left",
        "goes left",
        "going left",
        "heading left",
        "sliding left",
        "rolling left",
        "leftwards",
        "to the left",
        "westward",
    ],
    "moving right": [
        "drifting rightwards",
        "drifting right",
        "moves right",
        "goes right",
        "going right",
        "heading right",
        "sliding right",
        "rolling right",
        "rightwards",
        "to the right",
        "eastward",
    ],
    "moving up": [
        "rising",
        "rises",
        "floating up",
        "going up",
        "moves up",
        "ascending",
        "climbing",
        "upwards",
        "lifting off",
        "flying up",
    ],
    "moving down": ["falling", "falls", "sinking", "dropping", "descending", "going down", "moves down", "downwards"],
    "bouncing": ["keeps bouncing", "bounces", "bouncy", "hopping", "jumping", "bounce", "boing"],
    "standing still": [
        "stationary",
        "motionless",
        "not moving",
        "still",
        "resting",
        "sitting",
        "static",
        "idle",
        "frozen",
        "standing",
    ],
}
BACKGROUND_WORDS = {
    "background": ["backdrop", "backgound", "scene", "canvas", "wall"],
    "gray": ["grey", "silver", "charcoal", "slate", "ash"],
    "black": ["dark", "night", "pitch black", "jet black", "ebony"],
}
STOPWORDS = set(
    "a an the on in over against of with and its it is are to at into onto from by while as slowly quickly fast "
    "very one single some plain simple solid small big large little tiny across toward towards that which".split()
)
DEFAULTS = {"color": "white", "motion": "standing still", "background": "black"}


@dataclass
class Rewrite:
    prompt: str
    unplaced: list[str] = field(default_factory=list)
    filled_in: list[str] = field(default_factory=list)


def _phrase_table() -> list[tuple[str, str]]:
    table = []
    for groups in (MOTION_WORDS, COLOR_WORDS, SHAPE_WORDS, BACKGROUND_WORDS):
        for canonical, words in groups.items():
            table += [(word, canonical) for word in words]
    for canonical in (*toyworld.MOTIONS, *toyworld.COLORS, *toyworld.SHAPES, *toyworld.BACKGROUNDS):
        table.append((canonical, canonical))
    return sorted(table, key=lambda item: -len(item[0]))


PHRASES = _phrase_table()


def _tokens(prompt: str) -> list[str]:
    """Canonical tokens: known phrases become one token each ("moving left"); other words stay as they are."""
    text = " " + re.sub(r"[^a-z ]+", " ", prompt.lower()) + " "
    for phrase, canonical in PHRASES:
        text = re.sub(rf"(?<= ){re.escape(phrase)}(?= )", canonical.replace(" ", "_"), text)
    return [token.replace("_", " ") for token in text.split()]


def rewrite_for_toyworld(prompt: str) -> Rewrite:
    """Map free wording into the toy world's vocabulary: "a crimson sphere drifting leftwards over a dark
    backdrop" -> "a red ball moving left on a black background"."""
    tokens = _tokens(prompt)
    background, objects, pending, unplaced = None, [], {}, []
    for i, token in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token == "background" or token in STOPWORDS:
            continue
        if token in toyworld.BACKGROUNDS and (after == "background" or token not in toyworld.COLORS):
            background = token  # "white" is a background only when "background" follows it
        elif token in toyworld.COLORS:
            pending["color"] = token
        elif token in toyworld.SHAPES:
            objects.append({**pending, "shape": token})
            pending = {}
        elif token in toyworld.MOTIONS:
            if objects and "motion" not in objects[-1]:
                objects[-1]["motion"] = token
            else:
                pending["motion"] = token  # "a bouncing red ball": the motion came first
        else:
            unplaced.append(token)
    if pending or not objects:
        objects.append(pending)
    objects = [thing for thing in objects if thing][:2] or [{}]
    filled = []
    things = []
    for thing in objects:
        if thing.get("color") is None:
            thing["color"] = DEFAULTS["color"] if background != "white" else "red"
            filled.append(f"colour: {thing['color']}")
        if thing.get("shape") is None:
            thing["shape"] = "ball"
            filled.append("shape: ball")
        if thing.get("motion") is None:
            thing["motion"] = DEFAULTS["motion"]
            filled.append(f"motion: {thing['motion']}")
        things.append(toyworld.Thing(thing["shape"], thing["color"], thing["motion"]))
    if background is None:
        background = DEFAULTS["background"] if things[0].color != "black" else "gray"
        filled.append(f"background: {background}")
    if not toyworld.valid(things[0], background):  # a white ball on a white background cannot be seen
        background = "black"
        filled.append("background: black (the object's colour matched the background)")
    return Rewrite(toyworld.Scene(tuple(things), background).caption(), unplaced, filled)


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

        tokenizer = AutoTokenizer.from_pretrained(repo_id, revision=revision)
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
        model = AutoModelForCausalLM.from_pretrained(repo_id, revision=revision, dtype=dtype, use_safetensors=True)
        _LANGUAGE_MODELS[repo_id] = (model.to(device).eval(), tokenizer)
    return _LANGUAGE_MODELS[repo_id]


def enhance_prompt(prompt: str, model: "str | Preset" = "sora-tiny", seed: int = 0, device: str = "cpu") -> str:
    """The user's prompt rewritten for `model` (a preset, or its name); unchanged when the model has no enhancer
    or the enhancer fails."""
    preset = model if isinstance(model, Preset) else preset_for(model)
    if preset.enhancer == "toyworld":
        return rewrite_for_toyworld(prompt).prompt
    if not preset.enhancer:
        return prompt
    try:
        language_model, tokenizer = load_language_model(preset.enhancer, preset.enhancer_revision, device=device)
    except Exception as error:
        log.warning("prompt enhancer %s unavailable, using the prompt as written: %s", preset.enhancer, error)
        return prompt
    return enhance_with_language_model(prompt, language_model, tokenizer, seed)

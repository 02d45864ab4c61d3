"""The offline prompt rewriter of the toy world: free wording -> the toy world's own caption form.

"a crimson sphere drifting leftwards over a dark backdrop" -> "a red ball moving left on a black background";
words it cannot place are reported, and what the prompt leaves out is filled in with a likely value.
"""

import re
from dataclasses import dataclass, field

from . import world as toyworld

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


def vocabulary_sentence() -> str:
    """What a toy-world model knows, for people typing prompts."""
    words = "; ".join(f"{kind}: {', '.join(values)}" for kind, values in toyworld.VOCABULARY.items())
    return f"This model knows a toy world. {words}. The prompt enhancer maps other wording onto these words."


def unplaced_sentence(prompt) -> str:
    """The words of `prompt` the rewriter could not place, for the page; empty when it placed them all."""
    unplaced = rewrite_for_toyworld(prompt).unplaced if isinstance(prompt, str) else []
    return f"Words the enhancer could not place: {', '.join(unplaced)}" if unplaced else ""

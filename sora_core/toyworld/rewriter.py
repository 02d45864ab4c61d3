"""The offline prompt rewriter of the toy world: free wording -> the toy world's own caption form.

"a crimson sphere drifting leftwards over a dark backdrop" -> "a red ball moving left on a black background";
words it cannot place are reported, and what the prompt leaves out is filled in with a likely value.
"""

import re
from dataclasses import dataclass, field

from . import world as toyworld
from .detector import read

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
        "leftward",
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
        "rightward",
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
        "upward",
        "lifting off",
        "flying up",
    ],
    "moving down": [
        "falling",
        "falls",
        "sinking",
        "dropping",
        "descending",
        "going down",
        "moves down",
        "downwards",
        "downward",
    ],
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
    """A rewritten prompt: the words it could not place (dropped from the prompt the model gets), and what it filled
    in for what the prompt left out ("colour: orange (the source's)")."""

    prompt: str
    unplaced: list[str] = field(default_factory=list)
    filled_in: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceWords:
    """What a source clip shows, in the toy world's words (None where the detector could not read it): a workflow's
    short prompt takes from here what it leaves out, instead of the defaults."""

    color: str | None = None
    shape: str | None = None
    motion: str | None = None
    background: str | None = None

    @classmethod
    def read_from(cls, frames) -> "SourceWords":
        """The first object and the background of uint8 frames (T, H, W, 3), read by the evaluation's detector."""
        reading = read(frames)
        return cls(reading.color, reading.shape, reading.motion, reading.background)


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


def rewrite_for_toyworld(prompt: str, source: SourceWords | None = None) -> Rewrite:
    """Map free wording into the toy world's vocabulary: "a crimson sphere drifting leftwards over a dark
    backdrop" -> "a red ball moving left on a black background". What the prompt leaves out comes from `source`
    (the clip a workflow continues) where given, else from the defaults."""
    background, objects, unplaced = parse(_tokens(prompt))
    source = source or SourceWords()
    filled = []
    things = []
    for i, thing in enumerate(objects):
        known = source if i == 0 else SourceWords()  # the source's object is the prompt's first
        for kind in ("color", "shape", "motion"):
            if thing.get(kind) is None:
                thing[kind], said = missing_word(kind, getattr(known, kind), background)
                filled.append(said)
        things.append(toyworld.Thing(thing["shape"], thing["color"], thing["motion"]))
    if background is None:
        default = DEFAULTS["background"] if things[0].color != "black" else "gray"
        background = source.background or default
        filled.append(f"background: {background}" + (" (the source's)" if source.background else ""))
    if not toyworld.valid(things[0], background):  # a white ball on a white background cannot be seen
        background = "black"
        filled.append("background: black (the object's colour matched the background)")
    return Rewrite(toyworld.Scene(tuple(things), background).caption(), unplaced, filled)


def missing_word(kind: str, from_source: str | None, background: str | None) -> tuple[str, str]:
    """A word the prompt left out: the source's where it has one, else the default; and how to say so."""
    name = "colour" if kind == "color" else kind
    if from_source is not None:
        return from_source, f"{name}: {from_source} (the source's)"
    if kind == "color":
        word = DEFAULTS["color"] if background != "white" else "red"
    else:
        word = "ball" if kind == "shape" else DEFAULTS["motion"]
    return word, f"{name}: {word}"


def parse(tokens: list[str]) -> tuple[str | None, list[dict], list[str]]:
    """Canonical tokens -> the background named (or None), up to two objects' words, and the words not placed."""
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
    return background, [thing for thing in objects if thing][:2] or [{}], unplaced


def vocabulary_sentence() -> str:
    """What a toy-world model knows, for people typing prompts."""
    words = "; ".join(f"{kind}: {', '.join(values)}" for kind, values in toyworld.VOCABULARY.items())
    return f"This model knows a toy world. {words}. The prompt enhancer maps other wording onto these words."


def dropped_sentence(unplaced: list[str]) -> str:
    """What a rewrite left out of the prompt, for people; empty when it placed every word."""
    return f"The model does not know these words, so they were dropped: {', '.join(unplaced)}." if unplaced else ""


def unplaced_sentence(prompt) -> str:
    """`dropped_sentence` for the words of `prompt` the rewriter could not place (the page's note)."""
    return dropped_sentence(rewrite_for_toyworld(prompt).unplaced if isinstance(prompt, str) else [])

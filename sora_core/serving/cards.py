"""A storyboard's cards as the API and the page send them -> the engine's `Card`s, in frames."""

from ..engine import limits
from ..engine.storyboard import Card
from ..engine.video import Video
from .uploads import blank

CARD_FIELDS = ("prompt", "seconds", "keyframe", "match_colour")


def story_cards(raw, fps: float, keyframes: tuple[Video, ...] = ()) -> list[Card]:
    """A card is {"prompt", "seconds"} with optional "keyframe" (which of the uploaded `keyframes` the card ends on,
    1 = the first) and "match_colour" (True by default), or a row [prompt, seconds, keyframe, match_colour] whose last
    two may be left out or blank, as the Space's table sends them."""
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError('cards must be a non-empty list of {"prompt": ..., "seconds": ...} objects.')
    return [card_of(card, i, fps, keyframes) for i, card in enumerate(raw)]


def card_of(card, i: int, fps: float, keyframes: tuple[Video, ...]) -> Card:
    if isinstance(card, dict):
        unknown = set(card) - set(CARD_FIELDS)
        if unknown:
            raise ValueError(f"cards[{i}] has no field {sorted(unknown)[0]!r}; a card takes {', '.join(CARD_FIELDS)}.")
        fields = [card.get(name) for name in CARD_FIELDS]
    elif isinstance(card, (list, tuple)):
        fields = (list(card) + [None] * len(CARD_FIELDS))[: len(CARD_FIELDS)]
    else:
        raise ValueError(f'cards[{i}] must be a {{"prompt": ..., "seconds": ...}} object; got {card!r}.')
    prompt, seconds, keyframe, match_colour = fields
    seconds = limits.check_card_seconds(seconds, f"cards[{i}].seconds")
    match_colour = True if match_colour is None else limits.check_flag(match_colour, f"cards[{i}].match_colour")
    chosen = None
    if not blank(keyframe):
        if not keyframes:
            raise ValueError(f"cards[{i}].keyframe names an upload, but no keyframes were uploaded.")
        chosen = keyframes[limits.whole(keyframe, f"cards[{i}].keyframe", 1, len(keyframes)) - 1]
    return Card(prompt, max(4, round(seconds * fps)), keyframe=chosen, match_colour=match_colour)

"""Files from the outside world: only what Gradio received as an upload is opened, and every refusal is one
sentence that names the field (never a server path)."""

from pathlib import Path

from ..engine.storyboard import MAX_CARDS
from ..engine.vace import MAX_REFERENCES
from ..engine.video import Video, load_field

VIDEO_NAMES = {"video": "video", "video_a": "first clip", "video_b": "second clip"}  # request field -> what users see


def blank(value) -> bool:
    """No value: None, "" or NaN (an empty cell of the Space's table, as the page sends it)."""
    return value is None or value == "" or (isinstance(value, float) and value != value)


def upload(path, name: str = "video") -> Video:
    """An uploaded file as a Video: no URLs, and messages without server paths."""
    if not path:
        raise ValueError(f"{name}: please upload a file.")
    if not isinstance(path, (str, Path)) or "://" in str(path):
        raise ValueError(f"{name} must be an uploaded file, not a URL.")
    return load_field(path, name)


def references(paths) -> tuple[Video, ...]:
    """Uploaded reference images (one to three); a single path counts as one."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if len(paths) > MAX_REFERENCES:
        raise ValueError(f"reference_images takes at most {MAX_REFERENCES} images; got {len(paths)}.")
    return tuple(upload(path, "reference image") for path in paths)


def keyframes(paths) -> tuple[Video, ...]:
    """The storyboard's uploaded keyframes (images or clips), in order."""
    if paths is None:
        return ()
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if len(paths) > MAX_CARDS:
        raise ValueError(f"keyframes takes at most {MAX_CARDS} files, one a card; got {len(paths)}.")
    return tuple(upload(path, f"keyframes[{j + 1}]") for j, path in enumerate(paths))

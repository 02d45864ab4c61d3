"""Every example the page shows makes what it says on the bundled model: each is made as a visitor would make it
(through its tab's endpoint at the defaults) and read back with the toy world's detector on the frames its prompt
made (an extension's new frames, a story card's span). Transitions and loops are left to `evaluate`'s seams: their
prompts name only what connects."""

import re

import pytest

import app
from sora_core import SoraPipeline, Video
from sora_core.engine.limits import default_seconds
from sora_core.serving.endpoints import make_endpoints
from sora_core.toyworld import detector
from sora_core.toyworld import world as tw


def asked(prompt: str) -> dict[str, str]:
    """What a prompt names, by the detector's fields."""
    words = prompt.lower()
    named = {}
    for field, names in (("color", tw.COLORS), ("shape", tw.SHAPES), ("motion", tw.MOTIONS)):
        found = [name for name in names if re.search(rf"\b{name}\b", words)]
        if found:
            named[field] = found[0]
    background = re.search(r"on an? (\w+) background", words)
    if background:
        named["background"] = background.group(1)
    return named


def misread(frames, prompt: str, where: str) -> list[str]:
    """One line per word of `prompt` the frames (T, H, W, 3) do not show."""
    reading = detector.read(frames)
    return [
        f"{where}: {prompt!r} asked {field} {want!r}, made {getattr(reading, field)!r}"
        for field, want in asked(prompt).items()
        if getattr(reading, field) != want
    ]


def story_misreads(story: Video, where: str) -> list[str]:
    return [
        line
        for card in story.metadata["cards"]
        for line in misread(story.frames[card["start"] : card["end"]], card["prompt"], f"{where} card")
    ]


@pytest.fixture(scope="module")
def pipe():
    return SoraPipeline.from_pretrained("sora-tiny", device="cpu")


@pytest.mark.slow
def test_the_page_s_examples_make_what_they_say(pipe):
    api, wrong = make_endpoints(pipe), []
    for prompt in app.GENERATE_EXAMPLES:
        wrong += misread(Video.load(api.generate(prompt=prompt)[0]).frames, prompt, "Generate")
    for source, prompt in app.EXTEND_EXAMPLES:
        result = Video.load(api.extend(video=source, prompt=prompt)[0])  # forward: new frames after the source's
        wrong += misread(result.frames[len(Video.load(source).frames) :], prompt, "Extend")
    for source, prompt in app.RESTYLE_EXAMPLES:
        wrong += misread(Video.load(api.restyle(video=source, prompt=prompt)[0]).frames, prompt, "Restyle")
    seconds = default_seconds(pipe.preset.fps, pipe.preset.num_frames)[0]  # each card's, as the page starts
    story = api.storyboard(cards=[{"prompt": prompt, "seconds": seconds} for prompt in app.STORY_PROMPTS])[0]
    wrong += story_misreads(Video.load(story), "Storyboard")
    assert not wrong, "\n".join(wrong)

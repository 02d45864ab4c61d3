"""The Space's public API: one named function per task, whose parameters, defaults and docstring are what
`gradio_client`, `view_api()` and the MCP tool list show. Each passes its parameters by name to the GPU runner
(`gpu_runner.py`), which checks them with the engine's rules, runs the request on the GPU and returns the media
file, the seed and the prompt used. A parameter left out or None uses the model's default.
"""

import inspect
from types import SimpleNamespace

import gradio as gr

from ..engine.limits import default_seconds
from ..engine.pipeline import SoraPipeline
from .gpu_runner import CALLBACKS, GpuRunner

ARGS = {
    "prompt": 'What the result shows, e.g. "a red ball bouncing on a black background".',
    "negative_prompt": "What the result should not show.",
    "seconds": "Duration in seconds; 0 gives a single frame.",
    "steps": "Denoising steps; more is slower and finer.",
    "guidance": "Classifier-free guidance scale; higher follows the prompt more closely.",
    "seed": "Random seed; the same seed and settings give the same result.",
    "init_strength": "Left out (None): the model's own seam setting (1 going forward; where new frames lead into the "
    "source, the checkpoint's). Otherwise a number in (0, 1]: below 1, new frames start from the nearest source "
    "frame carried along the source's motion, noised to this level: smoother seams, freer motion nearer 1.",
    "enhance": "Rewrite the prompt into a detailed caption first. Off by default, so that an API call and the "
    "Python API give the same result for the same seed.",
    "video": "The video or image to work on.",
    "video_a": "The first clip.",
    "video_b": "The second clip.",
    "direction": '"forward" adds frames after the source, "backward" before it.',
    "strength": "How far to move from the input: 0 keeps it, 1 ignores it.",
    "cards": 'The story: a list of {"prompt": ..., "seconds": ...} objects, one a card, in order (a minute at most). '
    'A card may add "keyframe": N, to end on the N-th file of `keyframes` (1 = the first), and "match_colour": false, '
    "to let its prompt change the story's colours.",
    "keyframes": 'Images or clips that cards end on (a card\'s "keyframe" names one by its place, 1 = the first); '
    "each is kept exactly in the story.",
    "match_colour": "Give the new frames the colours of the source frames beside the seam (on by default); off lets "
    "the prompt change colours.",
    "reroll": "Make only this card again (0 is the first card), with `seed`, keeping every other frame of `previous` "
    "exactly. Left out: make the whole story.",
    "previous": "The storyboard video whose card `reroll` makes again (its metadata lists the cards' frames).",
    "fast": "Fast mode: step caching, bfloat16 where the hardware has it and, on Wan models, a step-distilled LoRA "
    "(fewer steps, no guidance). Off by default, so that an API call is reproducible against diffusers.",
    "reference_images": "One to three images of a subject or a style to follow (VACE models only, such as "
    "wan2.1-vace-1.3b).",
}


def parameters(endpoint) -> list[str]:
    """An endpoint's request parameters, by name (its callbacks left out)."""
    return [name for name in inspect.signature(endpoint).parameters if name not in CALLBACKS]


def documented(summary: str, **own):
    """Give an endpoint a docstring with an Args section, which view_api() and the MCP tool list show."""

    def decorate(function):
        lines = [f"    {name}: {own.get(name) or ARGS[name]}" for name in parameters(function)]
        function.__doc__ = summary + "\n\nArgs:\n" + "\n".join(lines)
        return function

    return decorate


# ------------------------------------------------------------------ the public API (named endpoints)
# Each endpoint's signature is its API: names, types, defaults and the docstring's Args are what clients see. The
# signatures are written as data: each task's own parameters, then the settings every task shares.


def endpoint(server: GpuRunner, task: str, summary: str, own: list[tuple], added: list[tuple] = (), **docs):
    """A named endpoint for `task`: `own` parameters as (name, type, default) (default `REQUIRED`: none), then
    the shared settings at the model's defaults (the negative prompt unless `own` placed it), then the callbacks.
    `added`: parameters that came later, after the shared ones, so that no earlier position moves; `fast`, the
    newest, comes last everywhere. Arguments reach `GpuRunner.serve` by name."""
    p = server.preset
    placed = {name for name, _, _ in own}
    shared = [("negative_prompt", str, p.negative_prompt)] if "negative_prompt" not in placed else []
    shared += [
        ("steps", int, p.steps),
        ("guidance", float, server.pipe.grid.default_guidance(image=task == "image")),
        ("seed", int, 0),
        ("enhance", bool, False),
    ]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    listed = [
        inspect.Parameter(name, kind, default=default, annotation=kind_of)
        for name, kind_of, default in [*own, *shared, *added, ("fast", bool, False)]
    ]
    listed += [
        inspect.Parameter("stop", kind, default=None),
        inspect.Parameter("progress", kind, default=gr.Progress()),
    ]
    signature = inspect.Signature(listed)

    def call(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return server.serve(task, dict(bound.arguments))

    call.__name__ = call.__qualname__ = task
    call.__signature__ = signature
    call.__annotations__ = {parameter.name: parameter.annotation for parameter in listed[:-2]}
    return documented(summary, **docs)(call)


REQUIRED = inspect.Parameter.empty
TEXT = [("prompt", str, REQUIRED)]


def make_endpoints(pipe: SoraPipeline, threads: int = 0) -> SimpleNamespace:
    """The seven endpoints for `pipe`, and the `jobs` that check their requests; `threads` as GpuRunner takes it."""
    server = GpuRunner(pipe, threads)
    p = server.preset
    clip_seconds, add_seconds = default_seconds(p.fps, p.num_frames)
    # The order of each signature is the API's positional order: unchanged since the first release.
    head = TEXT + [("negative_prompt", str, p.negative_prompt), ("height", int, p.height), ("width", int, p.width)]
    seam = [("init_strength", float | None, None)]
    colours = [("match_colour", bool, True)]
    references = [("reference_images", list[str] | None, None)]
    bridge = "Bridge length in seconds (more than 0; whole latent frames)."
    stride = pipe.spatial_stride  # the checkpoint's pixels a token side: 16 on Wan2.1, 32 on Wan2.2-TI2V
    sizes = dict(height=f"Height in pixels, a multiple of {stride}.", width=f"Width in pixels, a multiple of {stride}.")
    return SimpleNamespace(
        jobs=server.jobs,
        generate=endpoint(
            server,
            "generate",
            "Generate a video from a text prompt.",
            head + [("seconds", float, clip_seconds)],
            references,
            **sizes,
        ),
        image=endpoint(server, "image", "Generate an image (a one-frame video) from a text prompt.", head, **sizes),
        extend=endpoint(
            server,
            "extend",
            "Extend a video, or animate an image, forward or backward in time; the source frames are kept exactly.",
            [("video", str, REQUIRED), *TEXT, ("direction", str, "forward"), ("seconds", float, add_seconds), *seam],
            colours + references,
            seconds="About how many seconds to add (more than 0; whole latent frames).",
        ),
        transition=endpoint(
            server,
            "transition",
            "Connect two videos: clip A, generated bridge frames, then clip B.",
            [("video_a", str, REQUIRED), ("video_b", str, REQUIRED), *TEXT, ("seconds", float, add_seconds), *seam],
            colours,
            seconds=bridge,
        ),
        loop=endpoint(
            server,
            "loop",
            "Make a video loop seamlessly: the video, then bridge frames from its end back to its start.",
            [("video", str, REQUIRED), *TEXT, ("seconds", float, add_seconds), *seam],
            colours,
            seconds=bridge,
        ),
        storyboard=endpoint(
            server,
            "storyboard",
            "Make one video from several cards along a timeline (up to a minute): the first card is generated, "
            "each next one continues the story with its own prompt.",
            [("cards", list[dict], REQUIRED)],
            [("reroll", int | None, None), ("previous", str | None, None), ("keyframes", list[str] | None, None)],
        ),
        restyle=endpoint(
            server,
            "restyle",
            "Restyle a video with a new prompt (SDEdit); the result has the input's length and size.",
            [("video", str, REQUIRED), *TEXT, ("strength", float, p.restyle_strength)],
        ),
    )

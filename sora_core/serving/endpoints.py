"""The Space's public API: one named function per task, whose parameters, defaults and docstring are what
`gradio_client`, `view_api()` and the MCP tool list show. Each passes its parameters by name to the service
(`service.py`), which checks them with the engine's rules, runs the request on the GPU (ZeroGPU's `spaces.GPU` for
the seconds the request needs; a no-op elsewhere) and returns the media file, the seed and the prompt used. Every
failure reaches the user as one plain sentence (`gr.Error`). A parameter left out or None uses the model's default.
"""

import inspect
import logging
import threading
import time
from functools import partial
from types import SimpleNamespace

import gradio as gr
import torch

from ..engine.pipeline import SoraPipeline
from ..engine.workflows import DEFAULT_STRENGTH
from .budget import GPU_ENHANCE_SECONDS, GPU_LOAD_SECONDS
from .enhance import enhance_prompt
from .service import Job, Service

try:  # ZeroGPU on a Space; locally the decorator does nothing
    import spaces
except ImportError:  # pragma: no cover
    spaces = None

log = logging.getLogger("sora_space")

ARGS = {
    "prompt": 'What the result shows, e.g. "a red ball bouncing on a black background".',
    "negative_prompt": "What the result should not show.",
    "height": "Height in pixels, a multiple of 16.",
    "width": "Width in pixels, a multiple of 16.",
    "seconds": "Duration in seconds; 0 gives a single frame.",
    "steps": "Denoising steps; more is slower and finer.",
    "guidance": "Classifier-free guidance scale; higher follows the prompt more closely.",
    "seed": "Random seed; the same seed and settings give the same result.",
    "init_strength": "Left out (None): the model's own seam setting (1 going forward; where new frames lead into the "
    "source, the checkpoint's). Otherwise a number in (0, 1]: below 1, new frames start from copies of the nearest "
    "source frame noised to this level: smoother seams, less motion.",
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
CALLBACKS = ("stop", "progress")  # what an endpoint takes besides its request's parameters
# A story's enhancement call, when it has one of its own (a story too long for one GPU call).
ENHANCE_SECONDS = int(GPU_LOAD_SECONDS + GPU_ENHANCE_SECONDS)


def gpu(function):
    """Run on ZeroGPU for the seconds the call's first argument asks for; a no-op off Spaces."""
    if spaces is None:
        return function
    return spaces.GPU(duration=lambda budget, *args, **kwargs: budget)(function)


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


class Server:
    """Checks, runs and saves one endpoint call; every failure becomes one plain sentence."""

    def __init__(self, pipe: SoraPipeline):
        self.pipe, self.preset, self.service = pipe, pipe.preset, Service(pipe)
        self.run_on_gpu = gpu(self.run)
        # One request samples at a time: Gradio runs different tabs' events (and API calls) concurrently, and they
        # share one model, whose fast mode puts a step cache on the transformer for the length of a call.
        self.busy = threading.Lock()
        # A story too long for one GPU call runs here, with one call per segment (and one for the enhancement).
        self.sample_on_gpu, self.enhance_on_gpu = gpu(self.sample), gpu(self.enhance)

    def run(self, budget: int, job: Job, progress, stop: dict, split: bool = False):
        """The GPU call: prompt enhancement (when asked) and sampling; returns (video, the prompts used: a story's
        are its cards', shown joined by " / "). With `split`
        (a story's `segment_seconds`), this runs outside any GPU call and each sampling window gets its own."""
        started = time.time()

        def report(step, total):
            left = (time.time() - started) / step * (total - step)
            progress((step, total), desc=f"Denoising, about {left:.0f} s left", unit="steps")

        prompts = job.prompts
        if job.enhance:
            enhance = self.enhance_on_gpu if split else self.enhance
            prompts = enhance(ENHANCE_SECONDS, prompts, job.seed, progress)
        sample = partial(self.sample_on_gpu, job.segment_seconds) if split else None
        stop_asked = lambda: stop.get("stop", False)  # noqa: E731
        video = job.run(self.pipe, prompts, progress=report, should_stop=stop_asked, sample=sample)
        return video, " / ".join(prompts)

    def enhance(self, budget: int, prompts: tuple[str, ...], seed: int, progress) -> tuple[str, ...]:
        """The prompts rewritten, each alone (a storyboard's are its cards')."""
        progress(0, desc="Enhancing the prompt")
        device = str(self.pipe.device)
        return tuple(enhance_prompt(prompt, self.preset, seed, device=device) for prompt in prompts)

    def sample(self, budget: int, plan, progress, should_stop):
        """One sampling window (a story's segment) in its own GPU call of `budget` seconds."""
        return self.pipe.sample(plan, progress, should_stop)

    def serve(self, task: str, arguments: dict):
        """An endpoint's `locals()` -> (file, seed, prompt used). Only its documented parameters are passed on
        (locals() also holds the closure's `server`)."""
        progress, stop = arguments["progress"], arguments["stop"]
        arguments = {name: value for name, value in arguments.items() if name in ARGS}
        stop = stop if isinstance(stop, dict) else {}
        try:
            job = self.service.job(task, arguments)
            with self.busy:
                stop["stop"] = False
                if job.segment_seconds:
                    video, prompt_used = self.run(0, job, progress, stop, split=True)
                else:
                    video, prompt_used = self.run_on_gpu(job.gpu_seconds, job, progress, stop)
            return self.service.save(video), job.seed, prompt_used
        except InterruptedError:
            raise gr.Error("Stopped.", print_exception=False) from None
        except torch.OutOfMemoryError:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise gr.Error("The server ran out of memory; try a shorter or smaller video.") from None
        except (ValueError, TypeError, FloatingPointError) as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception:
            log.exception("request failed")
            raise gr.Error("Something went wrong on the server; please try again.") from None


def default_seconds(preset) -> tuple[float, float]:
    """A generated clip's default length, and the default length of what extend / transition / loop add."""
    clip_seconds = round((preset.num_frames - 1) / preset.fps, 2)
    return clip_seconds, round(clip_seconds / 2, 2)


# ------------------------------------------------------------------ the public API (named endpoints)
# Each endpoint's signature is its API: names, types, defaults and the docstring's Args are what clients see. The
# signatures are written as data: each task's own parameters, then the settings every task shares.


def endpoint(server: Server, task: str, summary: str, own: list[tuple], added: list[tuple] = (), **docs):
    """A named endpoint for `task`: `own` parameters as (name, type, default) (default `REQUIRED`: none), then
    the shared settings at the model's defaults (the negative prompt unless `own` placed it), then the callbacks.
    `added`: parameters that came later, after the shared ones, so that no earlier position moves; `fast`, the
    newest, comes last everywhere. Arguments reach `Server.serve` by name."""
    p = server.preset
    placed = {name for name, _, _ in own}
    shared = [("negative_prompt", str, p.negative_prompt)] if "negative_prompt" not in placed else []
    shared += [
        ("steps", int, p.steps),
        ("guidance", float, p.guidance),
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


def make_endpoints(pipe: SoraPipeline) -> SimpleNamespace:
    """generate, image, extend, transition, loop and restyle for `pipe`, and the `service` that checks requests."""
    server = Server(pipe)
    p = server.preset
    clip_seconds, add_seconds = default_seconds(p)
    # The order of each signature is the API's positional order: unchanged since the first release.
    head = TEXT + [("negative_prompt", str, p.negative_prompt), ("height", int, p.height), ("width", int, p.width)]
    seam = [("init_strength", float | None, None)]
    colours = [("match_colour", bool, True)]
    references = [("reference_images", list[str] | None, None)]
    bridge = "Bridge length in seconds."
    return SimpleNamespace(
        service=server.service,
        generate=endpoint(
            server,
            "generate",
            "Generate a video from a text prompt.",
            head + [("seconds", float, clip_seconds)],
            references,
        ),
        image=endpoint(server, "image", "Generate an image (a one-frame video) from a text prompt.", head),
        extend=endpoint(
            server,
            "extend",
            "Extend a video, or animate an image, forward or backward in time; the source frames are kept exactly.",
            [("video", str, REQUIRED), *TEXT, ("direction", str, "forward"), ("seconds", float, add_seconds), *seam],
            colours + references,
            seconds="About how many seconds to add.",
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
            [("video", str, REQUIRED), *TEXT, ("strength", float, DEFAULT_STRENGTH)],
        ),
    )

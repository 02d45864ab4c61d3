"""The Space's public API: one named function per task, whose parameters, defaults and docstring are what
`gradio_client`, `view_api()` and the MCP tool list show. Each checks its request (`sora_core.service`), runs it
on the GPU (ZeroGPU's `spaces.GPU` for the seconds the request needs; a no-op elsewhere) and returns the media
file, the seed and the prompt used. Every failure reaches the user as one plain sentence (`gr.Error`).
"""

import logging
import time
from types import SimpleNamespace

import gradio as gr
import torch

from sora_core import SoraPipeline, enhance_prompt
from sora_core.service import Service
from sora_core.workflows import DEFAULT_STRENGTH

try:  # ZeroGPU on a Space; locally the decorator does nothing
    import spaces
except ImportError:  # pragma: no cover
    spaces = None

log = logging.getLogger("sora_space")


def gpu(function):
    """Run on ZeroGPU for the seconds the call's first argument asks for; a no-op off Spaces."""
    if spaces is None:
        return function
    return spaces.GPU(duration=lambda budget, *args, **kwargs: budget)(function)


ARGS = {
    "prompt": 'What the result shows, e.g. "a red ball bouncing on a black background".',
    "negative_prompt": "What the result should not show.",
    "height": "Height in pixels, a multiple of 16.",
    "width": "Width in pixels, a multiple of 16.",
    "steps": "Denoising steps; more is slower and finer.",
    "guidance": "Classifier-free guidance scale; higher follows the prompt more closely.",
    "seed": "Random seed; the same seed and settings give the same result.",
    "init_strength": "0 (the default): the model's own seam setting (1 going forward; where new frames lead into "
    "the source, the checkpoint's). Otherwise, below 1, new frames start from copies of the nearest source frame "
    "noised to this level: smoother seams, less motion.",
    "enhance": "Rewrite the prompt into a detailed caption first. Off by default, so that an API call and the "
    "Python API give the same result for the same seed.",
}


REQUEST_FIELDS = {
    "prompt",
    "negative_prompt",
    "height",
    "width",
    "seconds",
    "steps",
    "guidance",
    "seed",
    "enhance",
    "direction",
    "strength",
    "init_strength",
    "video",
    "video_a",
    "video_b",
}


def documented(summary: str, **own):
    """Give an endpoint a docstring with an Args section, which view_api() and the MCP tool list show."""

    def decorate(function):
        names = [n for n in function.__code__.co_varnames[: function.__code__.co_argcount] if n in {**ARGS, **own}]
        lines = [f"    {name}: {own.get(name) or ARGS[name]}" for name in names]
        function.__doc__ = summary + "\n\nArgs:\n" + "\n".join(lines)
        return function

    return decorate


def make_endpoints(pipe: SoraPipeline) -> SimpleNamespace:
    """generate, image, extend, transition, loop and restyle for `pipe`, and the `service` that checks requests."""
    preset, service = pipe.preset, Service(pipe)
    clip_seconds, add_seconds = default_seconds(preset)
    negative = preset.negative_prompt

    @gpu
    def run(budget: int, request, progress, stop: dict):
        """The GPU call: prompt enhancement (when asked) and sampling; returns (video, prompt used)."""
        started = time.time()

        def report(step, total):
            left = (time.time() - started) / step * (total - step)
            progress((step, total), desc=f"Denoising, about {left:.0f} s left", unit="steps")

        prompt = request.prompt
        if request.enhance:
            progress(0, desc="Enhancing the prompt")
            prompt = enhance_prompt(prompt, preset, request.seed, device=str(pipe.device))
        video = request.run(pipe, prompt, progress=report, should_stop=lambda: stop.get("stop", False))
        return video, prompt

    def serve(task: str, arguments: dict):
        """Check, run on the GPU, save: (file, seed, prompt used). Every failure is one plain sentence."""
        progress, stop = arguments["progress"], arguments["stop"]
        # locals() of an endpoint: its parameters, plus the closure names it uses, which are dropped here
        arguments = {name: value for name, value in arguments.items() if name in REQUEST_FIELDS}
        stop = stop if isinstance(stop, dict) else {}
        sources = tuple(arguments.pop(name) for name in ("video", "video_a", "video_b") if name in arguments)
        try:
            request = service.request(task, sources=sources, **arguments)
            stop["stop"] = False
            video, prompt_used = run(request.gpu_seconds, request, progress, stop)
            return service.save(video), request.seed, prompt_used
        except InterruptedError:
            raise gr.Error("Stopped.") from None
        except torch.OutOfMemoryError:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise gr.Error("The server ran out of memory; try a shorter or smaller video.") from None
        except (ValueError, FloatingPointError) as error:
            raise gr.Error(str(error)) from None
        except Exception:
            log.exception("request failed")
            raise gr.Error("Something went wrong on the server; please try again.") from None

    # ------------------------------------------------------------------ the public API (named endpoints)
    # Each endpoint's parameters are its API: names, defaults and the docstring's Args are what clients see.
    @documented("Generate a video from a text prompt.", seconds="Duration in seconds; 0 gives a single frame.")
    def generate(
        prompt: str,
        negative_prompt: str = negative,
        height: int = preset.height,
        width: int = preset.width,
        seconds: float = clip_seconds,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        enhance: bool = False,
        stop=None,
        progress=gr.Progress(),
    ):
        return serve("generate", locals())

    @documented("Generate an image (a one-frame video) from a text prompt.")
    def image(
        prompt: str,
        negative_prompt: str = negative,
        height: int = preset.height,
        width: int = preset.width,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        enhance: bool = False,
        stop=None,
        progress=gr.Progress(),
    ):
        return serve("image", locals())

    @documented(
        "Extend a video, or animate an image, forward or backward in time; the source frames are kept exactly.",
        video="The video or image to extend.",
        direction='"forward" adds frames after the source, "backward" before it.',
        seconds="About how many seconds to add.",
    )
    def extend(
        video: str,
        prompt: str,
        direction: str = "forward",
        seconds: float = add_seconds,
        init_strength: float = 0.0,
        negative_prompt: str = negative,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        enhance: bool = False,
        stop=None,
        progress=gr.Progress(),
    ):
        return serve("extend", locals())

    @documented(
        "Connect two videos: clip A, generated bridge frames, then clip B.",
        video_a="The first clip.",
        video_b="The second clip.",
        seconds="About how long the bridge lasts.",
    )
    def transition(
        video_a: str,
        video_b: str,
        prompt: str,
        seconds: float = add_seconds,
        init_strength: float = 0.0,
        negative_prompt: str = negative,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        enhance: bool = False,
        stop=None,
        progress=gr.Progress(),
    ):
        return serve("transition", locals())

    @documented(
        "Make a video loop seamlessly: the video, then bridge frames from its end back to its start.",
        video="The clip to loop.",
        seconds="About how long the bridge lasts.",
    )
    def loop(
        video: str,
        prompt: str,
        seconds: float = add_seconds,
        init_strength: float = 0.0,
        negative_prompt: str = negative,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        enhance: bool = False,
        stop=None,
        progress=gr.Progress(),
    ):
        return serve("loop", locals())

    @documented(
        "Restyle a video with a new prompt (SDEdit); the result has the input's length and size.",
        video="The video to restyle.",
        strength="How far to move from the input: 0 keeps it, 1 ignores it.",
    )
    def restyle(
        video: str,
        prompt: str,
        strength: float = DEFAULT_STRENGTH,
        negative_prompt: str = negative,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        enhance: bool = False,
        stop=None,
        progress=gr.Progress(),
    ):
        return serve("restyle", locals())

    return SimpleNamespace(
        service=service,
        generate=generate,
        image=image,
        extend=extend,
        transition=transition,
        loop=loop,
        restyle=restyle,
    )


def default_seconds(preset) -> tuple[float, float]:
    """A generated clip's default length, and the default length of what extend / transition / loop add."""
    clip_seconds = round((preset.num_frames - 1) / preset.fps, 2)
    return clip_seconds, round(clip_seconds / 2, 2)

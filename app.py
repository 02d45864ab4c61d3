"""Sora Space: the Gradio app. It only wires the UI and the API to `sora_core`.

    python app.py [--model NAME]      (or SORA_MODEL=NAME; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT as usual)

API endpoints (gradio_client): /generate, /image, /extend, /transition, /loop, /restyle. Each returns the
media file first, then the seed and the prompt that were used.
"""

import argparse
import logging
import os
import random
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import torch

from sora_core import ModelLoadError, SoraPipeline, enhance_prompt, limits, toyworld
from sora_core.enhance import rewrite_for_toyworld
from sora_core.presets import DEFAULT_PRESET
from sora_core.service import MAX_SEED, MAX_STEPS, Service
from sora_core.workflows import DEFAULT_STRENGTH

try:  # ZeroGPU on a Space; locally the decorator does nothing
    import spaces
except ImportError:  # pragma: no cover
    spaces = None

log = logging.getLogger("sora_space")
EXAMPLES = Path(__file__).resolve().parent / "assets" / "examples"
DISCLAIMER = (
    "Sora Space is an independent open implementation of the recipe in OpenAI's Sora technical report. "
    "It is not affiliated with, endorsed by or connected to OpenAI."
)
# Small clips are scaled up with crisp pixels, never smoothed into a blur.
CSS = ".sora-media video, .sora-media img { image-rendering: pixelated; max-height: 384px; object-fit: contain; }"
MAX_UPLOAD = "50mb"


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


def create_demo(pipe: SoraPipeline) -> gr.Blocks:
    preset, service = pipe.preset, Service(pipe)
    sizes = limits.size_choices(preset, pipe.spatial_stride)
    longest = limits.max_seconds(preset)
    clip_seconds = round((preset.num_frames - 1) / preset.fps, 2)
    add_seconds = round(clip_seconds / 2, 2)
    block = 4 / preset.fps  # seconds in one latent frame
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

    # ------------------------------------------------------------------ the page
    def vocabulary_note() -> str:
        if preset.enhancer != "toyworld":
            return ""
        words = "; ".join(f"{kind}: {', '.join(values)}" for kind, values in toyworld.VOCABULARY.items())
        return f"This model knows a toy world. {words}. The prompt enhancer maps other wording onto these words."

    def unplaced_note(prompt, enhance) -> str:
        if preset.enhancer != "toyworld" or not enhance or not isinstance(prompt, str):
            return ""
        unplaced = rewrite_for_toyworld(prompt).unplaced
        return f"Words the enhancer could not place: {', '.join(unplaced)}" if unplaced else ""

    def controls(prompt_label="Prompt"):
        """The controls every tab shares; the tab's own inputs go in between by the caller."""
        tab = SimpleNamespace()
        tab.prompt = gr.Textbox(
            label=prompt_label,
            lines=2,
            max_length=limits.MAX_PROMPT_CHARS,
            placeholder="a red ball bouncing on a black background",
        )
        tab.enhance = gr.Checkbox(True, label="Enhance prompt")
        note = vocabulary_note()
        if note:
            gr.Markdown(note)
        return tab

    def advanced(tab):
        with gr.Accordion("Advanced", open=False):
            tab.negative = gr.Textbox(negative, label="Negative prompt", max_length=limits.MAX_PROMPT_CHARS)
            tab.steps = gr.Slider(1, MAX_STEPS, value=preset.steps, step=1, label="Steps")
            tab.guidance = gr.Slider(0, 20, value=preset.guidance, step=0.5, label="Guidance")
            with gr.Row():
                tab.seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED)
                tab.randomize = gr.Checkbox(True, label="Randomise seed")
        with gr.Row():
            tab.run, tab.stop = gr.Button(tab.label, variant="primary"), gr.Button("Stop", variant="stop")

    def results(tab):
        tab.out = gr.Video(label="Result", elem_classes="sora-media", format="mp4", buttons=["download"])
        with gr.Row():
            tab.seed_used = gr.Number(label="Seed used", interactive=False)
            tab.prompt_used = gr.Textbox(label="Prompt used", interactive=False)
        tab.note = gr.Markdown()

    def upload(label):
        return gr.File(label=label, file_types=["video", "image"], type="filepath")

    def clip(name):
        return str(EXAMPLES / name)

    with gr.Blocks(title="Sora Space", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(
            f"# Sora Space\nText to video and image, image to video, extension forward and backward, "
            f"transitions, loops and restyling, all from one model: **{preset.name}** "
            f"({preset.fps:g} fps).\n\n*{DISCLAIMER}*" + (f"\n\n**Note:** {preset.notice}" if preset.notice else "")
        )
        stop_flag, last_result, history = gr.State({}), gr.State(None), gr.State([])
        api_enhance = gr.Checkbox(False, visible=False)  # the API's default: off, unlike the UI's
        with gr.Tabs() as tabs:
            with gr.Tab("Generate", id="generate"):
                with gr.Row():
                    with gr.Column():
                        g = controls()
                        g.label = "Generate"
                        g.size = gr.Dropdown(list(sizes), value=next(iter(sizes)), label="Size (width × height)")
                        g.seconds = gr.Slider(
                            0, longest, value=clip_seconds, step=block, label="Duration in seconds (0 gives an image)"
                        )
                        with gr.Row(visible=False):
                            g.height = gr.Number(preset.height, label="Height", precision=0)
                            g.width = gr.Number(preset.width, label="Width", precision=0)
                        advanced(g)
                    with gr.Column():
                        results(g)
                        g.image = gr.Image(label="Result", elem_classes="sora-media", type="filepath", visible=False)
                gr.Examples(
                    [["a red ball bouncing on a black background"], ["a blue square moving left on a gray background"]],
                    inputs=[g.prompt],
                    outputs=[g.out, g.seed_used, g.prompt_used],
                    fn=generate,
                    cache_examples=True,
                    cache_mode="lazy",
                )
            with gr.Tab("Extend", id="extend"):
                with gr.Row():
                    with gr.Column():
                        e_video = upload("Video or image")
                        e = controls()
                        e.label = "Extend"
                        e.direction = gr.Radio(["forward", "backward"], value="forward", label="Direction")
                        e.seconds = gr.Slider(block, longest / 2, value=add_seconds, step=block, label="Seconds to add")
                        advanced(e)
                    with gr.Column():
                        results(e)
                gr.Examples(
                    [
                        [clip("red_ball_right.mp4"), "a red ball moving right on a black background"],
                        [clip("green_triangle.png"), "a green triangle moving down on a white background"],
                    ],
                    inputs=[e_video, e.prompt],
                    outputs=[e.out, e.seed_used, e.prompt_used],
                    fn=extend,
                    cache_examples=True,
                    cache_mode="lazy",
                )
            with gr.Tab("Transition", id="transition"):
                with gr.Row():
                    with gr.Column():
                        t_loop = gr.Checkbox(False, label="Loop: one clip, its end joined back to its start")
                        with gr.Row():
                            t_a, t_b = upload("Clip A"), upload("Clip B")
                        t = controls()
                        t.label = "Connect"
                        t.seconds = gr.Slider(
                            block, longest / 2, value=add_seconds, step=block, label="Bridge length in seconds"
                        )
                        advanced(t)
                    with gr.Column():
                        results(t)
                gr.Examples(
                    [
                        [
                            clip("red_ball_right.mp4"),
                            clip("blue_square_left.mp4"),
                            "a ball moving right on a black background",
                        ]
                    ],
                    inputs=[t_a, t_b, t.prompt],
                    outputs=[t.out, t.seed_used, t.prompt_used],
                    fn=transition,
                    cache_examples=True,
                    cache_mode="lazy",
                )
            with gr.Tab("Restyle", id="restyle"):
                with gr.Row():
                    with gr.Column():
                        r_video = upload("Video")
                        r = controls("New prompt")
                        r.label = "Restyle"
                        r.strength = gr.Slider(
                            0, 1, value=DEFAULT_STRENGTH, step=0.05, label="Strength (0 keeps the input, 1 ignores it)"
                        )
                        advanced(r)
                    with gr.Column():
                        results(r)
                gr.Examples(
                    [[clip("red_ball_right.mp4"), "a blue ball moving right on a black background"]],
                    inputs=[r_video, r.prompt],
                    outputs=[r.out, r.seed_used, r.prompt_used],
                    fn=restyle,
                    cache_examples=True,
                    cache_mode="lazy",
                )
        with gr.Row():
            send_extend, send_restyle = gr.Button("Extend this", size="sm"), gr.Button("Restyle this", size="sm")
            send_a, send_b = gr.Button("Use as clip A", size="sm"), gr.Button("Use as clip B", size="sm")
        gallery = gr.Gallery(label="This session's results", columns=6, height=220, elem_classes="sora-media")

        # ------------------------------------------------------------------ API endpoints (hidden triggers)
        def shared(tab):
            return [tab.negative, tab.steps, tab.guidance, tab.seed, api_enhance]

        def outputs(tab):
            return [tab.out, tab.seed_used, tab.prompt_used]

        api = gr.Button(visible=False)
        api.click(
            generate,
            [g.prompt, g.negative, g.height, g.width, g.seconds, *shared(g)[1:]],
            outputs(g),
            api_name="generate",
        )
        api.click(
            image,
            [g.prompt, g.negative, g.height, g.width, *shared(g)[1:]],
            [g.image, g.seed_used, g.prompt_used],
            api_name="image",
        )
        api.click(extend, [e_video, e.prompt, e.direction, e.seconds, *shared(e)], outputs(e), api_name="extend")
        api.click(transition, [t_a, t_b, t.prompt, t.seconds, *shared(t)], outputs(t), api_name="transition")
        api.click(loop, [t_a, t.prompt, t.seconds, *shared(t)], outputs(t), api_name="loop")
        api.click(restyle, [r_video, r.prompt, r.strength, *shared(r)], outputs(r), api_name="restyle")

        # ------------------------------------------------------------------ the UI's own events
        def generate_or_image(seconds, height, width, **common):
            if service.frames_for(seconds, plus_one=True) == 1:
                return image(height=height, width=width, **common)
            return generate(seconds=seconds, height=height, width=width, **common)

        def transition_or_loop(is_loop, video_a, video_b, **common):
            if is_loop:
                return loop(video=video_a or video_b, **common)
            return transition(video_a=video_a, video_b=video_b, **common)

        def wire(tab, endpoint, own: dict):
            """A tab's button: the endpoint with the tab's inputs, then the session's history and gallery."""
            inputs = {
                *own.values(),
                tab.prompt,
                tab.negative,
                tab.steps,
                tab.guidance,
                tab.seed,
                tab.randomize,
                tab.enhance,
                stop_flag,
                history,
            }
            outs = [tab.out, tab.seed_used, tab.prompt_used, tab.note, last_result, history, gallery]
            if tab is g:
                outs.append(g.image)

            def handler(data, progress=gr.Progress()):
                seed = random.randint(0, MAX_SEED) if data[tab.randomize] else data[tab.seed]
                try:
                    path, seed, prompt_used = endpoint(
                        prompt=data[tab.prompt],
                        negative_prompt=data[tab.negative],
                        steps=data[tab.steps],
                        guidance=data[tab.guidance],
                        seed=seed,
                        enhance=data[tab.enhance],
                        stop=data[stop_flag],
                        progress=progress,
                        **{name: data[c] for name, c in own.items()},
                    )
                except ValueError as error:
                    raise gr.Error(str(error)) from None
                past = [*data[history], path][-24:]
                update = {
                    tab.out: path,
                    tab.seed_used: seed,
                    tab.prompt_used: prompt_used,
                    last_result: path,
                    tab.note: unplaced_note(data[tab.prompt], data[tab.enhance]),
                    history: past,
                    gallery: past,
                }
                if tab is g:
                    is_image = path.endswith(".png")
                    update[g.out] = gr.update(value=None if is_image else path, visible=not is_image)
                    update[g.image] = gr.update(value=path if is_image else None, visible=is_image)
                return update

            event = tab.run.click(handler, inputs, outs, api_visibility="private")
            tab.stop.click(
                lambda flag: flag.update(stop=True),
                stop_flag,
                None,
                cancels=[event],
                queue=False,
                api_visibility="private",
            )

        wire(g, generate_or_image, {"seconds": g.seconds, "height": g.height, "width": g.width})
        wire(e, extend, {"video": e_video, "direction": e.direction, "seconds": e.seconds})
        wire(t, transition_or_loop, {"is_loop": t_loop, "video_a": t_a, "video_b": t_b, "seconds": t.seconds})
        wire(r, restyle, {"video": r_video, "strength": r.strength})
        g.size.change(lambda size: sizes[size], g.size, [g.height, g.width], api_visibility="private")
        t_loop.change(lambda is_loop: gr.update(visible=not is_loop), t_loop, t_b, api_visibility="private")

        def send(tab_id):
            def to(path):
                if not path:
                    raise gr.Error("Make a video first: there is no result to send yet.")
                return path, gr.Tabs(selected=tab_id)

            return to

        for button, target, tab_id in (
            (send_extend, e_video, "extend"),
            (send_restyle, r_video, "restyle"),
            (send_a, t_a, "transition"),
            (send_b, t_b, "transition"),
        ):
            button.click(send(tab_id), last_result, [target, tabs], api_visibility="private")
    return demo


def default_model() -> str:
    """The Wan preset where a GPU is there to run it (a GPU Space); the bundled model everywhere else."""
    return "wan2.1-t2v-1.3b" if os.environ.get("SPACE_ID") and torch.cuda.is_available() else DEFAULT_PRESET


def main(argv=None):
    parser = argparse.ArgumentParser(description="Sora Space: the Gradio app.")
    parser.add_argument("--model", default=os.environ.get("SORA_MODEL") or default_model())
    parser.add_argument("--force", action="store_true", help="load a model even if it looks too big for memory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        pipe = SoraPipeline.from_pretrained(args.model, force=args.force)
    except ModelLoadError as error:
        raise SystemExit(f"error: {error}") from None
    demo = create_demo(pipe)
    demo.queue(default_concurrency_limit=1, max_size=20)
    try:
        import mcp  # noqa: F401  (installed with the gradio[mcp] extra)

        mcp_server = True
    except ImportError:
        mcp_server = False
    demo.launch(share=False, max_file_size=MAX_UPLOAD, mcp_server=mcp_server, css=CSS, show_error=False)


if __name__ == "__main__":
    main()

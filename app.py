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

import gradio as gr
import torch

from sora_core import ModelLoadError, SoraPipeline, limits
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
        started = time.time()

        def report(step, total):
            left = (time.time() - started) / step * (total - step)
            progress((step, total), desc=f"Denoising, about {left:.0f} s left", unit="steps")

        method = getattr(pipe, request.task)
        return method(*request.args, **request.kwargs, progress=report, should_stop=lambda: stop.get("stop", False))

    def serve(task: str, progress, stop: dict | None, **params):
        """Check, run on the GPU, save: (file, seed, prompt used). Every failure is one plain sentence."""
        stop = stop if isinstance(stop, dict) else {}
        try:
            request = service.request(task, **params)
            stop["stop"] = False
            video = run(request.gpu_seconds, request, progress, stop)
            return service.save(video), request.seed, request.prompt
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
    def generate(
        prompt: str,
        negative_prompt: str = negative,
        height: int = preset.height,
        width: int = preset.width,
        seconds: float = clip_seconds,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        stop=None,
        progress=gr.Progress(),
    ):
        """Generate a video from a text prompt.

        Args:
            prompt: What the video shows, e.g. "a red ball bouncing on a black background".
            negative_prompt: What the video should not show.
            height: Height in pixels, a multiple of 16.
            width: Width in pixels, a multiple of 16.
            seconds: Duration in seconds; 0 gives a single frame.
            steps: Denoising steps; more is slower and finer.
            guidance: Classifier-free guidance scale; higher follows the prompt more closely.
            seed: Random seed; the same seed and settings give the same video.
        """
        return serve(
            "generate",
            progress,
            stop,
            prompt=prompt,
            negative_prompt=negative_prompt,
            height=height,
            width=width,
            seconds=seconds,
            steps=steps,
            guidance=guidance,
            seed=seed,
        )

    def image(
        prompt: str,
        negative_prompt: str = negative,
        height: int = preset.height,
        width: int = preset.width,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        stop=None,
        progress=gr.Progress(),
    ):
        """Generate an image (a one-frame video) from a text prompt.

        Args:
            prompt: What the image shows.
            negative_prompt: What the image should not show.
            height: Height in pixels, a multiple of 16.
            width: Width in pixels, a multiple of 16.
            steps: Denoising steps.
            guidance: Classifier-free guidance scale.
            seed: Random seed.
        """
        return serve(
            "image",
            progress,
            stop,
            prompt=prompt,
            negative_prompt=negative_prompt,
            height=height,
            width=width,
            steps=steps,
            guidance=guidance,
            seed=seed,
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
        stop=None,
        progress=gr.Progress(),
    ):
        """Extend a video, or animate an image, forward or backward in time; the source frames are kept exactly.

        Args:
            video: The video or image to extend.
            prompt: What happens in the new frames.
            direction: "forward" adds frames after the source, "backward" before it.
            seconds: About how many seconds to add.
            negative_prompt: What the new frames should not show.
            steps: Denoising steps.
            guidance: Classifier-free guidance scale.
            seed: Random seed.
        """
        return serve(
            "extend",
            progress,
            stop,
            prompt=prompt,
            sources=(video,),
            direction=direction,
            seconds=seconds,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            seed=seed,
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
        stop=None,
        progress=gr.Progress(),
    ):
        """Connect two videos: clip A, generated bridge frames, then clip B.

        Args:
            video_a: The first clip (video or image).
            video_b: The second clip (video or image).
            prompt: What happens in the bridge.
            seconds: About how long the bridge lasts.
            negative_prompt: What the bridge should not show.
            steps: Denoising steps.
            guidance: Classifier-free guidance scale.
            seed: Random seed.
        """
        return serve(
            "transition",
            progress,
            stop,
            prompt=prompt,
            sources=(video_a, video_b),
            seconds=seconds,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            seed=seed,
        )

    def loop(
        video: str,
        prompt: str,
        seconds: float = add_seconds,
        negative_prompt: str = negative,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        stop=None,
        progress=gr.Progress(),
    ):
        """Make a video loop seamlessly: the video, then bridge frames from its end back to its start.

        Args:
            video: The clip to loop.
            prompt: What happens in the bridge.
            seconds: About how long the bridge lasts.
            negative_prompt: What the bridge should not show.
            steps: Denoising steps.
            guidance: Classifier-free guidance scale.
            seed: Random seed.
        """
        return serve(
            "loop",
            progress,
            stop,
            prompt=prompt,
            sources=(video,),
            seconds=seconds,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            seed=seed,
        )

    def restyle(
        video: str,
        prompt: str,
        strength: float = DEFAULT_STRENGTH,
        negative_prompt: str = negative,
        steps: int = preset.steps,
        guidance: float = preset.guidance,
        seed: int = 0,
        stop=None,
        progress=gr.Progress(),
    ):
        """Restyle a video with a new prompt (SDEdit); the result has the input's length and size.

        Args:
            video: The video to restyle.
            prompt: The new description.
            strength: How far to move from the input: 0 keeps it, 1 ignores it.
            negative_prompt: What the result should not show.
            steps: Denoising steps.
            guidance: Classifier-free guidance scale.
            seed: Random seed.
        """
        return serve(
            "restyle",
            progress,
            stop,
            prompt=prompt,
            sources=(video,),
            strength=strength,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            seed=seed,
        )

    # ------------------------------------------------------------------ the page
    def prompt_box(label="Prompt"):
        return gr.Textbox(
            label=label,
            lines=2,
            max_length=limits.MAX_PROMPT_CHARS,
            placeholder="a red ball bouncing on a black background",
        )

    def advanced():
        with gr.Accordion("Advanced", open=False):
            negative_box = gr.Textbox(negative, label="Negative prompt", max_length=limits.MAX_PROMPT_CHARS)
            steps = gr.Slider(1, MAX_STEPS, value=preset.steps, step=1, label="Steps")
            guidance = gr.Slider(0, 20, value=preset.guidance, step=0.5, label="Guidance")
            with gr.Row():
                seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED)
                randomize = gr.Checkbox(True, label="Randomise seed")
        return negative_box, steps, guidance, seed, randomize

    def buttons(label):
        with gr.Row():
            return gr.Button(label, variant="primary"), gr.Button("Stop", variant="stop")

    def results(kind="video"):
        media = (
            gr.Video(label="Result", elem_classes="sora-media", format="mp4", buttons=["download"])
            if kind == "video"
            else gr.Image(label="Result", elem_classes="sora-media", type="filepath", visible=False)
        )
        return media

    def used():
        with gr.Row():
            return gr.Number(label="Seed used", interactive=False), gr.Textbox(label="Prompt used", interactive=False)

    def upload_box(label):
        return gr.File(label=label, file_types=["video", "image"], type="filepath")

    with gr.Blocks(title="Sora Space", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(
            f"# Sora Space\nText to video and image, image to video, extension forward and backward, "
            f"transitions, loops and restyling, all from one model: **{preset.name}** "
            f"({preset.fps:g} fps).\n\n*{DISCLAIMER}*"
        )
        stop_flag, last_result, history = gr.State({}), gr.State(None), gr.State([])
        with gr.Tabs() as tabs:
            with gr.Tab("Generate", id="generate"):
                with gr.Row():
                    with gr.Column():
                        g_prompt = prompt_box()
                        g_size = gr.Dropdown(list(sizes), value=next(iter(sizes)), label="Size (width × height)")
                        g_seconds = gr.Slider(
                            0, longest, value=clip_seconds, step=block, label="Duration in seconds (0 gives an image)"
                        )
                        g_negative, g_steps, g_guidance, g_seed, g_random = advanced()
                        with gr.Row(visible=False):
                            g_height = gr.Number(preset.height, label="Height", precision=0)
                            g_width = gr.Number(preset.width, label="Width", precision=0)
                        g_run, g_stop = buttons("Generate")
                    with gr.Column():
                        g_video, g_image = results(), results("image")
                        g_seed_used, g_prompt_used = used()
                gr.Examples(
                    [["a red ball bouncing on a black background"], ["a blue square moving left on a gray background"]],
                    inputs=[g_prompt],
                    outputs=[g_video, g_seed_used, g_prompt_used],
                    fn=generate,
                    cache_examples=True,
                    cache_mode="lazy",
                )
            with gr.Tab("Extend", id="extend"):
                with gr.Row():
                    with gr.Column():
                        e_video, e_prompt = upload_box("Video or image"), prompt_box()
                        e_direction = gr.Radio(["forward", "backward"], value="forward", label="Direction")
                        e_seconds = gr.Slider(block, longest / 2, value=add_seconds, step=block, label="Seconds to add")
                        e_negative, e_steps, e_guidance, e_seed, e_random = advanced()
                        e_run, e_stop = buttons("Extend")
                    with gr.Column():
                        e_out = results()
                        e_seed_used, e_prompt_used = used()
                gr.Examples(
                    [
                        [str(EXAMPLES / "red_ball_right.mp4"), "a red ball moving right on a black background"],
                        [str(EXAMPLES / "green_triangle.png"), "a green triangle moving down on a white background"],
                    ],
                    inputs=[e_video, e_prompt],
                    outputs=[e_out, e_seed_used, e_prompt_used],
                    fn=extend,
                    cache_examples=True,
                    cache_mode="lazy",
                )
            with gr.Tab("Transition", id="transition"):
                with gr.Row():
                    with gr.Column():
                        t_loop = gr.Checkbox(False, label="Loop: one clip, its end joined back to its start")
                        with gr.Row():
                            t_a, t_b = upload_box("Clip A"), upload_box("Clip B")
                        t_prompt = prompt_box()
                        t_seconds = gr.Slider(
                            block, longest / 2, value=add_seconds, step=block, label="Bridge length in seconds"
                        )
                        t_negative, t_steps, t_guidance, t_seed, t_random = advanced()
                        t_run, t_stop = buttons("Connect")
                    with gr.Column():
                        t_out = results()
                        t_seed_used, t_prompt_used = used()
                gr.Examples(
                    [
                        [
                            str(EXAMPLES / "red_ball_right.mp4"),
                            str(EXAMPLES / "blue_square_left.mp4"),
                            "a ball moving right on a black background",
                        ]
                    ],
                    inputs=[t_a, t_b, t_prompt],
                    outputs=[t_out, t_seed_used, t_prompt_used],
                    fn=transition,
                    cache_examples=True,
                    cache_mode="lazy",
                )
            with gr.Tab("Restyle", id="restyle"):
                with gr.Row():
                    with gr.Column():
                        r_video, r_prompt = upload_box("Video"), prompt_box("New prompt")
                        r_strength = gr.Slider(
                            0, 1, value=DEFAULT_STRENGTH, step=0.05, label="Strength (0 keeps the input, 1 ignores it)"
                        )
                        r_negative, r_steps, r_guidance, r_seed, r_random = advanced()
                        r_run, r_stop = buttons("Restyle")
                    with gr.Column():
                        r_out = results()
                        r_seed_used, r_prompt_used = used()
                gr.Examples(
                    [[str(EXAMPLES / "red_ball_right.mp4"), "a blue ball moving right on a black background"]],
                    inputs=[r_video, r_prompt],
                    outputs=[r_out, r_seed_used, r_prompt_used],
                    fn=restyle,
                    cache_examples=True,
                    cache_mode="lazy",
                )
        with gr.Row():
            send_extend, send_restyle = gr.Button("Extend this", size="sm"), gr.Button("Restyle this", size="sm")
            send_a, send_b = gr.Button("Use as clip A", size="sm"), gr.Button("Use as clip B", size="sm")
        gallery = gr.Gallery(label="This session's results", columns=6, height=220, elem_classes="sora-media")

        # ------------------------------------------------------------------ API endpoints (hidden triggers)
        api = gr.Button(visible=False)
        g_api = [g_prompt, g_negative, g_height, g_width]
        api.click(
            generate,
            [*g_api, g_seconds, g_steps, g_guidance, g_seed],
            [g_video, g_seed_used, g_prompt_used],
            api_name="generate",
        )
        api.click(image, [*g_api, g_steps, g_guidance, g_seed], [g_image, g_seed_used, g_prompt_used], api_name="image")
        api.click(
            extend,
            [e_video, e_prompt, e_direction, e_seconds, e_negative, e_steps, e_guidance, e_seed],
            [e_out, e_seed_used, e_prompt_used],
            api_name="extend",
        )
        api.click(
            transition,
            [t_a, t_b, t_prompt, t_seconds, t_negative, t_steps, t_guidance, t_seed],
            [t_out, t_seed_used, t_prompt_used],
            api_name="transition",
        )
        api.click(
            loop,
            [t_a, t_prompt, t_seconds, t_negative, t_steps, t_guidance, t_seed],
            [t_out, t_seed_used, t_prompt_used],
            api_name="loop",
        )
        api.click(
            restyle,
            [r_video, r_prompt, r_strength, r_negative, r_steps, r_guidance, r_seed],
            [r_out, r_seed_used, r_prompt_used],
            api_name="restyle",
        )

        # ------------------------------------------------------------------ the UI's own events
        def seed_of(randomize, seed):
            return random.randint(0, MAX_SEED) if randomize else seed

        def kept(result, past):
            past = [*past, result[0]][-24:]
            return (*result, result[0], past, past)

        def ui_generate(
            prompt, negative_prompt, size, seconds, steps, guidance, seed, randomize, stop, past, progress=gr.Progress()
        ):
            height, width = sizes.get(size, (preset.height, preset.width))
            seed = seed_of(randomize, seed)
            try:
                wants_image = service.frames_for(seconds, plus_one=True) == 1
            except ValueError as error:
                raise gr.Error(str(error)) from None
            if wants_image:
                result = image(prompt, negative_prompt, height, width, steps, guidance, seed, stop, progress)
                return gr.update(visible=False), gr.update(value=result[0], visible=True), *kept(result, past)[1:]
            result = generate(prompt, negative_prompt, height, width, seconds, steps, guidance, seed, stop, progress)
            return gr.update(value=result[0], visible=True), gr.update(visible=False), *kept(result, past)[1:]

        def ui_extend(
            video,
            prompt,
            direction,
            seconds,
            negative_prompt,
            steps,
            guidance,
            seed,
            randomize,
            stop,
            past,
            progress=gr.Progress(),
        ):
            seed = seed_of(randomize, seed)
            return kept(
                extend(video, prompt, direction, seconds, negative_prompt, steps, guidance, seed, stop, progress), past
            )

        def ui_transition(
            is_loop,
            video_a,
            video_b,
            prompt,
            seconds,
            negative_prompt,
            steps,
            guidance,
            seed,
            randomize,
            stop,
            past,
            progress=gr.Progress(),
        ):
            seed = seed_of(randomize, seed)
            if is_loop:
                result = loop(
                    video_a or video_b, prompt, seconds, negative_prompt, steps, guidance, seed, stop, progress
                )
            else:
                result = transition(
                    video_a, video_b, prompt, seconds, negative_prompt, steps, guidance, seed, stop, progress
                )
            return kept(result, past)

        def ui_restyle(
            video,
            prompt,
            strength,
            negative_prompt,
            steps,
            guidance,
            seed,
            randomize,
            stop,
            past,
            progress=gr.Progress(),
        ):
            seed = seed_of(randomize, seed)
            return kept(restyle(video, prompt, strength, negative_prompt, steps, guidance, seed, stop, progress), past)

        tail = [stop_flag, history]
        keep_outputs = [last_result, history, gallery]
        private = dict(api_visibility="private")
        events = {
            g_stop: g_run.click(
                ui_generate,
                [g_prompt, g_negative, g_size, g_seconds, g_steps, g_guidance, g_seed, g_random, *tail],
                [g_video, g_image, g_seed_used, g_prompt_used, *keep_outputs],
                **private,
            ),
            e_stop: e_run.click(
                ui_extend,
                [e_video, e_prompt, e_direction, e_seconds, e_negative, e_steps, e_guidance, e_seed, e_random, *tail],
                [e_out, e_seed_used, e_prompt_used, *keep_outputs],
                **private,
            ),
            t_stop: t_run.click(
                ui_transition,
                [t_loop, t_a, t_b, t_prompt, t_seconds, t_negative, t_steps, t_guidance, t_seed, t_random, *tail],
                [t_out, t_seed_used, t_prompt_used, *keep_outputs],
                **private,
            ),
            r_stop: r_run.click(
                ui_restyle,
                [r_video, r_prompt, r_strength, r_negative, r_steps, r_guidance, r_seed, r_random, *tail],
                [r_out, r_seed_used, r_prompt_used, *keep_outputs],
                **private,
            ),
        }
        for stop_button, event in events.items():
            stop_button.click(
                lambda flag: flag.update(stop=True), stop_flag, None, cancels=[event], queue=False, **private
            )
        g_size.change(lambda size: sizes[size], g_size, [g_height, g_width], **private)
        t_loop.change(lambda is_loop: gr.update(visible=not is_loop), t_loop, t_b, **private)

        def send(tab):
            def to(path):
                if not path:
                    raise gr.Error("Make a video first: there is no result to send yet.")
                return path, gr.Tabs(selected=tab)

            return to

        send_extend.click(send("extend"), last_result, [e_video, tabs], **private)
        send_restyle.click(send("restyle"), last_result, [r_video, tabs], **private)
        send_a.click(send("transition"), last_result, [t_a, tabs], **private)
        send_b.click(send("transition"), last_result, [t_b, tabs], **private)
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

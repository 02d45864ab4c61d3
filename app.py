"""Sora Space: the Gradio app. It only wires the page to the API endpoints (`endpoints.py`) and `sora_core`.

    python app.py [--model NAME]      (or SORA_MODEL=NAME; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT as usual)

API endpoints (gradio_client): /generate, /image, /extend, /transition, /loop, /restyle. Each returns the
media file first, then the seed and the prompt that were used.
"""

import argparse
import logging
import os
import random
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import torch

from endpoints import default_seconds, make_endpoints
from sora_core import ModelLoadError, SoraPipeline, limits, toyworld
from sora_core.enhance import rewrite_for_toyworld
from sora_core.presets import DEFAULT_PRESET
from sora_core.service import MAX_SEED, MAX_STEPS
from sora_core.workflows import DEFAULT_STRENGTH

EXAMPLES = Path(__file__).resolve().parent / "assets" / "examples"
DISCLAIMER = (
    "Sora Space is an independent open implementation of the recipe in OpenAI's Sora technical report. "
    "It is not affiliated with, endorsed by or connected to OpenAI."
)
# Small clips are scaled up with crisp pixels, never smoothed into a blur.
CSS = ".sora-media video, .sora-media img { image-rendering: pixelated; max-height: 384px; object-fit: contain; }"
MAX_UPLOAD = "50mb"


def create_demo(pipe: SoraPipeline) -> gr.Blocks:
    preset, api = pipe.preset, make_endpoints(pipe)
    sizes = limits.size_choices(preset, pipe.spatial_stride)
    longest = limits.max_seconds(preset)
    clip_seconds, add_seconds = default_seconds(preset)
    block = 4 / preset.fps  # seconds in one latent frame
    negative = preset.negative_prompt

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

    def advanced(tab, seams=False):
        with gr.Accordion("Advanced", open=False):
            if seams:
                tab.init = gr.Slider(
                    0,
                    1,
                    value=0,
                    step=0.01,
                    label="Seam hold: 0 keeps the model's default; otherwise new frames start from the source at "
                    "this noise level (lower: smoother seams, less motion)",
                )
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
                    fn=api.generate,
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
                        advanced(e, seams=True)
                    with gr.Column():
                        results(e)
                gr.Examples(
                    [
                        [clip("red_ball_right.mp4"), "a red ball moving right on a black background"],
                        [clip("green_triangle.png"), "a green triangle moving down on a white background"],
                    ],
                    inputs=[e_video, e.prompt],
                    outputs=[e.out, e.seed_used, e.prompt_used],
                    fn=api.extend,
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
                        advanced(t, seams=True)
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
                    fn=api.transition,
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
                    fn=api.restyle,
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

        hidden = gr.Button(visible=False)
        hidden.click(
            api.generate,
            [g.prompt, g.negative, g.height, g.width, g.seconds, *shared(g)[1:]],
            outputs(g),
            api_name="generate",
        )
        hidden.click(
            api.image,
            [g.prompt, g.negative, g.height, g.width, *shared(g)[1:]],
            [g.image, g.seed_used, g.prompt_used],
            api_name="image",
        )
        hidden.click(
            api.extend, [e_video, e.prompt, e.direction, e.seconds, e.init, *shared(e)], outputs(e), api_name="extend"
        )
        hidden.click(
            api.transition, [t_a, t_b, t.prompt, t.seconds, t.init, *shared(t)], outputs(t), api_name="transition"
        )
        hidden.click(api.loop, [t_a, t.prompt, t.seconds, t.init, *shared(t)], outputs(t), api_name="loop")
        hidden.click(api.restyle, [r_video, r.prompt, r.strength, *shared(r)], outputs(r), api_name="restyle")

        # ------------------------------------------------------------------ the UI's own events
        def generate_or_image(seconds, height, width, **common):
            if api.service.frames_for(seconds, plus_one=True) == 1:
                return api.image(height=height, width=width, **common)
            return api.generate(seconds=seconds, height=height, width=width, **common)

        def transition_or_loop(is_loop, video_a, video_b, **common):
            if is_loop:
                return api.loop(video=video_a or video_b, **common)
            return api.transition(video_a=video_a, video_b=video_b, **common)

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
        wire(e, api.extend, {"video": e_video, "direction": e.direction, "seconds": e.seconds, "init_strength": e.init})
        wire(
            t,
            transition_or_loop,
            {"is_loop": t_loop, "video_a": t_a, "video_b": t_b, "seconds": t.seconds, "init_strength": t.init},
        )
        wire(r, api.restyle, {"video": r_video, "strength": r.strength})
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

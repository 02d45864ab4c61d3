"""Sora Space: the Gradio app. It only builds the page; the API lives in `sora_core.serving.endpoints`.

    python app.py [--model NAME]      (or SORA_MODEL=NAME; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT as usual)

API endpoints (gradio_client): /generate, /image, /extend, /transition, /loop, /restyle, /storyboard. Each returns the
media file first, then the seed and the prompt that were used. Every input reaches its endpoint by name: a tab
keeps its components in a dict keyed by the endpoint's parameter names.
"""

import argparse
import logging
import os
import random
from pathlib import Path

import gradio as gr
import torch

from sora_core import ModelLoadError, SoraPipeline
from sora_core.engine.limits import MAX_SEED, default_seconds, max_seconds
from sora_core.engine.presets import DEFAULT_PRESET
from sora_core.serving.ahead import compile_on_zero_gpu
from sora_core.serving.endpoints import make_endpoints, parameters
from sora_core.serving.gpu_runner import CONCURRENCY_ID
from sora_core.serving.ui import (
    Page,
    Tab,
    advanced,
    api_routes,
    examples,
    guidance_follows_duration,
    outputs,
    prompt_controls,
    references,
    results,
    size_choices,
    upload,
)
from sora_core.toyworld.rewriter import unplaced_sentence

EXAMPLES = Path(__file__).resolve().parent / "assets" / "examples"
DISCLAIMER = (
    "Sora Space is an independent open implementation of the recipe in OpenAI's Sora technical report. "
    "It is not affiliated with, endorsed by or connected to OpenAI."
)
# Small clips are scaled up with crisp pixels, never smoothed into a blur.
CSS = ".sora-media video, .sora-media img { image-rendering: pixelated; max-height: 384px; object-fit: contain; }"
MAX_UPLOAD = "50mb"


def clip(name: str) -> str:
    return str(EXAMPLES / name)


# The page's examples, each made by its tab's endpoint at the defaults (seed 0); tests/test_examples.py reads every
# one back with the toy world's detector. Chosen from what the bundled model makes, and read right at seeds 0-2 so
# that another CPU's rounding cannot flip them (research log, 2026-12-07): it draws triangles well, while its balls
# and squares come out as lumpy blobs that the detector, calibrated on VAE round trips, reads as neither. The restyle
# example is a toy-world render at the model's own 96 x 96 (seed 0, its path inside the frame).
GENERATE_EXAMPLES = [
    "a yellow triangle bouncing on a gray background",
    "a white triangle moving right on a black background",
]
EXTEND_EXAMPLES = [(clip("red_ball_right.mp4"), "a red ball moving right on a black background")]
TRANSITION_EXAMPLES = [
    (clip("red_ball_right.mp4"), clip("blue_square_left.mp4"), "a ball moving right on a black background")
]
RESTYLE_EXAMPLES = [(clip("red_triangle_right_96.mp4"), "a white triangle moving right on a black background")]
STORY_PROMPTS = [
    "a red triangle moving left on a black background",
    "a red triangle moving up on a black background",
]


# ------------------------------------------------------------------ the tabs


def generate_tab(page: Page) -> Tab:
    tab, p = Tab("Generate"), page.preset
    sizes = size_choices(p, page.pipe.spatial_stride)
    with gr.Tab("Generate", id="generate", elem_id="generate-tab"):
        with gr.Row():
            with gr.Column():
                prompt_controls(page, tab, value=GENERATE_EXAMPLES[0])
                tab.parts["size"] = gr.Dropdown(list(sizes), value=next(iter(sizes)), label="Size (width × height)")
                tab.inputs["seconds"] = gr.Slider(
                    0,
                    max_seconds(p.fps, p.max_frames),
                    value=default_seconds(p.fps, p.num_frames)[0],
                    step=page.pipe.temporal_stride / p.fps,
                    label="Duration in seconds (0 gives an image)",
                )
                with gr.Row(visible=False):
                    tab.inputs["height"] = gr.Number(p.height, label="Height", precision=0)
                    tab.inputs["width"] = gr.Number(p.width, label="Width", precision=0)
                tab.inputs["reference_images"] = references(page)
                advanced(page, tab)
                guidance_follows_duration(page, tab)
            with gr.Column():
                results(tab)
                tab.parts["image"] = gr.Image(
                    label="Result", elem_classes="sora-media", type="filepath", visible=False, interactive=False
                )
        examples(tab, [[prompt] for prompt in GENERATE_EXAMPLES], ["prompt"], page.api.generate)
    size, height_width = tab.parts["size"], [tab.inputs["height"], tab.inputs["width"]]
    size.change(lambda choice: sizes[choice], size, height_width, api_visibility="private")
    return tab


def seconds_slider(page: Page, label: str):
    p = page.preset
    block = page.pipe.temporal_stride / p.fps  # seconds in one latent frame
    longest, added = max_seconds(p.fps, p.max_frames) / 2, default_seconds(p.fps, p.num_frames)[1]
    return gr.Slider(block, longest, value=added, step=block, label=label)


def extend_tab(page: Page) -> Tab:
    tab = Tab("Extend")
    with gr.Tab("Extend", id="extend", elem_id="extend-tab"):
        with gr.Row():
            with gr.Column():
                tab.inputs["video"] = upload("Video or image")
                prompt_controls(page, tab)
                tab.inputs["direction"] = gr.Radio(["forward", "backward"], value="forward", label="Direction")
                tab.inputs["seconds"] = seconds_slider(page, "Seconds to add")
                tab.inputs["reference_images"] = references(page)
                advanced(page, tab, seams=True)
            with gr.Column():
                results(tab)
        examples(tab, [list(row) for row in EXTEND_EXAMPLES], ["video", "prompt"], page.api.extend)
    return tab


def transition_tab(page: Page) -> Tab:
    tab = Tab("Connect")
    with gr.Tab("Transition", id="transition", elem_id="transition-tab"):
        with gr.Row():
            with gr.Column():
                tab.parts["is_loop"] = gr.Checkbox(False, label="Loop: one clip, its end joined back to its start")
                with gr.Row():
                    tab.inputs["video_a"], tab.inputs["video_b"] = upload("Clip A"), upload("Clip B")
                prompt_controls(page, tab)
                tab.inputs["seconds"] = seconds_slider(page, "Bridge length in seconds")
                advanced(page, tab, seams=True)
            with gr.Column():
                results(tab)
        rows = [list(row) for row in TRANSITION_EXAMPLES]
        examples(tab, rows, ["video_a", "video_b", "prompt"], page.api.transition)
    tab.inputs["video"] = tab.inputs["video_a"]  # a loop's one clip
    is_loop, clip_b = tab.parts["is_loop"], tab.inputs["video_b"]
    is_loop.change(lambda checked: gr.update(visible=not checked), is_loop, clip_b, api_visibility="private")
    return tab


def restyle_tab(page: Page) -> Tab:
    tab = Tab("Restyle")
    with gr.Tab("Restyle", id="restyle", elem_id="restyle-tab"):
        with gr.Row():
            with gr.Column():
                tab.inputs["video"] = upload("Video")
                prompt_controls(page, tab, "New prompt")
                tab.inputs["strength"] = gr.Slider(
                    0,
                    1,
                    value=page.preset.restyle_strength,
                    step=0.05,
                    label="Strength (0 keeps the input, 1 ignores it)",
                )
                advanced(page, tab)
            with gr.Column():
                results(tab)
        examples(tab, [list(row) for row in RESTYLE_EXAMPLES], ["video", "prompt"], page.api.restyle)
    return tab


def storyboard_tab(page: Page) -> Tab:
    tab, p = Tab("Make the story"), page.preset
    seconds = default_seconds(p.fps, p.num_frames)[0]
    with gr.Tab("Storyboard", id="storyboard", elem_id="storyboard-tab"):
        with gr.Row():
            with gr.Column():
                gr.Markdown(
                    "Cards along one timeline, up to a minute: the first card is generated, each next one continues "
                    "the story with its own prompt; new frames take the colours of the frames beside their seam, "
                    "unless a card's keep colours is off."
                )
                tab.inputs["cards"] = gr.Dataframe(
                    value=[[prompt, seconds, None, True] for prompt in STORY_PROMPTS],
                    headers=["prompt", "seconds", "keyframe", "keep colours"],
                    datatype=["str", "number", "number", "bool"],
                    type="array",
                    row_count=(2, "dynamic"),
                    col_count=(4, "fixed"),
                    label="Cards: a prompt and its seconds each (add or remove rows); optionally the keyframe upload "
                    "it ends on (1 = the first file below), and whether it keeps the story's colours",
                    elem_id="storyboard-cards",
                )
                tab.inputs["keyframes"] = gr.File(
                    label="Keyframes: images or clips that cards end on, numbered in upload order",
                    file_count="multiple",
                    type="filepath",  # no file_types: see serving/ui.upload
                    elem_id="storyboard-keyframes",
                )
                tab.inputs["enhance"] = gr.Checkbox(True, label="Enhance prompts")
                advanced(page, tab)
            with gr.Column():
                results(tab)
                with gr.Row():  # one bad card need not cost the whole story
                    tab.parts["reroll_card"] = gr.Number(1, label="Card to make again (1 = first)", precision=0)
                    tab.parts["reroll"] = gr.Button("Re-roll this card", size="sm")
    return tab


# ------------------------------------------------------------------ events


def ui_handler(page: Page, tab: Tab, choose):
    """A tab's button: `choose(values)` picks the endpoint and its arguments by name; then history and gallery."""
    stop_flag, history, gallery, last = (page.state[k] for k in ("stop", "history", "gallery", "last"))
    names = list(tab.inputs)
    toyworld_words = page.preset.enhancer == "toyworld"

    def handler(data, progress=gr.Progress()):
        values = {name: data[tab.inputs[name]] for name in names}
        if data[tab.parts["randomize"]]:
            values["seed"] = random.randint(0, MAX_SEED)
        if values.get("init_strength") == 0:
            values["init_strength"] = None  # the slider's 0: the model's own default
        endpoint, arguments = choose(values, data)
        wanted = {name: arguments[name] for name in parameters(endpoint) if name in arguments}
        path, seed, prompt_used = endpoint(**wanted, stop=data[stop_flag], progress=progress)
        past = [*data[history], path][-24:]
        update = {
            tab.parts["out"]: path,
            tab.parts["seed_used"]: seed,
            tab.parts["prompt_used"]: prompt_used,
            tab.parts["note"]: unplaced_sentence(values.get("prompt")) if toyworld_words and values["enhance"] else "",
            last: path,
            history: past,
            gallery: past,
        }
        if "image" in tab.parts:
            is_image = path.endswith(".png")
            update[tab.parts["out"]] = gr.update(value=None if is_image else path, visible=not is_image)
            update[tab.parts["image"]] = gr.update(value=path if is_image else None, visible=is_image)
        return update

    return handler


def wire(page: Page, tab: Tab, choose, button: str = "run"):
    inputs = {*tab.inputs.values(), tab.parts["randomize"], *tab.parts.get("extra_inputs", ()), page.state["stop"]}
    inputs.add(page.state["history"])
    outs = [*outputs(tab), tab.parts["note"], *(page.state[k] for k in ("last", "history", "gallery"))]
    outs += [tab.parts["image"]] if "image" in tab.parts else []
    handler = ui_handler(page, tab, choose)
    event = tab.parts[button].click(
        handler, inputs, outs, api_visibility="private", concurrency_id=CONCURRENCY_ID, concurrency_limit=1
    )
    tab.parts["stop"].click(
        lambda flag: flag.update(stop=True),
        page.state["stop"],
        None,
        cancels=[event],
        queue=False,
        api_visibility="private",
    )


def table_cards(values: dict) -> dict:
    """The cards table's rows with the numbers typed into its cells as numbers: the table sends an edited cell of a
    number column as text ("3"), which the API refuses, and a keyframe cell left at 0 means none."""

    def number(cell):
        if not isinstance(cell, str):
            return cell
        try:
            return float(cell) if cell.strip() else None
        except ValueError:
            return cell  # the API names the cell in its sentence

    def cell(column: int, value):
        value = number(value) if column in (1, 2) else value
        return None if column == 2 and value == 0 else value  # the keyframe column

    rows = values["cards"] or []
    return {**values, "cards": [[cell(i, value) for i, value in enumerate(row)] for row in rows]}


def wire_tabs(page: Page, tabs: dict[str, Tab]):
    api, jobs = page.api, page.api.jobs

    def generate_or_image(values, data):
        return (api.image, values) if jobs.frames_for(values["seconds"], plus_one=True) == 1 else (api.generate, values)

    def transition_or_loop(values, data):
        return (api.loop, values) if data[tabs["transition"].parts["is_loop"]] else (api.transition, values)

    tabs["transition"].parts["extra_inputs"] = [tabs["transition"].parts["is_loop"]]
    wire(page, tabs["generate"], generate_or_image)
    wire(page, tabs["extend"], lambda values, data: (api.extend, values))
    wire(page, tabs["transition"], transition_or_loop)
    wire(page, tabs["restyle"], lambda values, data: (api.restyle, values))
    wire(page, tabs["storyboard"], lambda values, data: (api.storyboard, table_cards(values)))
    story = tabs["storyboard"]

    def reroll(values, data):
        """The shown story's card, made again: the card's number as the page counts (1 = first) to the API's."""
        values = table_cards(values)
        card = data[story.parts["reroll_card"]]
        values.update(reroll=int(card) - 1 if card is not None else None, previous=data[story.parts["out"]])
        if not values["previous"]:
            raise gr.Error("Make a story first: there is no storyboard result to re-roll a card of.")
        return api.storyboard, values

    story.parts["extra_inputs"] = [story.parts["reroll_card"], story.parts["out"]]
    wire(page, story, reroll, button="reroll")


def send_buttons(page: Page, tabs: dict[str, Tab], selector):
    def send(tab_id):
        def to(path):
            if not path:
                raise gr.Error("Make a video first: there is no result to send yet.")
            return path, gr.Tabs(selected=tab_id)

        return to

    with gr.Row():
        targets = (
            ("Extend this", tabs["extend"].inputs["video"], "extend"),
            ("Restyle this", tabs["restyle"].inputs["video"], "restyle"),
            ("Use as clip A", tabs["transition"].inputs["video_a"], "transition"),
            ("Use as clip B", tabs["transition"].inputs["video_b"], "transition"),
        )
        for label, target, tab_id in targets:
            button = gr.Button(label, size="sm")
            button.click(send(tab_id), page.state["last"], [target, selector], api_visibility="private")


def create_demo(pipe: SoraPipeline, threads: int = 0) -> gr.Blocks:
    """The page over `pipe`; on a CPU each request computes on `threads` threads (0: the cores idle when it
    starts)."""
    page = Page(pipe, make_endpoints(pipe, threads))
    p = pipe.preset
    with gr.Blocks(title="Sora Space", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(
            f"# Sora Space\nText to video and image, image to video, extension forward and backward, "
            f"transitions, loops and restyling, all from one model: **{p.name}** ({p.fps:g} fps).\n\n*{DISCLAIMER}*"
            + (f"\n\n**Note:** {p.notice}" if p.notice else "")
        )
        page.state.update(stop=gr.State({}), last=gr.State(None), history=gr.State([]))
        with gr.Tabs() as selector:
            tabs = {
                "generate": generate_tab(page),
                "extend": extend_tab(page),
                "transition": transition_tab(page),
                "restyle": restyle_tab(page),
                "storyboard": storyboard_tab(page),
            }
        send_buttons(page, tabs, selector)
        page.state["gallery"] = gr.Gallery(
            label="This session's results", columns=6, height=220, elem_classes="sora-media", interactive=False
        )
        api_routes(page, tabs)
        wire_tabs(page, tabs)
    return demo


def default_model() -> str:
    """Wan2.2-TI2V-5B where a GPU is there to run it (a GPU Space: the strongest open model that fits ZeroGPU, one
    model for every tab, trained to condition on a known first frame); the bundled model everywhere else."""
    return "wan2.2-ti2v-5b" if os.environ.get("SPACE_ID") and torch.cuda.is_available() else DEFAULT_PRESET


def main(argv=None):
    parser = argparse.ArgumentParser(description="Sora Space: the Gradio app.")
    parser.add_argument("--model", default=os.environ.get("SORA_MODEL") or default_model())
    parser.add_argument("--force", action="store_true", help="load a model even if it looks too big for memory")
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("SORA_THREADS") or 0),
        help="CPU threads a request computes with (default: the cores idle when it starts)",
    )
    args = parser.parse_args(argv)
    if args.threads < 0:
        raise SystemExit(f"error: --threads must be 0 (the idle cores) or more; got {args.threads}.")
    logging.basicConfig(level=logging.INFO)
    try:
        pipe = SoraPipeline.from_pretrained(args.model, force=args.force)
    except ModelLoadError as error:
        raise SystemExit(f"error: {error}") from None
    if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true"):  # as the spaces package reads it
        logging.getLogger("sora_space").info(compile_on_zero_gpu(pipe))
    demo = create_demo(pipe, args.threads)
    demo.queue(default_concurrency_limit=1, max_size=20)
    try:
        import mcp  # noqa: F401  (installed with the gradio[mcp] extra)

        mcp_server = True
    except ImportError:
        mcp_server = False
    demo.launch(share=False, max_file_size=MAX_UPLOAD, mcp_server=mcp_server, css=CSS, show_error=False)


if __name__ == "__main__":
    main()

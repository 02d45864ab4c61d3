"""The Space's page parts that every tab shares: a tab's components by endpoint parameter name, the prompt,
Advanced and result blocks, uploads and examples. `app.py` builds the tabs from them."""

import inspect
import math
from dataclasses import dataclass, field

import gradio as gr

from ..engine import fast, vace
from ..engine.limits import MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_STEPS
from ..engine.pipeline import SoraPipeline
from ..engine.presets import Preset
from ..toyworld.rewriter import vocabulary_sentence
from .endpoints import parameters
from .gpu_runner import CONCURRENCY_ID

ASPECT_RATIOS = {"1:1": (1, 1), "16:9": (16, 9), "9:16": (9, 16), "4:3": (4, 3), "3:4": (3, 4)}
SEAM_HOLD = (
    "Seam hold: 0 keeps the model's default; otherwise new frames start from the source at this noise level "
    "(lower: smoother seams, less free motion)"
)


@dataclass
class Tab:
    """One tab: its inputs by endpoint parameter name, and its result and button components."""

    label: str
    inputs: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)  # out, seed_used, prompt_used, note, randomize, run, stop, ...


@dataclass
class Page:
    """What the tab builders share: the model, its API, the size choices and the session's state."""

    pipe: SoraPipeline
    api: object
    state: dict = field(default_factory=dict)

    @property
    def preset(self):
        return self.pipe.preset

    @property
    def fast_default(self) -> bool:
        """The Fast switch starts on where fast mode's check against float32 passed (engine/precision.py; same-seed
        frames >= 28 dB from full quality, README). On a CPU the check runs now, at start-up; a GPU pipeline (on
        ZeroGPU there is no GPU outside a request) is checked at its first fast call and falls back there if it
        must."""
        return self.pipe.device.type != "cpu" or self.pipe.fast_model.passed

    @property
    def fast_label(self) -> str:
        checked = self.pipe.fast_model if self.pipe.device.type == "cpu" else None
        return fast.describe(self.preset.fast, checked)


def size_choices(preset: Preset, stride: int = 16) -> dict[str, tuple[int, int]]:
    """ "W×H (ratio)" -> (height, width): each aspect ratio at about the preset's default area, on the grid."""
    area = preset.height * preset.width
    choices = {f"{preset.width}×{preset.height} (default)": (preset.height, preset.width)}
    for name, (rw, rh) in ASPECT_RATIOS.items():
        width = max(stride, round(math.sqrt(area * rw / rh) / stride) * stride)
        height = max(stride, round(math.sqrt(area * rh / rw) / stride) * stride)
        if height <= preset.max_height and width <= preset.max_width and (height, width) not in choices.values():
            choices[f"{width}×{height} ({name})"] = (height, width)
    return choices


# No `file_types` on the uploads: Gradio's own refusal of a type logs a traceback on the server and names no field;
# the engine's refusal (uploads.upload) is one sentence naming the field ("second clip: notes.txt is not ...").
def upload(label: str):
    return gr.File(label=label, type="filepath")


def references(page: Page):
    """Reference images (a subject or a style); shown only for a model that takes them (VACE)."""
    shown = vace.is_vace(page.pipe.transformer)
    return gr.File(label="Reference images (1-3)", file_count="multiple", visible=shown)


# ------------------------------------------------------------------ the parts every tab has


def prompt_controls(page: Page, tab: Tab, label: str = "Prompt", value: str = ""):
    """The prompt box (`value`: filled in, so that the first click makes something) and the enhancer switch."""
    example = "a red ball bouncing on a black background"
    tab.inputs["prompt"] = gr.Textbox(value, label=label, lines=2, max_length=MAX_PROMPT_CHARS, placeholder=example)
    tab.inputs["enhance"] = gr.Checkbox(True, label="Enhance prompt")
    if page.preset.enhancer == "toyworld":
        gr.Markdown(vocabulary_sentence())


def advanced(page: Page, tab: Tab, seams: bool = False):
    p = page.preset
    with gr.Accordion("Advanced", open=False):
        if seams:  # the UI's 0 stands for the API's None: the model's own setting
            tab.inputs["init_strength"] = gr.Slider(0, 1, value=0, step=0.01, label=SEAM_HOLD)
            tab.inputs["match_colour"] = gr.Checkbox(True, label="Keep the source's colours")
        tab.inputs["negative_prompt"] = gr.Textbox(
            p.negative_prompt, label="Negative prompt", max_length=MAX_PROMPT_CHARS
        )
        steps, guidance = step_defaults(p, page.fast_default)
        tab.inputs["steps"] = gr.Slider(1, MAX_STEPS, value=steps, step=1, label="Steps")
        tab.inputs["guidance"] = gr.Slider(0, MAX_GUIDANCE, value=guidance, step=0.5, label="Guidance")
        with gr.Row():
            tab.inputs["seed"] = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED)
            tab.parts["randomize"] = gr.Checkbox(True, label="Randomise seed")
    fast_switch(page, tab)
    with gr.Row():
        tab.parts["run"] = gr.Button(tab.label, variant="primary")
        tab.parts["stop"] = gr.Button("Stop", variant="stop")


def step_defaults(preset, fast: bool) -> tuple[int, float]:
    """The steps and guidance the sliders show: fast mode's own where it brings them (a step-distilled LoRA)."""
    steps = preset.fast.steps if fast and preset.fast.steps is not None else preset.steps
    guidance = preset.fast.guidance if fast and preset.fast.guidance is not None else preset.guidance
    return steps, guidance


def guidance_for_duration(seconds: float, guidance: float, image_guidance: float, video_guidance: float) -> float:
    """The Generate tab's guidance after its duration moved to `seconds`: at 0 it makes an image, which a checkpoint
    with its own image model draws at that model's guidance; from there a duration brings the video's back, and a value
    the visitor chose stays."""
    if seconds == 0:
        return image_guidance
    return video_guidance if guidance == image_guidance else guidance


def guidance_follows_duration(page: Page, tab: Tab):
    """The guidance slider follows the duration (`guidance_for_duration`) where the checkpoint has an image model."""
    image_guidance = page.pipe.grid.image_guidance
    if image_guidance is None:
        return
    video_guidance = step_defaults(page.preset, page.fast_default)[1]
    seconds, slider = tab.inputs["seconds"], tab.inputs["guidance"]
    seconds.change(
        lambda s, g: guidance_for_duration(s, g, image_guidance, video_guidance),
        [seconds, slider],
        slider,
        api_visibility="private",
    )


def fast_switch(page: Page, tab: Tab):
    """Fast mode, on by default where its check passed (`Page.fast_default`), labelled with what it does here; the
    page always sends steps and guidance, so the sliders follow the switch where fast mode has its own."""
    tab.inputs["fast"] = gr.Checkbox(page.fast_default, label=page.fast_label)
    if step_defaults(page.preset, True) != step_defaults(page.preset, False):
        sliders = [tab.inputs["steps"], tab.inputs["guidance"]]
        tab.inputs["fast"].change(lambda on: step_defaults(page.preset, on), tab.inputs["fast"], sliders)


def free_form(endpoint, tab: Tab) -> dict:
    """Hidden stand-ins without limits for the page's bounded controls (sliders, numbers, choices): Gradio checks a
    component's own limits before the endpoint runs, in its words ("Value 0 is less than minimum value 1.", no
    parameter named, a traceback in the log), while the server's check names the parameter in ours."""
    defaults = {name: parameter.default for name, parameter in inspect.signature(endpoint).parameters.items()}
    stand_ins = {}
    for name, component in tab.inputs.items():
        if name in defaults and isinstance(component, (gr.Slider, gr.Number)):
            stand_ins[name] = gr.Number(defaults[name], visible=False)
        elif name in defaults and isinstance(component, (gr.Radio, gr.Dropdown)):
            stand_ins[name] = gr.Textbox(defaults[name], visible=False)
    return stand_ins


def api_routes(page: Page, tabs: dict[str, Tab]):
    """The named API endpoints, as hidden triggers whose inputs are looked up by parameter name. Where the UI spells
    "the model's default" otherwise (the seam slider's 0) or differs from the API's default (enhance and fast: on in
    the UI, off in the API; the prompt, filled in on the page and required in the API), a hidden component stands in."""
    api_only = {
        "prompt": gr.Textbox(visible=False),
        "enhance": gr.Checkbox(False, visible=False),
        "fast": gr.Checkbox(False, visible=False),  # off in the API: reproducible against diffusers
        "init_strength": gr.Number(None, visible=False),
        "cards": gr.JSON(visible=False),  # the API's cards: a list of {"prompt", "seconds"} objects
        "reroll": gr.Number(None, visible=False, precision=0),  # the page re-rolls with its own button
        "previous": gr.File(visible=False, type="filepath"),
    }
    hidden = gr.Button(visible=False)
    routes = (("generate", "generate"), ("image", "generate"), ("extend", "extend"))
    routes += (("transition", "transition"), ("loop", "transition"), ("restyle", "restyle"))
    routes += (("storyboard", "storyboard"),)
    for name, tab_name in routes:
        endpoint, tab = getattr(page.api, name), tabs[tab_name]
        inputs = {**tab.inputs, **free_form(endpoint, tab), **api_only}
        shown = [tab.parts["image"], *outputs(tab)[1:]] if name == "image" else outputs(tab)
        hidden.click(
            endpoint,
            [inputs[p] for p in parameters(endpoint)],
            shown,
            api_name=name,
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=1,
        )


def results(tab: Tab):
    # outputs only: a result player must not offer an upload
    tab.parts["out"] = gr.Video(
        label="Result", elem_classes="sora-media", format="mp4", buttons=["download"], interactive=False
    )
    with gr.Row():
        tab.parts["seed_used"] = gr.Number(label="Seed used", interactive=False)
        tab.parts["prompt_used"] = gr.Textbox(label="Prompt used", interactive=False)
    tab.parts["note"] = gr.Markdown()


def outputs(tab: Tab) -> list:
    return [tab.parts["out"], tab.parts["seed_used"], tab.parts["prompt_used"]]


def examples(tab: Tab, rows: list, names: list[str], endpoint):
    gr.Examples(
        rows,
        inputs=[tab.inputs[name] for name in names],
        outputs=outputs(tab),
        fn=endpoint,
        cache_examples=True,
        cache_mode="lazy",
    )

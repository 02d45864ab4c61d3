"""Model presets: where a checkpoint lives and the defaults it is meant to run with.

A preset is plain data. `SoraPipeline.from_pretrained` accepts a preset name, a Hub repo id or a
local folder; the last two run with `DEFAULTS` unless they match a preset.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

from .fast import FastLora, FastSettings

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"  # the checkout's assets/

# Wan's own negative prompt (from the Wan2.1 release), used for the Hub preset.
WAN_NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, "
    "overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, poorly "
    "drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still picture, messy "
    "background, three legs, many people in the background, walking backwards"
)

# A step- and guidance-distilled LoRA for Wan2.1-T2V-1.3B: Kijai's extraction of CausVid's bidirectional 1.3B model
# (tianweiy/CausVid), rank 32, in ComfyUI's key format, which diffusers' WanLoraLoaderMixin converts. Made for 4-8
# steps at guidance 1; ComfyUI workflows pair the same file with Wan2.1-VACE-1.3B, whose base blocks it matches.
# Revision: the repository's head as the Hub's API listed it on 2026-06-13 (not re-read here: no Hub access).
CAUSVID_1_3B = FastLora(
    source="Kijai/WanVideo_comfy",
    weight_name="Wan21_CausVid_bidirect2_T2V_1_3B_lora_rank32.safetensors",
    revision="8260d429d19fd7a72304cad059160b95d843913f",
    scale=1.0,
)


@dataclass(frozen=True)
class Preset:
    name: str
    source: str  # a local folder or a Hub repo id
    revision: str | None = None  # Hub revision; pinned to a commit where one is known
    height: int = 128
    width: int = 128
    num_frames: int = 33
    fps: float = 8.0
    steps: int = 20
    guidance: float = 5.0
    flow_shift: float | None = None  # None keeps the checkpoint's scheduler as it is
    negative_prompt: str = ""
    cuda_dtype: str = "bfloat16"  # the CPU always runs float32
    max_sequence_length: int = 512
    # Conditioning on known frames: "clean" (per-token t=0, needs a model trained for it), "replace"
    # (training-free: known latents re-noised to the current level every step), or "vace" (a VACE checkpoint's
    # control stream; any VACE checkpoint uses it, whatever this says).
    conditioning: str = "replace"
    # Where new frames must arrive at given ones (backward extension, transition, loop), they start from the
    # filled timeline noised to this t instead of from pure noise (1); see workflows.py. A checkpoint may set it.
    arrival_init_strength: float = 1.0
    # Generate a clip as its first frame (an image), then that frame animated with the same prompt: for a model whose
    # motion words act only once a frame is known (the bundled one: RoPE gives it no absolute positions, so from
    # pure noise it cannot say where "moving right" starts). A checkpoint may set it.
    animate_first_frame: bool = False
    # The checkpoint's world runs the same backwards (sora.json): a backward extension is then made as a forward one
    # in reversed time (engine/time_reversal.py). Hub models keep their own path: people do not walk backwards.
    time_symmetric: bool = False
    # Restyle's default strength (the t its SDEdit starts from). The bundled model keeps a colour until late in
    # denoising: at 0.6 a red ball asked to be blue stayed red, at 0.85 it turned blue on its path (model card).
    restyle_strength: float = 0.6
    # The guidance of the checkpoint's own image model (image_transformer/), measured on it (sora.json): a two-stage
    # generate's first frame, and a one-frame generate that leaves guidance unset. None: `guidance`.
    image_guidance: float | None = None
    cpu_memory_gb: float = 4.0  # float32 footprint of all components, for the up-front memory check
    enhancer: str = ""  # "toyworld" (offline rewriter), a Hub instruct-model repo id, or "" for none
    enhancer_revision: str = "main"
    max_height: int = 1280
    max_width: int = 1280
    max_frames: int = 129
    notice: str = ""  # one line for users about this checkpoint (e.g. still in training); a checkpoint may set it
    # A DMD-distilled checkpoint's fixed t (engine/dmd.py); empty: the checkpoint's own flow scheduler.
    dmd_sigmas: tuple[float, ...] = ()
    # Its transformer's compute per token relative to Wan2.1-1.3B's, for the ZeroGPU time model (None: from
    # cpu_memory_gb, which also counts the text encoder).
    compute_scale: float | None = None
    fast: FastSettings = field(default_factory=FastSettings)  # what fast=True does here (engine/fast.py)


PRESETS: dict[str, Preset] = {
    "sora-tiny": Preset(
        name="sora-tiny",
        source=str(ASSETS_DIR / "sora-tiny"),
        height=128,
        width=128,
        num_frames=33,
        fps=8.0,
        steps=20,
        flow_shift=3.0,
        negative_prompt="",
        cuda_dtype="float32",
        # Its guidance, arrival and restyle strengths were measured on the checkpoint and live in its sora.json, so
        # that a fine-tune of it starts with them (export.tuned_defaults).
        # Captions are at most ~19 tokens. Wan's cross-attention has no padding mask: every pad position is a
        # zero embedding the DiT still attends to, and 116 of them diluted the object's words ~2x (measured).
        max_sequence_length=24,
        conditioning="clean",
        enhancer="toyworld",
        cpu_memory_gb=0.5,
        max_height=256,
        max_width=256,
        max_frames=65,
    ),
    "wan2.1-t2v-1.3b": Preset(
        name="wan2.1-t2v-1.3b",
        source="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        # Pinned: a moved branch must never change what the Space runs (hash as cited by many public projects).
        revision="0fad780a534b6463e45facd96134c9f345acfa5b",
        height=480,
        width=832,
        num_frames=81,
        fps=16.0,
        steps=50,
        guidance=5.0,
        flow_shift=3.0,  # Wan's value for 480p
        negative_prompt=WAN_NEGATIVE_PROMPT,
        cuda_dtype="bfloat16",
        max_sequence_length=512,
        conditioning="replace",
        # An instruct model for prompt expansion, pinned like the video model.
        enhancer="Qwen/Qwen2.5-1.5B-Instruct",
        enhancer_revision="989aa7980e4cf806f80c7fef2b1adb7bc71aa306",
        cpu_memory_gb=29.0,  # umT5-XXL encoder ~23 GB + DiT ~5.7 GB in float32
        max_height=720,
        max_width=1280,
        max_frames=81,
        fast=FastSettings(cache="", steps=6, guidance=1.0, lora=CAUSVID_1_3B),
    ),
}
# VACE: the same 1.3B text-to-video model with control blocks trained to continue given frames, bridge first and
# last frames and follow reference images; known frames enter through its control stream (engine/vace.py).
PRESETS["wan2.1-vace-1.3b"] = replace(
    PRESETS["wan2.1-t2v-1.3b"],
    name="wan2.1-vace-1.3b",
    source="Wan-AI/Wan2.1-VACE-1.3B-diffusers",
    # Pinned: the commit public projects load it at (their Hugging Face cache snapshot folder names it).
    revision="ec4d2cb062b548996b179d493fdd05340de702a1",
    conditioning="vace",  # known frames only through the control stream, whatever the workflow
    # umT5-XXL ~23 GB + the DiT with its VACE blocks ~7.7 GB in float32 (estimated: 15 control blocks of the base's
    # 30, about 0.6B parameters more than the T2V DiT's 1.4B).
    cpu_memory_gb=31.0,
)

# Wan2.2-TI2V-5B: text to video and image to video in one 5B model, 24 fps, with a VAE of 16x16x4 compression (48
# latent channels) and patch 1x2x2, so 32 px a token side. Trained with `expand_timesteps`: a known first frame's
# tokens at timestep 0, so "clean" conditioning is how it was trained (the loader reads that from model_index.json
# too, wherever the checkpoint comes from). Defaults from its model card and Wan2.2's 5B config (704 x 1280 or
# 1280 x 704, 121 frames, 50 steps, guidance 5, flow shift 5).
PRESETS["wan2.2-ti2v-5b"] = replace(
    PRESETS["wan2.1-t2v-1.3b"],  # Wan's negative prompt, steps, guidance, text length and prompt enhancer
    name="wan2.2-ti2v-5b",
    source="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
    # Pinned: the commit public projects load it at (their Hugging Face cache snapshot folders name it).
    revision="b8fff7315c768468a5333511427288870b2e9635",
    height=704,
    width=1280,
    num_frames=121,
    fps=24.0,
    flow_shift=5.0,
    conditioning="clean",
    cpu_memory_gb=44.0,  # umT5-XXL ~23 GB + the 5B DiT ~20 GB + the VAE ~1 GB in float32
    compute_scale=3.6,  # 5.0B transformer parameters against Wan2.1-1.3B's 1.4B
    max_height=1280,
    max_width=1280,
    max_frames=121,
    fast=FastSettings(),  # the step cache as on sora-tiny; not yet measured on this model
)
# Its 3-step DMD distillation (FastVideo, full attention): sigmas 1.0, 0.757, 0.522 from the checkpoint's card,
# guidance 1; each step predicts the clean latents and noises them afresh (engine/dmd.py).
PRESETS["wan2.2-ti2v-5b-fast"] = replace(
    PRESETS["wan2.2-ti2v-5b"],
    name="wan2.2-ti2v-5b-fast",
    source="FastVideo/FastWan2.2-TI2V-5B-FullAttn-Diffusers",
    # Pinned: the commit public projects load it at (their Hugging Face cache snapshot folders name it).
    revision="3e187042a324f6f5fb68fd22110a78725253de8f",
    steps=3,
    guidance=1.0,
    dmd_sigmas=(1.0, 0.757, 0.522),
    fast=FastSettings(cache=""),  # three steps leave nothing to cache
)

DEFAULT_PRESET = "sora-tiny"


def same_folder(a: str, b: str) -> bool:
    """Two spellings of one local folder ("assets/sora-tiny" and its absolute path)."""
    return Path(a).is_dir() and Path(b).is_dir() and Path(a).resolve() == Path(b).resolve()


def preset_for(name_or_path: str) -> Preset:
    """The preset named, or one for an arbitrary repo id / folder with generic defaults."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    for preset in PRESETS.values():
        if preset.source == name_or_path or same_folder(preset.source, name_or_path):
            return preset
    # Unknown checkpoints keep their own scheduler and WanPipeline's defaults for text length.
    return replace(Preset(name=name_or_path, source=name_or_path), cpu_memory_gb=0.0)

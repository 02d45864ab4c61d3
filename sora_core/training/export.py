"""The trained stages written as a half-precision diffusers WanPipeline folder (`--stage export`), mid-run or at the
end, with the `sora.json` defaults the checkpoint wants; and an untrained checkpoint of an architecture
(`--stage init`), so every code path runs before training has finished."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..engine.presets import PRESETS
from .architectures import architecture, build_components, save_checkpoint
from .data import CAPTIONS_RECORD
from .ema import EMA_FILE
from .loop import STATE

if TYPE_CHECKING:
    from .config import TrainConfig


RUN_CONFIG = "config.json"  # a stage folder's settings, as its last command gave them


def load_vae(folder: Path):
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan.from_pretrained(folder, dtype=torch.float32)


def load_text_encoder(folder: Path):
    from transformers import UMT5EncoderModel

    return UMT5EncoderModel.from_pretrained(folder, dtype=torch.float32)


def dit_weights(folder: Path) -> dict:
    """The DiT stage's weights: its final `weights.safetensors`, or, mid-run, its last saved state (to evaluate a long
    run before it ends; with --ema-decay, the moving average saved with it). Both name tensors `transformer.*` /
    `text_encoder.*` and keep one copy of the text encoder's tied embedding (`shared`)."""
    from safetensors.torch import load_file

    final = folder / "weights.safetensors"
    state = load_file(final if final.exists() else folder / STATE / "model.safetensors")
    average = folder / STATE / EMA_FILE
    if not final.exists() and average.exists():  # a run with --ema-decay exports its moving average
        state |= load_file(average)
    parts = {name: {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(name + ".")} for name in PARTS}
    parts["text_encoder"]["encoder.embed_tokens.weight"] = parts["text_encoder"]["shared.weight"]
    return parts


def save_dit_weights(folder: Path, transformer, text_encoder):
    """The DiT stage's result as safetensors, named as its training state names them (see `dit_weights`)."""
    from safetensors.torch import save_file

    modules = {"transformer": transformer, "text_encoder": text_encoder}
    state = {f"{name}.{k}": v.contiguous() for name, module in modules.items() for k, v in module.state_dict().items()}
    del state["text_encoder.encoder.embed_tokens.weight"]  # tied to `shared`: safetensors stores a tensor once
    save_file(state, folder / "weights.safetensors")


PARTS = ("transformer", "text_encoder")


def enhancer_for(data: str) -> tuple[dict, dict]:
    """The prompt enhancer a model trained on `data` wants (sora.json defaults), and what its captions were: the
    toy world's rewriter for toy-world captions; for a re-captioned folder's paragraphs, the Hub presets' instruct
    model, whose system prompt asks for the same paragraph (`recaption.py` records the style in captions.json)."""
    if data == "toyworld":
        return {"enhancer": "toyworld"}, {"captioner": "toyworld", "style": "toyworld"}
    record = Path(data) / CAPTIONS_RECORD
    captions = json.loads(record.read_text()) if record.is_file() else {"captioner": "unknown", "style": "custom"}
    if captions.get("style") == "toyworld":
        return {"enhancer": "toyworld"}, captions
    if captions.get("style") == "paragraph":
        wan = PRESETS["wan2.1-t2v-1.3b"]
        return {"enhancer": wan.enhancer, "enhancer_revision": wan.enhancer_revision}, captions
    return {"enhancer": ""}, captions  # hand-written captions: prompts are used as typed


# Defaults of a start checkpoint that a fine-tune does not keep: its notice states that model's measured numbers, the
# enhancer's revision goes with the enhancer the run's own captions pick (enhancer_for), and the image model's guidance
# with the image model, which a video export does not carry.
NOT_INHERITED = ("notice", "enhancer_revision", "image_guidance")


def tuned_defaults(start: str) -> dict:
    """The `sora.json` defaults of the checkpoint a fine-tune started from that were set by hand after measuring
    it (e.g. `arrival_init_strength`, `restyle_strength`): a fine-tune keeps them until it is measured anew. The
    defaults `export` derives from the run itself are written over them."""
    record = Path(start) / "sora.json" if start else None
    if record is None or not record.is_file():
        return {}
    defaults = json.loads(record.read_text()).get("defaults", {})
    return {key: value for key, value in defaults.items() if key not in NOT_INHERITED}


def export(config: "TrainConfig"):
    """Write the trained stages as a half-precision diffusers WanPipeline folder."""
    out = Path(config.out)
    # The recipe is the DiT run's command, not this one's (older runs wrote none: then this command's settings), and
    # so is the architecture its weights have.
    recorded = out / "dit" / RUN_CONFIG
    dit = json.loads(recorded.read_text()) if recorded.exists() else asdict(config)
    components = build_components(architecture(dit["architecture"]), seed=config.seed)
    components["vae"] = load_vae(out / ("decoder" if (out / "decoder" / "model").exists() else "vae") / "model")
    weights = dit_weights(out / "dit")
    components["transformer"].load_state_dict(weights["transformer"])
    components["text_encoder"].load_state_dict(weights["text_encoder"])
    enhancer, captions = enhancer_for(config.data)
    tuned = tuned_defaults(dit.get("init_from", ""))
    sora = {
        "trained": True,
        "captions": captions,
        "defaults": {
            **tuned,
            "conditioning": "clean",
            **enhancer,
            **{"height": dit["height"], "width": dit["width"], "num_frames": dit["num_frames"]},
            "max_sequence_length": dit["max_sequence_length"],
            # trained to move a known first frame by its prompt (here, or in the start a fine-tune of images alone
            # keeps): generate that way (Preset.animate_first_frame)
            "animate_first_frame": dit["first_frame_share"] > 0 or tuned.get("animate_first_frame", False),
        },
        "train_config": dit,
    }
    expand = architecture(dit["architecture"]).expand_timesteps
    save_checkpoint(components, config.export_to, dtype=torch.float16, sora_config=sora, expand_timesteps=expand)
    print(f"exported to {config.export_to}")


def init_untrained(config: "TrainConfig"):
    """An untrained checkpoint of the architecture, so every code path runs before training has finished. With
    `--init-from`, only the transformer is new: that checkpoint's VAE and text encoder are kept, so a DiT of another
    grid or depth trains on latents and words already learned, and it keeps that checkpoint's hand-measured
    defaults (`tuned_defaults`: guidance, seam and restyle strengths), so that it is measured as the model it would
    replace is run."""
    components = build_components(architecture(config.architecture), seed=config.seed)
    if config.init_from:
        start = Path(config.init_from)
        components["vae"] = load_vae(start / "vae")
        components["text_encoder"] = load_text_encoder(start / "text_encoder")
        latent, takes = components["vae"].config.z_dim, components["transformer"].config.in_channels
        if latent != takes:
            raise SystemExit(
                f"--init-from {start}: its VAE makes {latent} latent channels; --architecture's DiT takes {takes}."
            )
    tuned = tuned_defaults(config.init_from)
    sora = {"trained": False, "defaults": {**tuned, "conditioning": "clean", "enhancer": "toyworld"}}
    expand = architecture(config.architecture).expand_timesteps
    save_checkpoint(components, config.export_to, dtype=torch.float16, sora_config=sora, expand_timesteps=expand)
    print(f"wrote an untrained {config.architecture} checkpoint to {config.export_to}")

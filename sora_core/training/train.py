"""Train the bundled model (or your own) with accelerate: one script for a CPU, a GPU, or many machines.

    everything  python -m sora_core.train --stage all --out runs/sora-tiny --export-to assets/sora-tiny
    stage 1     python -m sora_core.train --stage vae --out runs/sora-tiny --steps 2200 --lr 2e-3
    stage 2     python -m sora_core.train --stage dit --out runs/sora-tiny
    stage 3     python -m sora_core.train --stage decoder --out runs/sora-tiny --steps 400 --lr 3e-4 --batch-size 4
    image model python -m sora_core.train --stage image --out runs/image --init-from assets/sora-tiny --ema-decay 0.999
    export      python -m sora_core.train --stage export --out runs/sora-tiny --export-to assets/sora-tiny

Interrupted runs resume from `<out>/<stage>/state` when started again with the same command.
Several processes: `torchrun --nproc_per_node 2 -m sora_core.train ...` or `accelerate launch`.
"""

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from ..engine import precision
from ..engine.text import tokenize
from . import latent_cache
from .architectures import architecture, build_components, build_vae
from .config import STAGES, TrainConfig, buckets_of, check_training_options, subset_of
from .data import WorldOptions, make_data
from .export import RUN_CONFIG, export, init_untrained, load_text_encoder, load_vae, save_dit_weights
from .grow import grown_state
from .image_model import export_image, train_image
from .loop import check_bfloat16, stream_seed, train_loop
from .loss_log import CSVTracker
from .losses import FlowLoss, VAELoss, sample_t

# --------------------------------------------------------------------------------- helpers


def transformer_size(config) -> str:
    width = config.num_attention_heads * config.attention_head_dim
    return f"{config.num_layers} blocks {width} wide, patch {tuple(config.patch_size)}"


def load_dit_weights(components: dict, folder: Path):
    """Copy an exported checkpoint's transformer and text encoder into freshly built ones: the same architecture,
    or one with more blocks of the same size (grown as grow.py says)."""
    from diffusers import WanTransformer3DModel

    transformer = WanTransformer3DModel.from_pretrained(folder, subfolder="transformer", torch_dtype=torch.float32)
    text_encoder = load_text_encoder(folder / "text_encoder")
    target = components["transformer"]
    # never fewer blocks than trained: a shallower target then has unexpected blocks instead of losing them
    state = grown_state(transformer.state_dict(), max(target.config.num_layers, transformer.config.num_layers))
    try:
        target.load_state_dict(state)  # strict: a missing, unexpected or differently sized weight is an error
    except RuntimeError:
        raise SystemExit(
            f"--init-from {folder}: its transformer ({transformer_size(transformer.config)}) does not fit "
            f"--architecture's ({transformer_size(target.config)}); a fine-tune keeps the architecture, or adds blocks "
            "of the same size."
        ) from None
    components["text_encoder"].load_state_dict(text_encoder.state_dict())


@torch.no_grad()
def measure_latent_stats(vae, data, batches: int = 8) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the latents, so that normalised latents are ~N(0, 1) for the DiT."""
    samples = []
    for _ in range(batches):
        pixels, _ = data.batch(4)
        latents = vae.encode(pixels).latent_dist.mode()  # (B, C, F, h, w)
        samples.append(latents.transpose(0, 1).flatten(1))
    latents = torch.cat(samples, 1)
    return latents.mean(1).tolist(), latents.std(1).clamp(min=1e-3).tolist()


def train_vae(config: TrainConfig, accelerator: Accelerator):
    """Stage 1 ("vae"), or stage 3 ("decoder"): stage 1's model with only its decoder trained further."""
    folder = Path(config.out) / config.stage
    # Toy-world crops are cut from clips drawn at the model's default size, so objects keep their scale.
    render = (config.height, config.width)
    options = WorldOptions(render_size=render)
    data = make_data(config.data, buckets_of(config), stream_seed(config, accelerator.process_index, folder), options)
    vae = build_vae(architecture(config.architecture).vae)
    start = Path(config.init_from) / "vae" if config.init_from else None
    if config.stage == "decoder":
        start = Path(config.out) / "vae" / "model"
    if start is not None:
        source = load_vae(start)
        vae.load_state_dict(source.state_dict())
        vae.register_to_config(latents_mean=source.config.latents_mean, latents_std=source.config.latents_std)
    decoder_only = config.decoder_only or config.stage == "decoder"
    if decoder_only:
        vae.requires_grad_(False).decoder.requires_grad_(True)
        vae.post_quant_conv.requires_grad_(True)
    check_bfloat16(config, vae, precision.vae_probe_inputs(vae))
    module = VAELoss(
        vae,
        config.kl_weight,
        foreground_weight=config.foreground_weight,
        sample_posterior=config.sample_posterior,
        colour_weight=config.colour_weight,
        latent_noise=config.latent_noise,
    )

    def batch_loss(module, step):
        pixels, _ = data.batch(config.batch_size)
        loss, mse = module(pixels.to(accelerator.device))
        return {"loss": loss, "psnr": -10 * torch.log10(mse.detach() / 4)}  # pixels span 2: peak^2 = 4

    params = [p for p in module.parameters() if p.requires_grad]
    module, _ = train_loop(config, accelerator, module, params, folder, batch_loss)
    if accelerator.is_main_process:
        vae = module.vae.eval()
        if not decoder_only:  # an unchanged encoder keeps the statistics it was exported with
            mean, std = measure_latent_stats(vae, make_data(config.data, buckets_of(config), config.seed + 7))
            vae.register_to_config(latents_mean=mean, latents_std=std)
        vae.save_pretrained(folder / "model")


def build_latent_cache(config: TrainConfig, device, rank: int = 0, world: int = 1) -> Path:
    """Render and encode the DiT stage's clips into <out>/dit/latents (this process's share of the chunks; those
    on disk are kept). Also called by several worker processes at once (benchmarks/train_gpu.py)."""
    vae = load_vae(Path(config.out) / "vae" / "model").to(device).eval().requires_grad_(False)
    options = WorldOptions(p_omit=config.caption_omit, paired=config.paired_motions, subset=subset_of(config))
    data = make_data(config.data, buckets_of(config), config.seed, options)
    folder = Path(config.out) / "dit" / "latents"
    buckets = buckets_of(config)
    latent_cache.build(folder, vae, data, buckets, config.cache_clips, config.seed, rank, world, config.known_share)
    return folder


def provide_vae(config: TrainConfig):
    """The DiT stage encodes its clips with <out>/vae/model: a fine-tune (--init-from) without one there takes its
    checkpoint's VAE, whose latents its DiT was trained on; with neither, one sentence naming both flags."""
    vae = Path(config.out) / "vae" / "model"
    if vae.exists():
        return
    start = Path(config.init_from) / "vae" if config.init_from else None
    if start is None or not (start / "config.json").exists():
        raise SystemExit(
            f"--stage dit encodes clips with the VAE in {vae}, which is not there: train one with --stage vae "
            "--out " + config.out + " first, or give --init-from a checkpoint folder (one with a vae/)."
        )
    partial = vae.with_name(f".model-{os.getpid()}")  # several processes may copy at once: the first rename wins
    shutil.copytree(start, partial)
    try:
        partial.rename(vae)
    except OSError:
        shutil.rmtree(partial)


def train_dit(config: TrainConfig, accelerator: Accelerator):
    folder = Path(config.out) / "dit"
    rank, world = accelerator.process_index, accelerator.num_processes
    components = build_components(architecture(config.architecture), seed=config.seed)
    if config.init_from:  # before the clips are encoded: a start that does not fit is one sentence, not minutes later
        load_dit_weights(components, Path(config.init_from))
    latents = build_latent_cache(config, accelerator.device, rank, world)
    accelerator.wait_for_everyone()
    seed = stream_seed(config, rank, folder)
    cache = latent_cache.LatentCache(latents, seed)
    tokenizer = components["tokenizer"]
    check_bfloat16(config, components["transformer"])
    module = FlowLoss(
        components["transformer"],
        components["text_encoder"],
        config.dit_foreground_weight,
        path_weight=config.dit_path_weight,
        motion_weight=config.dit_motion_weight,
    )
    rng = np.random.default_rng([*seed, 3])  # known first frames, caption dropout and t

    def batch_loss(module, step):
        clean, known, captions = cache.batch(config.batch_size)  # (B, C, F, h, w), (B, F)
        if config.first_frame_share and known.shape[1] > 1:
            first = torch.from_numpy(rng.random(len(known)) < config.first_frame_share) & ~known.any(1)
            known[:, 0] |= first
        captions = ["" if rng.random() < config.caption_dropout else c for c in captions]
        tokens = tokenize(tokenizer, captions, config.max_sequence_length)
        eligible = known.any(1).numpy() if config.high_noise_known_only else None
        t = sample_t(len(captions), rng, high_share=config.high_noise_share, eligible=eligible).to(accelerator.device)
        loss = module(
            clean.to(accelerator.device),
            known.to(accelerator.device),
            tokens.input_ids.to(accelerator.device),
            tokens.attention_mask.to(accelerator.device),
            t,
        )
        return {"loss": loss}

    module, _ = train_loop(config, accelerator, module, module.parameters(), folder, batch_loss)
    if accelerator.is_main_process:
        components.update(transformer=module.transformer.eval(), text_encoder=module.text_encoder.eval())
        save_dit_weights(folder, components["transformer"], components["text_encoder"])


def parse_args(argv=None) -> TrainConfig:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = TrainConfig()
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if name == "buckets":
            parser.add_argument(flag, nargs="*", type=bucket, default=[], help="HxWxT, e.g. 64x64x9")
        elif name == "stage":
            parser.add_argument(flag, choices=STAGES, default=value)
        elif isinstance(value, list):
            parser.add_argument(flag, nargs="*", default=[], help="words of the toy world, e.g. red blue")
        elif isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        else:
            parser.add_argument(flag, type=type(value), default=value)
    return TrainConfig(**vars(parser.parse_args(argv)))


def bucket(text: str) -> tuple[int, int, int]:
    """'HxWxT' -> (height, width, frames); 0x0 stands for the model's size."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(part.isdigit() for part in parts) or int(parts[2]) < 1:
        raise argparse.ArgumentTypeError(f"must be HEIGHTxWIDTHxFRAMES, e.g. 96x96x17; got {text!r}")
    return tuple(int(part) for part in parts)


def main(argv=None):
    run(parse_args(sys.argv[1:] if argv is None else list(argv)))


def run(config: TrainConfig):
    """One stage as `config` says (or, for "all", each in turn); the recipe (recipe.py) calls this for each of its
    stages."""
    try:
        architecture(config.architecture)  # a wrong name or file is one sentence, before any work
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if config.stage == "all":  # each stage resumes or skips what is already done
        stages = (("vae", config.vae_steps, config.vae_lr), ("dit", config.steps, config.lr))
        stages += (("decoder", config.decoder_steps, config.decoder_lr),) if config.decoder_steps else ()
        for stage, steps, lr in stages:
            run(replace(config, stage=stage, steps=steps, lr=lr))
        return run(replace(config, stage="export"))
    torch.set_num_threads(config.threads)  # explicit: a background run must not fight the foreground for cores
    if config.stage == "export" and (Path(config.out) / "image").is_dir() and not (Path(config.out) / "dit").is_dir():
        return export_image(config)  # an image model's run: its start checkpoint, with the image model added
    if config.stage in ("export", "init"):
        return (export if config.stage == "export" else init_untrained)(config)
    check_training_options(config)
    if config.stage == "dit":
        provide_vae(config)
    mixed = "bf16" if config.precision == "bf16" else "no"
    folder = Path(config.out, config.stage)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_CONFIG).write_text(json.dumps(asdict(config), indent=1))  # what the export records
    trackers = [CSVTracker(folder), *([config.log_with] if config.log_with else [])]
    # cpu=True is what enables multi-process gloo
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(), mixed_precision=mixed, log_with=trackers, project_dir=str(folder)
    )
    accelerator.init_trackers(config.stage, config={k: str(v) for k, v in asdict(config).items()})
    if config.log_with and config.log_with not in {tracker.name for tracker in accelerator.trackers}:
        raise SystemExit(f"--log-with {config.log_with}: not installed here (pip install {config.log_with}).")
    set_seed(config.seed + accelerator.process_index)
    stages = {"vae": train_vae, "decoder": train_vae, "dit": train_dit, "image": train_image}
    stages[config.stage](config, accelerator)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()  # a clean gloo shutdown, so every process exits 0


if __name__ == "__main__":
    main()

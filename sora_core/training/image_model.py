"""The image model (`--stage image`): a transformer of its own for text to image and for the first stage of a
two-stage generate, trained on rendered images alone beside a checkpoint whose VAE and text encoder it shares.

    python -m sora_core.train --stage image --init-from assets/sora-tiny --out runs/image --ema-decay 0.999
    python -m sora_core.train --stage export --out runs/image --init-from assets/sora-tiny --export-to runs/image/out

Why apart from the video transformer: a shape's edges are drawn in the middle of the noise schedule, while the
animate stage trains mostly near t = 1 (half of its t in [0.9, 1)); an image-only fine-tune of the shared DiT drew
better shapes and made the animate stage forget its motions. As its own module (the checkpoint's
`image_transformer/`) it cannot make the video model forget.

Every step renders new images (`batch_size` of them: a run of 4,000 steps of 16 sees 64,000), half of them flipped
left to right with the caption's "left" and "right" swapped, and encodes them with the checkpoint's frozen VAE; the
text encoder stays frozen too, since the animate stage reads the same embeddings. The loss is the video model's
(`FlowLoss`, one latent frame), with t drawn as `--image-t` says. A resumed run goes on to images it has not seen
(`loop.stream_seed`). `--cache-images N` keeps the first N encoded images and then
trains on them alone (`KeptImages`): on a CPU the VAE's encoding is over half of a step.
"""

import json
import re
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from safetensors import safe_open
from transformers import AutoTokenizer

from ..engine.loading import IMAGE_TRANSFORMER
from ..engine.text import tokenize
from .architectures import architecture, build_transformer
from .config import TrainConfig
from .data import Bucket, WorldOptions, make_data
from .export import RUN_CONFIG, dit_weights, load_text_encoder, load_vae
from .grow import grown_state
from .loop import STATE, check_bfloat16, stream_seed, train_loop
from .losses import FlowLoss, sample_image_t
from .token_labels import LabelledFlowLoss, token_labels

MIRRORED = {"left": "right", "right": "left"}


def mirrored(frames: torch.Tensor, caption: str) -> tuple[torch.Tensor, str]:
    """An image (3, T, H, W) flipped left to right, and its caption with "left" and "right" swapped."""
    return frames.flip(-1), re.sub(r"\b(left|right)\b", lambda word: MIRRORED[word.group()], caption)


class RenderedPixels(torch.utils.data.IterableDataset):
    """Endless batches of rendered toy-world images (B, 3, 1, H, W) and captions, half of them mirrored. Each
    DataLoader worker renders its own stream (seeded by its index), so that on a many-core machine rendering keeps
    up with a GPU; worker 0, or no worker, gives the stream a single process renders."""

    def __init__(self, config: TrainConfig, seed: list[int]):
        self.config, self.seed = config, seed

    def __iter__(self):
        worker = torch.utils.data.get_worker_info()
        seed = [*self.seed, worker.id if worker else 0]
        bucket = Bucket(self.config.height, self.config.width, 1)
        data = make_data(self.config.data, [bucket], seed, WorldOptions(p_omit=self.config.caption_omit))
        rng = np.random.default_rng([*seed, 1])  # which images are mirrored
        while True:
            pixels, captions = data.batch(self.config.batch_size)  # (B, 3, 1, H, W)
            for i in np.flatnonzero(rng.random(len(captions)) < 0.5):
                pixels[i], captions[i] = mirrored(pixels[i], captions[i])
            yield pixels, captions


@dataclass
class ImageBatch:
    latents: torch.Tensor  # (B, C, 1, h, w), normalised
    captions: list[str]
    labels: torch.Tensor | None = None  # (B, tokens) token classes (token_labels.py), with --token-weight


class RenderedImages:
    """Endless rendered toy-world images at the model's size (`--image-workers` processes render them), encoded by
    a frozen VAE into normalised latents; with `token_px`, each token's class read off the rendered pixels."""

    def __init__(self, vae, config: TrainConfig, seed: list[int], token_px: int = 0):
        self.vae, self.token_px = vae.eval().requires_grad_(False), token_px
        workers = config.image_workers
        loader = torch.utils.data.DataLoader(
            RenderedPixels(config, seed), batch_size=None, num_workers=workers, persistent_workers=workers > 0
        )
        self.batches = iter(loader)
        self.mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)

    @torch.no_grad()
    def batch(self) -> ImageBatch:
        pixels, captions = next(self.batches)
        latents = self.vae.encode(pixels.to(self.vae.device)).latent_dist.mode()  # (B, C, 1, h, w)
        latents = (latents - self.mean.to(latents.device)) / self.std.to(latents.device)
        labels = token_labels(pixels, self.token_px) if self.token_px else None
        return ImageBatch(latents, list(captions), labels)


class KeptImages:
    """`--cache-images N`: the run's first N encoded images are kept in `folder`, a file a batch (an interrupted run
    keeps what it encoded and renders on from there); once N are kept, every batch is drawn from them. On one CPU
    thread encoding 16 images took 0.87 s of a 1.6 s step: drawing from kept images saves about half of each step,
    over fewer distinct images."""

    def __init__(self, folder: Path, size: int, rng: np.random.Generator):
        self.folder, self.size, self.rng = folder, size, rng
        self.kept = [ImageBatch(**torch.load(path, weights_only=True)) for path in sorted(folder.glob("*.pt"))]
        self.count = sum(len(batch.captions) for batch in self.kept)
        self.pool = None

    @property
    def full(self) -> bool:
        return 0 < self.size <= self.count

    def keep(self, batch: ImageBatch):
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{len(self.kept):06d}.pt"
        kept = replace(batch, latents=batch.latents.half().cpu())  # half precision: ~18 KB an image at 96 x 96
        torch.save(asdict(kept), path.with_suffix(".part"))
        path.with_suffix(".part").rename(path)  # never a half-written file under the final name
        self.kept.append(kept)
        self.count += len(kept.captions)

    def batch(self, batch_size: int) -> ImageBatch:
        if self.pool is None:
            labels = [batch.labels for batch in self.kept]
            self.pool = ImageBatch(
                torch.cat([batch.latents for batch in self.kept])[: self.size],  # (N, C, 1, h, w)
                [caption for batch in self.kept for caption in batch.captions][: self.size],
                torch.cat(labels)[: self.size] if all(label is not None for label in labels) else None,
            )
        picks = self.rng.choice(len(self.pool.captions), batch_size, replace=False)
        labels = self.pool.labels[picks] if self.pool.labels is not None else None
        return ImageBatch(self.pool.latents[picks].float(), [self.pool.captions[i] for i in picks], labels)


def image_batches(vae, config: TrainConfig, folder: Path, seed: list[int], token_px: int = 0):
    """The stage's batches, endless: rendered and encoded, or with `--cache-images`, kept as they are encoded and
    then drawn from what was kept. `seed`: `stream_seed`'s."""
    process = seed[1]  # each process keeps its own
    kept = KeptImages(folder / "images" / str(process), config.cache_images, np.random.default_rng([*seed, 2]))
    if token_px and any(batch.labels is None for batch in kept.kept):
        raise SystemExit("--token-weight: this run's kept images (--cache-images) were kept without token labels.")
    images = None if kept.full else RenderedImages(vae, config, seed, token_px)

    def endless():
        while True:
            if kept.full:
                yield kept.batch(config.batch_size)
                continue
            batch = images.batch()
            if config.cache_images:
                kept.keep(batch)
            yield batch

    return endless()


def check_resumable(config: TrainConfig, folder: Path):
    """The token loss's head is part of a run's saved state: a run goes on with the --token-weight it began with."""
    saved = folder / STATE / "model.safetensors"
    if not saved.exists():
        return
    with safe_open(saved, framework="pt") as state:
        has_head = any(name.startswith("token_head.") for name in state.keys())
    if has_head != bool(config.token_weight):
        began = "with" if has_head else "without"
        raise SystemExit(f"--token-weight: {folder.parent} began {began} the token loss; go on as it began.")


def starting_transformer(config: TrainConfig, text_dim: int, latent_channels: int):
    """`--image-init copy`: the start checkpoint's image model where it has one (a run goes on from an export),
    else a copy of its video transformer, grown deeper (grow.py) where `--architecture` asks for more blocks of its
    size; `fresh`: `--architecture`'s DiT, untrained."""
    from diffusers import WanTransformer3DModel

    start = Path(config.init_from)
    target = architecture(config.architecture).dit
    if config.image_init == "fresh":
        torch.manual_seed(config.seed)
        return build_transformer(target, latent_channels, text_dim)
    subfolder = IMAGE_TRANSFORMER if (start / IMAGE_TRANSFORMER).is_dir() else "transformer"
    trained = WanTransformer3DModel.from_pretrained(start / subfolder, torch_dtype=torch.float32)
    if target.num_layers <= trained.config.num_layers:
        return trained
    grown = build_transformer(target, latent_channels, text_dim)
    try:  # strict, as train.load_dit_weights: every weight of the grown model must have the trained one's size
        grown.load_state_dict(grown_state(trained.state_dict(), target.num_layers))
    except RuntimeError:
        return trained  # blocks of another size: a copy keeps the start's architecture
    return grown


def check_image_options(config: TrainConfig):
    if not config.init_from or not (Path(config.init_from) / "vae").is_dir():
        raise SystemExit(
            "--stage image trains beside a checkpoint's VAE and text encoder: give --init-from a checkpoint folder "
            f"(one with a vae/); got {config.init_from or 'none'}."
        )


def train_image(config: TrainConfig, accelerator: Accelerator):
    check_image_options(config)
    folder = Path(config.out) / "image"
    start = Path(config.init_from)
    vae = load_vae(start / "vae").to(accelerator.device)
    text_encoder = load_text_encoder(start / "text_encoder").requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(start / "tokenizer")
    transformer = starting_transformer(config, text_encoder.config.d_model, vae.config.z_dim)
    check_bfloat16(config, transformer)
    if config.token_weight:
        module = LabelledFlowLoss(transformer, text_encoder, config.dit_foreground_weight, config.token_weight)
    else:
        module = FlowLoss(transformer, text_encoder, config.dit_foreground_weight)
    token_px = vae.config.scale_factor_spatial * transformer.config.patch_size[1] if config.token_weight else 0
    check_resumable(config, folder)
    seed = stream_seed(config, accelerator.process_index, folder)
    batches = image_batches(vae, config, folder, seed, token_px)
    rng = np.random.default_rng([*seed, 3])  # caption dropout and t
    loss_module = module

    def batch_loss(module, step):
        batch = next(batches)
        captions = ["" if rng.random() < config.caption_dropout else c for c in batch.captions]
        tokens = tokenize(tokenizer, captions, config.max_sequence_length)
        known = torch.zeros(len(captions), 1, dtype=torch.bool)
        t = sample_image_t(len(captions), rng, config.image_t)
        inputs = [batch.latents, known, tokens.input_ids, tokens.attention_mask, t]
        if config.token_weight:
            inputs.append(batch.labels)
        loss = module(*(x.to(accelerator.device) for x in inputs))
        return {"loss": loss, **(loss_module.parts if config.token_weight else {})}

    params = [*module.transformer.parameters(), *(module.token_head.parameters() if config.token_weight else [])]
    module, _ = train_loop(config, accelerator, module, params, folder, batch_loss)
    if accelerator.is_main_process:
        module.transformer.eval().save_pretrained(folder / "model", safe_serialization=True)


def image_weights(folder: Path, config: dict):
    """The image stage's transformer: its final `model/`, or, mid-run, its last saved state (with --ema-decay, the
    moving average saved with it), in the architecture it was started with."""
    from diffusers import WanTransformer3DModel

    if (folder / "model").is_dir():
        return WanTransformer3DModel.from_pretrained(folder / "model", torch_dtype=torch.float32)
    run = TrainConfig(**{k: v for k, v in config.items() if k in TrainConfig.__dataclass_fields__})
    latent_channels = json.loads((Path(run.init_from) / "vae" / "config.json").read_text())["z_dim"]
    text_dim = json.loads((Path(run.init_from) / "text_encoder" / "config.json").read_text())["d_model"]
    transformer = starting_transformer(run, text_dim, latent_channels)
    transformer.load_state_dict(dit_weights(folder)["transformer"])
    return transformer


def export_image(config: TrainConfig):
    """The start checkpoint with the trained image model in its `image_transformer/` (half precision); the run's
    settings in its sora.json, beside the video model's."""
    out = Path(config.out) / "image"
    run = json.loads((out / RUN_CONFIG).read_text())
    export_to, start = Path(config.export_to), Path(run["init_from"])
    if export_to.resolve() != start.resolve():
        shutil.copytree(start, export_to, dirs_exist_ok=True, ignore=shutil.ignore_patterns(IMAGE_TRANSFORMER))
    transformer = image_weights(out, run)
    transformer.to(torch.float16).save_pretrained(export_to / IMAGE_TRANSFORMER, safe_serialization=True)
    # diffusers records the folder the weights were read from: a path on the machine that trained them
    model_config = export_to / IMAGE_TRANSFORMER / "config.json"
    model_config.write_text(
        json.dumps({k: v for k, v in json.loads(model_config.read_text()).items() if k != "_name_or_path"}, indent=2)
        + "\n"
    )
    record = export_to / "sora.json"
    sora = json.loads(record.read_text()) if record.is_file() else {"defaults": {}}
    # the start by its folder's name: a path on the machine that trained it means nothing elsewhere
    record_of_run = {key: value for key, value in run.items() if key not in ("out", "export_to")}
    sora["image_train_config"] = {**record_of_run, "init_from": start.name}
    record.write_text(json.dumps(sora, indent=2) + "\n")
    print(f"exported the image model to {export_to / IMAGE_TRANSFORMER}")

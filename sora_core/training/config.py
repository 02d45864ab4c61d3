"""What a training run is told (`TrainConfig`, one field per command-line flag of `python -m sora_core.train`) and
the checks that turn a wrong value into one sentence naming its flag before any work."""

from dataclasses import dataclass, field
from pathlib import Path

from accelerate.tracking import LOGGER_TYPE_TO_CLASS

from .. import toyworld
from .data import Bucket
from .losses import IMAGE_T

# "decoder": the VAE's decoder fine-tuned alone (latents, hence the DiT, stay valid); "all": each in turn; "init": an
# untrained checkpoint; "image": a checkpoint's own image model (image_model.py)
STAGES = ("vae", "dit", "decoder", "export", "all", "init", "image")


@dataclass
class TrainConfig:
    stage: str = "vae"  # one of STAGES
    out: str = "runs/sora-tiny"
    data: str = "toyworld"  # or a folder of videos with .txt captions
    architecture: str = "sora-tiny"
    # The toy world's frame size (VAE crops are cut from it), the DiT buckets' size and the exported defaults.
    height: int = 96
    width: int = 96
    num_frames: int = 17
    steps: int = 4000
    vae_steps: int = 2200  # stage 1's length and lr in --stage all (stage 2 takes steps and lr, stage 3 decoder_*)
    vae_lr: float = 2e-3
    decoder_steps: int = 400
    decoder_lr: float = 3e-4
    batch_size: int = 8
    lr: float = 6e-4
    warmup: int = 50
    clip: float = 1.0
    kl_weight: float = 1e-6
    foreground_weight: float = 1.0  # VAE: >1 weighs pixels far from a clip's median colour more
    colour_weight: float = 0.1  # VAE: pull latent channels 0-2 towards the cell's opponent colours (VAELoss)
    dit_foreground_weight: float = 5.0  # DiT: weight of latent positions far from their frame's background
    dit_path_weight: bool = False  # DiT: the same weight where the object was a latent frame earlier (FlowLoss)
    dit_motion_weight: float = 0.0  # DiT: weight of the frame-to-frame change term (FlowLoss)
    sample_posterior: bool = False  # decode a posterior sample instead of its mean (see VAELoss)
    latent_noise: float = 0.0  # VAE: noise (in latent stds) added to what the decoder sees (see VAELoss)
    # Text tokens the DiT sees, written into the checkpoint's defaults; sampling pads prompts to the same length.
    # Wan's cross-attention has no padding mask, and 116 pads of 128 diluted the prompt's words ~2x (measured).
    max_sequence_length: int = 24
    caption_dropout: float = 0.1
    caption_omit: float = 0.15  # DiT: chance a cached caption leaves out each of colour, motion and background
    known_share: float = 0.3  # DiT: share of cached clips with known frames (a model can copy those, not read text)
    # DiT: chance a cached clip without known frames gets its first latent frame known at training time (a causal
    # VAE encodes a prefix the same either way). Without known frames the trajectory is readable from the noisy
    # input, or, at high noise, needs absolute positions that RoPE does not give, so the motion words hardly
    # lowered the loss: swapping them changed it by under 1 % (2026-12-03). From one known frame only the words
    # tell which way the object goes.
    first_frame_share: float = 0.0
    high_noise_share: float = 0.0  # DiT: share of t drawn from [0.9, 1) (losses.sample_t)
    high_noise_known_only: bool = False  # DiT: that share only for clips with known frames; the rest logit-normal
    # DiT, toy world: cached videos come as one scene under every motion, the same first frame in each
    # (`toyworld.sample_paired_clips`), so from a known first frame only the motion word tells them apart.
    paired_motions: bool = False
    # DiT, toy world: draw the main object from these values only (empty: all). A curriculum's early stages: one
    # scene, then every appearance with two motions (see the model card); each stage in its own --out.
    colors: list[str] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)
    motions: list[str] = field(default_factory=list)
    backgrounds: list[str] = field(default_factory=list)
    cache_clips: int = 640  # clips the DiT stage renders and encodes once, then trains on
    seed: int = 0
    threads: int = 2
    # "bf16": bfloat16 autocast, where the CPU has native bfloat16 matmuls (AVX-512 BF16 / AMX) or on a GPU; a DiT
    # step of batch 16 x 180 tokens on one thread took 1.5 s against 2.1 s in float32 on an AVX-512 BF16 CPU. On a
    # CPU without them bfloat16 is 10-60x slower: keep "fp32" there. Checked against float32 before the first step
    # (`check_bfloat16`): on Intel AMX CPUs the DiT's patch embedding is wrong in bfloat16 and runs in float32.
    precision: str = "fp32"
    # Export the weights' moving average (training/ema.py) instead of the last step's; 0: off. The average's horizon
    # is ~1 / (1 - decay) steps, and diffusers' warm-up keeps it under ~step / 10 early in a run.
    ema_decay: float = 0.0
    save_every: int = 100
    max_minutes: float = 0.0  # stop (saved, resumable) after this much training time in this run; 0: no limit
    log_every: int = 10
    buckets: list[tuple[int, int, int]] = field(default_factory=list)  # (height, width, frames)
    init_from: str = ""  # a checkpoint folder whose weights a fresh stage starts from (fine-tuning)
    decoder_only: bool = False  # VAE stage: train the decoder alone, so latents (and a DiT's cache) stay valid
    export_to: str = ""
    # --stage image: "copy" starts from --init-from's image model (or its video transformer), "fresh" from
    # --architecture's untrained DiT; t drawn "logit-normal" (SD3's), "shifted" (the video model's) or "uniform"
    image_init: str = "copy"
    image_t: str = "logit-normal"
    image_workers: int = 0  # --stage image: processes rendering images beside training (0: in the training process)
    cache_images: int = 0  # --stage image: keep the first N encoded images and then train on them alone (0: off)
    token_weight: float = 0.0  # --stage image: weight of the token-class loss (token_labels.py), set at a run's start
    log_with: str = ""  # another accelerate tracker beside loss.csv: tensorboard, wandb, ... (where installed)


DEFAULT_BUCKETS = {
    # Small windows around the object: the VAE is convolutional, and small crops make a step several times cheaper.
    # Long clips matter: trained on 5-9 frames only, latent frames past the third decayed from 32 dB to ~20 dB.
    "vae": [(32, 32, 17), (16, 16, 33), (32, 32, 9), (48, 48, 5), (64, 64, 5)],
    # The decoder's last polish: whole frames (where a colour bias shows) and long windows.
    "decoder": [(0, 0, 5), (64, 64, 17), (32, 32, 33)],
    # At the model's size (0 x 0). A bucket listed twice gets twice the clips. Images teach appearance at a
    # fraction of the cost. Other sizes and aspect ratios work the same way (add e.g. 96x160x17).
    "dit": [(0, 0, 17), (0, 0, 17), (0, 0, 33), (0, 0, 1), (0, 0, 1)],
}


def buckets_of(config: TrainConfig) -> list[Bucket]:
    """The stage's buckets; a size of 0 x 0 stands for the model's own (`height` x `width`)."""
    sizes = config.buckets or DEFAULT_BUCKETS[config.stage]
    return [Bucket(h or config.height, w or config.width, t) for h, w, t in sizes]


def subset_of(config: TrainConfig) -> toyworld.Subset:
    """The toy world's part the DiT stage draws from; a wrong value is one sentence naming its flag."""
    lists = {"colors": config.colors, "shapes": config.shapes, "motions": config.motions}
    lists["backgrounds"] = config.backgrounds
    try:
        subset = toyworld.Subset(**{name: tuple(values) for name, values in lists.items()})
        subset.pool("train")
    except ValueError as error:
        raise SystemExit(f"--colors / --shapes / --motions / --backgrounds: {error}") from None
    if subset != toyworld.Subset() and config.data != "toyworld":
        raise SystemExit(f"--colors / --shapes / --motions / --backgrounds choose toy-world scenes, not {config.data}")
    return subset


def check_training_options(config: TrainConfig):
    """Wrong options are one sentence naming the flag, before any work."""
    subset_of(config)
    if config.init_from and not Path(config.init_from).is_dir():
        raise SystemExit(f"--init-from must be a checkpoint folder; {config.init_from} is not a folder.")
    if config.paired_motions and config.data != "toyworld":
        raise SystemExit("--paired-motions renders the toy world; it does not apply to --data " + config.data + ".")
    if not 0 <= config.ema_decay < 1:
        raise SystemExit(f"--ema-decay must be at least 0 (off) and below 1, not {config.ema_decay}.")
    if config.image_init not in ("copy", "fresh"):
        raise SystemExit(f"--image-init must be copy or fresh, not {config.image_init!r}.")
    if config.image_workers < 0:
        raise SystemExit(
            f"--image-workers must be 0 (render in the training process) or more, not {config.image_workers}."
        )
    if config.cache_images and config.cache_images < config.batch_size:
        raise SystemExit(
            f"--cache-images must be 0 (render every step) or at least --batch-size ({config.batch_size}), "
            f"not {config.cache_images}."
        )
    if config.token_weight < 0:
        raise SystemExit(f"--token-weight must be 0 (off) or more, not {config.token_weight}.")
    if config.image_t not in IMAGE_T:
        raise SystemExit(f"--image-t must be one of {', '.join(IMAGE_T)}; not {config.image_t!r}.")
    if config.precision not in ("fp32", "bf16"):
        raise SystemExit(f"--precision must be fp32 or bf16, not {config.precision!r}.")
    if config.log_with and config.log_with not in LOGGER_TYPE_TO_CLASS:
        known = ", ".join(sorted(LOGGER_TYPE_TO_CLASS))
        raise SystemExit(f"--log-with must be one of {known}; got {config.log_with!r}.")

"""Small Wan-format architectures (the bundled `sora-tiny`, or one read from a JSON file): their sizes, and the
checkpoint folder they are written as.

Every component is a stock diffusers / transformers class; this file only chooses their sizes and
writes them as a diffusers `WanPipeline` folder, so `WanPipeline.from_pretrained` loads the result too.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel, WanVACETransformer3DModel
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import ByT5Tokenizer, PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

from .. import toyworld


@dataclass
class VAEConfig:
    # 4x spatial, 4x temporal: on flat-coloured toy clips the 8x of the Wan VAE stalled far below 30 dB on CPU
    # budgets, while this reached 30 dB on an overfit batch in ~200 steps (and a step costs a fifth).
    base_dim: int = 16
    z_dim: int = 16
    dim_mult: list[int] = field(default_factory=lambda: [1, 2, 4])
    num_res_blocks: int = 1
    temperal_downsample: list[bool] = field(default_factory=lambda: [True, True])
    # Wan2.2's VAE: residual down- and up-sampling, and pixels patchified `patch_size` x `patch_size` into channels
    # before the encoder (so the spatial stride is 2 ** stages x patch_size: 16 on the 5B model)
    is_residual: bool = False
    patch_size: int | None = None
    decoder_base_dim: int | None = None


@dataclass
class DiTConfig:
    # A token carries 1x4x4 latent pixels x 16 channels = 256 values, and the velocity it predicts holds that
    # much noise, so the width (heads x head dim) must exceed 256: at 192 the noise could not pass through, and
    # x0 predictions kept noise textures at every t (measured). Wider and shallower costs 1.6x, not 4x.
    patch_size: tuple[int, int, int] = (1, 4, 4)  # (frames, height, width) of latent per token
    num_layers: int = 4
    num_attention_heads: int = 6
    attention_head_dim: int = 64
    ffn_dim: int = 1024
    freq_dim: int = 64
    # VACE (WanVACETransformer3DModel): the blocks that take a control hint; empty for a plain Wan transformer.
    vace_layers: list[int] = field(default_factory=list)


@dataclass
class TextConfig:
    # "words": one token per toy-world word (a locally built WordLevel tokenizer; other words become <unk>, which
    # is what the offline prompt rewriter is for) — a text encoder trained from scratch on a CPU budget learns
    # these far sooner than words spelled in bytes. "bytes": ByT5's byte-level tokenizer, for any text.
    tokenizer: str = "words"
    d_model: int = 128
    d_kv: int = 32
    d_ff: int = 256
    num_layers: int = 2
    num_heads: int = 4


@dataclass
class ArchitectureConfig:
    vae: VAEConfig = field(default_factory=VAEConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    text: TextConfig = field(default_factory=TextConfig)
    flow_shift: float = 3.0
    # Wan2.2-TI2V's pipeline flag: every token carries its own timestep, a known first frame's at 0 (written into
    # model_index.json; our loader then holds known frames "clean", as that model was trained)
    expand_timesteps: bool = False


ARCHITECTURES: dict[str, ArchitectureConfig] = {
    "sora-tiny": ArchitectureConfig(),
    # knob 1 (research log, 2026-12-04): 8-px tokens (4x the tokens a frame) for the shapes, which fill only
    # 2 x 2 tokens of 16 px; a token then holds 64 values, so width 256 passes its noise.
    "sora-tiny-grid2": ArchitectureConfig(dit=DiTConfig(patch_size=(1, 2, 2), num_attention_heads=4)),
    # Knob 1's other half (2026-12-04): twice the blocks, grown from a trained sora-tiny (grow.py) rather than fresh.
    "sora-tiny-deep": ArchitectureConfig(dit=DiTConfig(num_layers=8)),
}


def architecture(name: str) -> ArchitectureConfig:
    """A name in ARCHITECTURES, or a JSON file of an ArchitectureConfig (its fields; those left out keep their
    defaults), e.g. the tests' tiny ones."""
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    path = Path(name)
    if path.suffix != ".json" or not path.is_file():
        raise ValueError(f"--architecture must be one of {', '.join(ARCHITECTURES)} or a .json file; got {name!r}.")
    fields = {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}  # "_comment"
    try:
        dit = fields.get("dit", {})
        dit = DiTConfig(**{**dit, "patch_size": tuple(dit.get("patch_size", DiTConfig.patch_size))})
        parts = dict(vae=VAEConfig(**fields.get("vae", {})), dit=dit, text=TextConfig(**fields.get("text", {})))
        flags = dict(flow_shift=fields.get("flow_shift", ArchitectureConfig.flow_shift))
        flags["expand_timesteps"] = fields.get("expand_timesteps", False)
        return ArchitectureConfig(**parts, **flags)
    except TypeError as error:
        raise ValueError(f"--architecture {path.name}: {error}.") from None


def build_vae(config: VAEConfig) -> AutoencoderKLWan:
    # Identity latent statistics until a trained VAE measures its own.
    patch = config.patch_size or 1
    return AutoencoderKLWan(
        base_dim=config.base_dim,
        decoder_base_dim=config.decoder_base_dim,
        z_dim=config.z_dim,
        dim_mult=list(config.dim_mult),
        num_res_blocks=config.num_res_blocks,
        temperal_downsample=list(config.temperal_downsample),
        is_residual=config.is_residual,
        in_channels=3 * patch * patch,
        out_channels=3 * patch * patch,
        patch_size=config.patch_size,
        scale_factor_spatial=2 ** len(config.temperal_downsample) * patch,
        scale_factor_temporal=2 ** sum(config.temperal_downsample),
        latents_mean=[0.0] * config.z_dim,
        latents_std=[1.0] * config.z_dim,
    )


def word_tokenizer(words) -> PreTrainedTokenizerFast:
    """A T5-style tokenizer over a fixed word list: lower-cased, split on spaces and punctuation, `</s>` last."""
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{word: i + 3 for i, word in enumerate(sorted(set(words)))}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def build_text_encoder(config: TextConfig) -> tuple[PreTrainedTokenizerFast | ByT5Tokenizer, UMT5EncoderModel]:
    if config.tokenizer == "words":
        tokenizer = word_tokenizer(toyworld.caption_words())
    else:
        tokenizer = ByT5Tokenizer()  # byte-level: no vocabulary file, nothing to download
    encoder_config = UMT5Config(
        vocab_size=len(tokenizer),
        d_model=config.d_model,
        d_kv=config.d_kv,
        d_ff=config.d_ff,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
    )
    return tokenizer, UMT5EncoderModel(encoder_config)


def build_transformer(config: DiTConfig, latent_channels: int, text_dim: int, vae_stride: int = 8):
    sizes = dict(
        patch_size=tuple(config.patch_size),
        num_attention_heads=config.num_attention_heads,
        attention_head_dim=config.attention_head_dim,
        in_channels=latent_channels,
        out_channels=latent_channels,
        text_dim=text_dim,
        freq_dim=config.freq_dim,
        ffn_dim=config.ffn_dim,
        num_layers=config.num_layers,
    )
    if not config.vace_layers:
        return WanTransformer3DModel(**sizes)
    # VACE's control stream: inactive and reactive latents, then the mask packed stride x stride per latent pixel.
    control_channels = 2 * latent_channels + vae_stride**2
    return WanVACETransformer3DModel(**sizes, vace_layers=list(config.vace_layers), vace_in_channels=control_channels)


def build_scheduler(flow_shift: float) -> UniPCMultistepScheduler:
    # The same scheduler family and settings as the Wan2.1 diffusers checkpoints.
    return UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=flow_shift
    )


def build_components(config: ArchitectureConfig, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    vae = build_vae(config.vae)
    tokenizer, text_encoder = build_text_encoder(config.text)
    stride = vae.config.scale_factor_spatial
    transformer = build_transformer(config.dit, config.vae.z_dim, config.text.d_model, stride)
    scheduler = build_scheduler(config.flow_shift)
    return dict(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer, scheduler=scheduler)


def save_checkpoint(
    components: dict, folder, dtype=torch.float32, sora_config: dict | None = None, expand_timesteps: bool = False
) -> Path:
    """Write a diffusers WanPipeline (or, for a VACE transformer, WanVACEPipeline) folder (safetensors weights)
    plus our optional `sora.json`; `expand_timesteps` marks a Wan2.2-TI2V-style checkpoint."""
    from diffusers import WanPipeline, WanVACEPipeline

    folder = Path(folder)
    kind = WanVACEPipeline if isinstance(components["transformer"], WanVACETransformer3DModel) else WanPipeline
    pipe = kind(**{k: components[k] for k in ("vae", "text_encoder", "tokenizer", "transformer", "scheduler")})
    if expand_timesteps:
        pipe.register_to_config(expand_timesteps=True)
    pipe.to(dtype)
    pipe.save_pretrained(folder, safe_serialization=True)
    pipe.to(torch.float32)
    if sora_config is not None:
        (folder / "sora.json").write_text(json.dumps(sora_config, indent=2) + "\n")
    return folder

"""Text side: prompt cleaning and T5 encoding, exactly as diffusers' `WanPipeline` does them.

The DiT cross-attends to these token embeddings; padding positions are zeroed so that an encoder's
output past the prompt's end carries nothing.
"""

import html
import re

import torch

try:  # WanPipeline fixes mojibake with ftfy when it is installed; so do we, to encode identically
    import ftfy
except ImportError:  # pragma: no cover - depends on the environment
    ftfy = None


def clean_prompt(text: str) -> str:
    if ftfy is not None:
        text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def tokenize(tokenizer, prompts: list[str], max_sequence_length: int):
    """Cleaned prompts to token ids and attention masks (B, max_sequence_length), padded as WanPipeline pads."""
    return tokenizer(
        [clean_prompt(p) for p in prompts],
        padding="max_length",
        max_length=max_sequence_length,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )


def embed_tokens(text_encoder, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Token embeddings (B, L, D), zero past each prompt's end. The mask is a contiguous prefix, so zeroing past
    it equals WanPipeline's slice-and-pad. Training calls this with gradients; inference through encode_prompts."""
    hidden = text_encoder(input_ids, attention_mask).last_hidden_state
    return hidden * attention_mask.unsqueeze(-1).to(hidden.dtype)


@torch.no_grad()
def encode_prompts(tokenizer, text_encoder, prompts: list[str], max_sequence_length: int, device) -> torch.Tensor:
    """Token embeddings (B, max_sequence_length, D) on `device`, zero past each prompt's end."""
    tokens = tokenize(tokenizer, prompts, max_sequence_length)
    encoder_device = next(text_encoder.parameters()).device
    embeds = embed_tokens(text_encoder, tokens.input_ids.to(encoder_device), tokens.attention_mask.to(encoder_device))
    return embeds.to(device)

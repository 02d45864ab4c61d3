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


@torch.no_grad()
def encode_prompts(tokenizer, text_encoder, prompts: list[str], max_sequence_length: int, device) -> torch.Tensor:
    """Token embeddings (B, max_sequence_length, D), zero past each prompt's end."""
    prompts = [clean_prompt(p) for p in prompts]
    tokens = tokenizer(
        prompts,
        padding="max_length",
        max_length=max_sequence_length,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    encoder_device = next(text_encoder.parameters()).device
    hidden = text_encoder(tokens.input_ids.to(encoder_device), tokens.attention_mask.to(encoder_device))
    token_embeds = hidden.last_hidden_state.to(device)  # (B, L, D)
    keep = tokens.attention_mask.to(device).bool().unsqueeze(-1)
    # The mask is a contiguous prefix, so zeroing past it equals WanPipeline's slice-and-pad.
    return torch.where(keep, token_embeds, torch.zeros_like(token_embeds))

"""An auxiliary loss for the image model that uses what the renderer knows (REPA-style alignment, with privileged
labels): a linear head on a middle block's tokens predicts each token's class (background, or the object's colour
and shape) from the noisy input and the text, so that the words must be represented where the object is, at every
t (`--token-weight`). The labels are read off the clean rendered image with the toy world's detector, which reads
every rendered combination right; an image without exactly one object leaves its object tokens unscored, and so do
tokens the object only grazes. The head trains beside the transformer and is not exported.
"""

import numpy as np
import torch

from ..engine.video import to_frames
from ..toyworld import world as toyworld
from ..toyworld.detector import count_objects, foreground, read
from .losses import FlowLoss

IGNORED = -100  # torch's cross_entropy leaves these tokens out
BACKGROUND = 0
CLASSES = 1 + len(toyworld.COLORS) * len(toyworld.SHAPES)
COVERED = 0.25  # share of a token's pixels the object must cover for the token to be the object's


def object_class(colour: str, shape: str) -> int:
    return 1 + list(toyworld.COLORS).index(colour) * len(toyworld.SHAPES) + list(toyworld.SHAPES).index(shape)


def frame_labels(frame: np.ndarray, token_px: int) -> np.ndarray:
    """A uint8 image (H, W, 3) -> (H / token_px, W / token_px) token classes."""
    mask = foreground(frame)  # (H, W)
    height, width = mask.shape
    cover = mask.reshape(height // token_px, token_px, width // token_px, token_px).mean((1, 3))
    reading = read(frame[None])
    known = count_objects(frame) == 1 and reading.color is not None and reading.shape is not None
    label = object_class(reading.color, reading.shape) if known else IGNORED
    labels = np.where(cover >= COVERED, label, BACKGROUND)
    labels[(cover > 0) & (cover < COVERED)] = IGNORED
    return labels


def token_labels(pixels: torch.Tensor, token_px: int) -> torch.Tensor:
    """Rendered images (B, 3, 1, H, W) in [-1, 1] -> (B, tokens) classes, tokens in the transformer's order (rows
    of the token grid, top to bottom)."""
    frames = [to_frames(image)[0] for image in pixels]  # each (H, W, 3) uint8
    return torch.from_numpy(np.stack([frame_labels(frame, token_px).reshape(-1) for frame in frames])).long()


class LabelledFlowLoss(FlowLoss):
    """`FlowLoss` plus `token_weight` times the head's cross-entropy on the token labels. Its state keeps the
    transformer's and text encoder's names, so exports read it as they read `FlowLoss`'s."""

    def __init__(self, transformer, text_encoder, foreground_weight: float, token_weight: float):
        super().__init__(transformer, text_encoder, foreground_weight)
        width = transformer.config.num_attention_heads * transformer.config.attention_head_dim
        self.token_head = torch.nn.Linear(width, CLASSES)
        self.token_weight = token_weight
        self.block = len(transformer.blocks) // 2 - 1  # the middle block's output: half the depth
        self.parts = {}

    def forward(self, latents, known, input_ids, attention_mask, t, labels):
        seen = {}
        hook = self.transformer.blocks[self.block].register_forward_hook(lambda *args: seen.update(tokens=args[2]))
        try:
            flow = super().forward(latents, known, input_ids, attention_mask, t)
        finally:
            hook.remove()
        logits = self.token_head(seen["tokens"].float())  # (B, tokens, CLASSES)
        if (labels == IGNORED).all():  # nothing to score (cross_entropy would give NaN)
            tokens = logits.sum() * 0
        else:
            tokens = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORED)
        self.parts = {"flow": flow.detach(), "tokens": tokens.detach()}
        return flow + self.token_weight * tokens

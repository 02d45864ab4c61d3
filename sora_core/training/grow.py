"""A deeper transformer from a trained one (knob 1, "more layers", without training from scratch).

Each trained block is kept, and the new ones are copies of their neighbours whose three output projections (self-
attention, cross-attention, feed-forward) are zero: every block adds its outputs to the residual stream, so the grown
model computes exactly what the trained one did, and the copies start from features that fit their depth.
"""

import torch

# The projections that write into the residual stream; zero, they make a block the identity.
OUTPUT_PROJECTIONS = ("attn1.to_out.0", "attn2.to_out.0", "ffn.net.2")


def block_count(state: dict[str, torch.Tensor]) -> int:
    return len({name.split(".")[1] for name in state if name.startswith("blocks.")})


def source_blocks(trained: int, grown: int) -> list[int]:
    """For each block of the grown model, the trained block it starts from (in order, each one used in turn)."""
    return [index * trained // grown for index in range(grown)]


def grown_state(trained_state: dict[str, torch.Tensor], grown: int) -> dict[str, torch.Tensor]:
    """`trained_state` (a WanTransformer3DModel's) with `grown` blocks: trained block i at its first place, its
    copies after it with zero output projections."""
    trained = block_count(trained_state)
    state = {name: value for name, value in trained_state.items() if not name.startswith("blocks.")}
    seen = set()
    for index, source in enumerate(source_blocks(trained, grown)):
        copy = source in seen
        seen.add(source)
        prefix = f"blocks.{source}."
        for name, value in trained_state.items():
            if not name.startswith(prefix):
                continue
            inner = name[len(prefix) :]
            silent = copy and inner.rsplit(".", 1)[0] in OUTPUT_PROJECTIONS
            state[f"blocks.{index}.{inner}"] = torch.zeros_like(value) if silent else value.clone()
    return state

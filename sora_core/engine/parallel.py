"""Context parallelism: one clip's tokens split across processes (GPUs), through diffusers' own
`ContextParallelConfig` and the Wan transformer's `_cp_plan` (its RoPE, first block and output projection are split
and gathered by the library's hooks). Each process runs the same sampling call with the same seed and gets the same
frames; our sampling loop and workflows do not change.

- "ulysses" splits the attention heads across processes (all-to-all); their count must divide by the degree.
- "ring" passes keys and values round the processes; it needs an attention backend that returns log-sum-exp
  (flash or cuDNN attention on a GPU; PyTorch's native attention does not).

diffusers 0.42 places each rank on an accelerator (`torch.accelerator.device_count()`): with a CPU-only torch it
cannot start, and says so here in one sentence. Tested on two CPU processes (gloo) with that count stood in for
(tests/test_parallel.py); `benchmarks/bench_context_parallel.py` is the script for a machine with GPUs.
"""

import torch.distributed as dist

KINDS = ("ulysses", "ring")


def enable_context_parallel(transformer, degree: int, kind: str = "ulysses"):
    """Split `transformer`'s tokens across `degree` processes (torch.distributed started with that many: `accelerate
    launch`, `torchrun`). ValueError in one sentence for what cannot work."""
    from diffusers import ContextParallelConfig

    if kind not in KINDS:
        raise ValueError(f"context parallelism is ulysses or ring; got {kind!r}.")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 2:
        raise ValueError(f"--context-parallel must be 2 or more; got {degree}.")
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    if world != degree:
        raise ValueError(f"--context-parallel {degree} needs {degree} processes (accelerate launch); got {world}.")
    heads = transformer.config.num_attention_heads
    if kind == "ulysses" and heads % degree:
        raise ValueError(f"--context-parallel {degree}: the model's {heads} attention heads do not divide by it.")
    try:
        transformer.enable_parallelism(config=ContextParallelConfig(**{f"{kind}_degree": degree}))
    except ZeroDivisionError:  # no accelerator to place the ranks on
        raise ValueError("context parallelism needs a GPU a process: diffusers found no accelerator.") from None

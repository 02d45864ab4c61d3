"""An exponential moving average of a stage's trained weights (diffusers' `EMAModel`), the weights a run with
`--ema-decay` ends with and exports: sampling from an average over the last ~1 / (1 - decay) steps smooths out the
step-to-step noise of the last ones (tried for the image stage's noise).

The average is written beside the training state as named safetensors at every save (the export reads it mid-run,
`export.dit_weights`) and read back from there when the run resumes.
"""

from pathlib import Path

import torch
from diffusers.training_utils import EMAModel
from safetensors.torch import load_file, save_file

EMA_FILE = "ema.safetensors"


class WeightAverage:
    """The moving average of `module`'s trainable parameters, named as the module names them."""

    def __init__(self, module: torch.nn.Module, decay: float, state_dir: Path, step: int):
        named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        self.names, self.params = [name for name, _ in named], [p for _, p in named]
        self.average = EMAModel(self.params, decay=decay)
        saved = state_dir / EMA_FILE
        if saved.exists():  # a resumed run goes on from the average it saved, at its step
            tensors = load_file(saved)
            self.average.shadow_params = [tensors[name].clone() for name in self.names]
            self.average.optimization_step = step

    def step(self):
        self.average.step(self.params)

    def save(self, state_dir: Path):
        tensors = {name: p.detach().contiguous() for name, p in zip(self.names, self.average.shadow_params)}
        save_file(tensors, state_dir / EMA_FILE)

    def copy_to_module(self):
        """The module's parameters become the average (the run's result)."""
        self.average.copy_to(self.params)

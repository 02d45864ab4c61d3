import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sora_core.engine.fast import FastLora  # noqa: E402
from sora_core.training.architectures import architecture, build_components, save_checkpoint  # noqa: E402

# The tests' architectures: the smallest shapes the classes accept, so a whole pipeline runs in well under a second.
TINY_ARCHITECTURE = str(ROOT / "tests" / "architectures" / "tiny.json")
TINY_VACE_ARCHITECTURE = str(ROOT / "tests" / "architectures" / "tiny-vace.json")


def tiny_variant(path: Path, part: str, **changes) -> Path:
    """The tests' tiny architecture with some fields of one part ("vae", "dit", "text") changed, written to `path`."""
    spec = json.loads(Path(TINY_ARCHITECTURE).read_text())
    path.write_text(json.dumps({**spec, part: {**spec[part], **changes}}))
    return path


# One thread a process under `-n auto` (a process a core: 30 -> 22 minutes on 2 cores); two in a single process on
# 2 cores. SORA_TEST_THREADS=1 leaves a core to a background training run.
DEFAULT_THREADS = "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2"
torch.set_num_threads(int(os.environ.get("SORA_TEST_THREADS", DEFAULT_THREADS)))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random Wan-format pipeline folder, built here (nothing downloaded)."""
    folder = tmp_path_factory.mktemp("tiny") / "tiny-wan"
    # Trained-on-the-toy-world defaults, as `train.py` writes them: the offline prompt rewriter applies.
    save_checkpoint(
        build_components(architecture(TINY_ARCHITECTURE), seed=0),
        folder,
        sora_config={"defaults": {"enhancer": "toyworld"}},
    )
    return folder


@pytest.fixture(scope="session")
def tiny_pipe(tiny_checkpoint):
    from sora_core import SoraPipeline

    return SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")


def random_frames(num_frames, height, width, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def smooth_frames(num_frames, height, width, seed=0) -> np.ndarray:
    """A moving gradient: compresses well, so codec round trips can be checked tightly."""
    y, x = np.mgrid[0:height, 0:width]
    frames = [
        np.stack([(x * 4 + t * 3 + seed) % 256, (y * 4) % 256, np.full_like(x, 128)], -1) for t in range(num_frames)
    ]
    return np.stack(frames).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_vace_checkpoint(tmp_path_factory) -> Path:
    """A tiny random VACE-format pipeline folder (WanVACEPipeline, WanVACETransformer3DModel), built here."""
    folder = tmp_path_factory.mktemp("tiny-vace") / "tiny-wan-vace"
    save_checkpoint(build_components(architecture(TINY_VACE_ARCHITECTURE), seed=0), folder)
    return folder


@pytest.fixture(scope="session")
def tiny_vace_pipe(tiny_vace_checkpoint):
    from sora_core import SoraPipeline

    return SoraPipeline.from_pretrained(str(tiny_vace_checkpoint), device="cpu")


def tiny_lora(transformer, folder):
    """A random LoRA on the attention and FFN projections of `transformer`, saved the way diffusers saves one."""
    import copy

    from diffusers import WanPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    targets = ["to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2"]
    model = copy.deepcopy(transformer)
    model.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=targets, init_lora_weights=False))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_" in name:
                parameter.copy_(torch.randn_like(parameter) * 0.2)
    WanPipeline.save_lora_weights(folder, transformer_lora_layers=get_peft_model_state_dict(model))
    return FastLora(source=str(folder), weight_name="pytorch_lora_weights.safetensors", scale=0.7)

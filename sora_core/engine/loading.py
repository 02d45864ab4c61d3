"""Loading a checkpoint: a local folder, or a Hub snapshot at a pinned revision, into diffusers / transformers
components and the preset it runs with.

Only configs, tokenizer files and safetensors are downloaded (no pickles, no remote code), and
`HF_HUB_OFFLINE` is honoured by huggingface_hub itself.
"""

import json
import socket
import threading
import urllib.parse
from dataclasses import replace
from pathlib import Path

import diffusers
import psutil
import torch
import transformers
from diffusers import AutoencoderKLWan, WanTransformer3DModel, WanVACETransformer3DModel

from .presets import ASSETS_DIR, PRESETS, Preset

BUNDLED = ASSETS_DIR / "sora-tiny"

ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]
# A plain Wan checkpoint, or a VACE one (model_index.json names its class): one loading path for both.
TRANSFORMERS = {"WanTransformer3DModel": WanTransformer3DModel, "WanVACETransformer3DModel": WanVACETransformer3DModel}
COMPONENTS = ("vae", "text_encoder", "tokenizer", "transformer", "scheduler")
# An optional sixth part, not in model_index.json (so diffusers' WanPipeline loads the folder and ignores it): the
# transformer that makes images, where a checkpoint trains one apart from its video model.
IMAGE_TRANSFORMER = "image_transformer"


class ModelLoadError(RuntimeError):
    """A checkpoint that cannot be found or loaded; the message is one line saying what to do."""


def check_memory(preset: Preset, device: str, force: bool = False):
    """Refuse up front a float32 model that cannot fit in this machine's memory."""
    if force or device != "cpu" or preset.cpu_memory_gb <= 0:
        return
    total_gb = psutil.virtual_memory().total / 2**30
    if preset.cpu_memory_gb > total_gb:
        raise ModelLoadError(
            f"{preset.name} needs about {preset.cpu_memory_gb:.0f} GB of memory in float32 on the CPU, and this "
            f"machine has {total_gb:.0f} GB; run it on a GPU, choose sora-tiny, or pass force=True (--force)."
        )


def check_device(device) -> torch.device:
    """The device asked for, as torch names it; one sentence, before any weights load, for a name torch does not
    know or a GPU this machine does not have."""
    try:
        checked = torch.device(device)
    except (RuntimeError, TypeError):
        raise ModelLoadError(f"device must be a torch device such as 'cpu' or 'cuda'; got {device!r}.") from None
    if checked.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} was asked for, but torch here sees no CUDA GPU; use device='cpu'.")
    return checked


def hub_reachable(endpoint: str, timeout: float = 2.0) -> bool:
    """Whether the Hub answers a TCP connection within `timeout` seconds (name lookup included). Asked once
    before a download: without it, an offline machine waited through huggingface_hub's five retries (23 s) before
    the cache's answer."""
    url = urllib.parse.urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    answered = threading.Event()

    def connect():
        try:
            socket.create_connection((url.hostname, port), timeout=timeout).close()
            answered.set()
        except OSError:
            pass

    worker = threading.Thread(target=connect, daemon=True)  # a stuck name lookup is left behind, not waited for
    worker.start()
    worker.join(timeout)
    return answered.is_set()


def hub_offline() -> bool:
    """HF_HUB_OFFLINE is set, or the Hub does not answer: read the local cache only."""
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or not hub_reachable(constants.ENDPOINT)


def names_a_folder(source: str) -> bool:
    """Whether a model name is a path on this machine (it exists, or is written as one), not a Hub repo id; an empty
    name is neither (Path("") is the working folder)."""
    return bool(source.strip()) and (Path(source).expanduser().exists() or source.startswith((".", "/", "~")))


def is_repo_id(source: str) -> bool:
    return source.count("/") == 1  # owner/name


def resolve_folder(source: str, revision: str | None = None) -> Path:
    """A local folder holding a diffusers Wan pipeline, downloading it from the Hub if needed."""
    path = Path(source).expanduser()
    if path == BUNDLED and not path.exists():
        raise ModelLoadError(
            f"The bundled sora-tiny is not installed with the package: it is the assets/sora-tiny folder of the "
            f"Sora Space source checkout (looked for it at {path}); install from the checkout with `pip install -e .` "
            f"or pass that folder's path as the model."
        )
    if names_a_folder(source):
        if not (path / "model_index.json").is_file():
            raise ModelLoadError(f"{source} is not a diffusers pipeline folder (model_index.json is missing).")
        return path
    if not is_repo_id(source):
        names = ", ".join(PRESETS)
        raise ModelLoadError(
            f"Unknown model '{source}': give a preset name ({names}), a Hub repo id (owner/name) or a folder."
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    offline = hub_offline()
    try:
        folder = snapshot_download(source, revision=revision, allow_patterns=ALLOW_PATTERNS, local_files_only=offline)
    except LocalEntryNotFoundError:
        raise ModelLoadError(
            f"{source} is not in the local Hugging Face cache and the Hub cannot be reached (offline); "
            f"connect to the internet once or run `hf download {source}`, or choose sora-tiny."
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise ModelLoadError(f"{source} (revision {revision}) does not exist on the Hub.") from None
    except OSError as error:
        raise ModelLoadError(f"Could not download {source}: {str(error).splitlines()[0]}") from None
    return Path(folder)


def check_folder(folder: Path):
    """Every component is present, and weights come only as safetensors."""
    for name in COMPONENTS:
        if not (folder / name).is_dir():
            raise ModelLoadError(f"{folder.name} has no '{name}' folder: not a Wan pipeline checkpoint.")
    for name in ("vae", "text_encoder", "transformer"):
        if not list((folder / name).glob("*.safetensors")):
            raise ModelLoadError(f"{folder.name}/{name} has no .safetensors weights (other formats are refused).")


def with_checkpoint_overrides(preset: Preset, folder: Path) -> Preset:
    """What a checkpoint says of itself: a Wan2.2-TI2V-style `expand_timesteps` in model_index.json (trained to take
    known frames as clean tokens at timestep 0: "clean" conditioning, wherever it is loaded from), then `sora.json`'s
    own defaults (fps, size, conditioning, ...)."""
    index = folder / "model_index.json"
    if index.is_file() and json.loads(index.read_text()).get("expand_timesteps"):
        preset = replace(preset, conditioning="clean")
    sidecar = folder / "sora.json"
    if not sidecar.is_file():
        return preset
    overrides = json.loads(sidecar.read_text()).get("defaults", {})
    known = {k: v for k, v in overrides.items() if k in Preset.__dataclass_fields__ and k not in ("name", "source")}
    return replace(preset, **known)


def load_components(folder: Path, dtype: torch.dtype) -> dict:
    """The pipeline's five parts, each with a one-line ModelLoadError naming the part that failed."""
    index = json.loads((folder / "model_index.json").read_text())
    scheduler_class = index.get("scheduler", [None, ""])[1]
    text_encoder_class = index.get("text_encoder", [None, ""])[1]
    transformer_class = index.get("transformer", [None, ""])[1]
    if transformer_class not in TRANSFORMERS:
        raise ModelLoadError(f"{folder.name}: unsupported transformer '{transformer_class}'.")
    if not scheduler_class.endswith("Scheduler") or not hasattr(diffusers, scheduler_class):
        raise ModelLoadError(f"{folder.name}: unsupported scheduler '{scheduler_class}'.")
    if not text_encoder_class.endswith("EncoderModel") or not hasattr(transformers, text_encoder_class):
        raise ModelLoadError(f"{folder.name}: unsupported text encoder '{text_encoder_class}'.")
    loaders = {
        "vae": lambda: AutoencoderKLWan.from_pretrained(folder / "vae", dtype=torch.float32, use_safetensors=True),
        "transformer": lambda: TRANSFORMERS[transformer_class].from_pretrained(
            folder / "transformer", dtype=dtype, use_safetensors=True
        ),
        "text_encoder": lambda: getattr(transformers, text_encoder_class).from_pretrained(
            folder / "text_encoder", dtype=dtype, use_safetensors=True
        ),
        "tokenizer": lambda: transformers.AutoTokenizer.from_pretrained(folder / "tokenizer"),
        "scheduler": lambda: getattr(diffusers, scheduler_class).from_pretrained(folder / "scheduler"),
    }
    if (folder / IMAGE_TRANSFORMER).is_dir():  # a checkpoint's own image model (SoraPipeline.image_transformer)
        loaders[IMAGE_TRANSFORMER] = lambda: WanTransformer3DModel.from_pretrained(
            folder / IMAGE_TRANSFORMER, dtype=dtype, use_safetensors=True
        )
    components = {}
    for name, load in loaders.items():
        try:
            components[name] = load()
        except Exception as error:  # corrupt or missing files: one line naming the part
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ModelLoadError(f"Could not load the {name} of {folder.name}: {message[:300]}") from None
    return components

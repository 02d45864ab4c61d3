"""Sora Space core: a Sora-style text-to-video pipeline over diffusers Wan checkpoints.

Four parts, importing one way only:
    engine/    the pipeline, loading, requests, workflows, sampling, video (imports none of the others)
    toyworld/  the bundled model's world: rendering, prompt rewriter, detector, evaluation (imports the engine)
    training/  architectures, data, latent cache, losses, the training loop (imports the engine and the toy world)
    serving/   the Space's endpoints and service, GPU-time budget, prompt enhancement, the CLI (engine, toy world)

The names below load on first use, so that `python -m sora_core --help` does not wait for torch and diffusers.
"""

import importlib

_HOMES = {
    "PRESETS": ".engine.presets",
    "Preset": ".engine.presets",
    "ExtendRequest": ".engine.requests",
    "GenerateRequest": ".engine.requests",
    "LoopRequest": ".engine.requests",
    "Options": ".engine.requests",
    "RestyleRequest": ".engine.requests",
    "TransitionRequest": ".engine.requests",
    "ModelLoadError": ".engine.loading",
    "SoraPipeline": ".engine.pipeline",
    "Video": ".engine.video",
    "VideoError": ".engine.video",
    "enhance_prompt": ".serving.enhance",
}

__all__ = sorted([*_HOMES, "toyworld"])


def __getattr__(name: str):
    if name == "toyworld":
        return importlib.import_module(".toyworld", __name__)
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module 'sora_core' has no attribute {name!r}")


def __dir__():
    return __all__

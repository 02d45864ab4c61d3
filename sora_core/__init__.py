"""Sora Space core: a Sora-style text-to-video pipeline over diffusers Wan checkpoints.

Four parts, importing one way only:
    engine/    the pipeline, loading, requests, workflows, sampling, video (imports none of the others)
    toyworld/  the bundled model's world: rendering, prompt rewriter, detector, evaluation (imports the engine)
    training/  model sizes, data, latent cache, losses, the training loop (imports the engine and the toy world)
    serving/   the Space's endpoints and service, GPU-time budget, prompt enhancement, the CLI (engine, toy world)
"""

from . import toyworld
from .engine.loading import ModelLoadError
from .engine.pipeline import SoraPipeline
from .engine.presets import PRESETS, Preset
from .engine.requests import (
    ExtendRequest,
    GenerateRequest,
    LoopRequest,
    Options,
    RestyleRequest,
    TransitionRequest,
)
from .engine.video import Video, VideoError
from .serving.enhance import enhance_prompt

__all__ = [
    "PRESETS",
    "ExtendRequest",
    "GenerateRequest",
    "LoopRequest",
    "ModelLoadError",
    "Options",
    "Preset",
    "RestyleRequest",
    "SoraPipeline",
    "TransitionRequest",
    "Video",
    "VideoError",
    "enhance_prompt",
    "toyworld",
]

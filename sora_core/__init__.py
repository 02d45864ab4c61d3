"""Sora Space core: a Sora-style text-to-video pipeline over diffusers Wan checkpoints."""

from .enhance import enhance_prompt
from .hub import ModelLoadError
from .pipeline import SoraPipeline
from .presets import PRESETS, Preset
from .video import Video, VideoError

__all__ = ["PRESETS", "enhance_prompt", "ModelLoadError", "Preset", "SoraPipeline", "Video", "VideoError"]

"""Sora Space core: a Sora-style text-to-video pipeline over diffusers Wan checkpoints."""

from .hub import ModelLoadError
from .pipeline import SoraPipeline
from .presets import PRESETS, Preset
from .video import Video, VideoError

__all__ = ["PRESETS", "ModelLoadError", "Preset", "SoraPipeline", "Video", "VideoError"]

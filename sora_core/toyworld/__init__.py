"""The toy world: the bundled model's training data and the ground truth of its evaluation.

    world.py     scenes, captions and rendering (what `from sora_core import toyworld` exposes)
    rewriter.py  the offline prompt rewriter: free wording -> the toy world's captions
    detector.py  colour, shape, motion and seams read back from frames
    evaluate.py  `python -m sora_core.evaluate`: adherence, seams, drift, restyle, VAE round trips

It imports only the engine; training and serving import it.
"""

from .world import (
    BACKGROUNDS,
    CAPTION_TEMPLATES,
    COLORS,
    MOTIONS,
    SHAPES,
    VOCABULARY,
    Scene,
    Subset,
    Thing,
    Track,
    all_combinations,
    caption_words,
    is_held_out,
    random_scene,
    render,
    sample_clip,
    sample_paired_clips,
    valid,
)

__all__ = [
    "BACKGROUNDS",
    "CAPTION_TEMPLATES",
    "COLORS",
    "MOTIONS",
    "SHAPES",
    "VOCABULARY",
    "Scene",
    "Subset",
    "Thing",
    "Track",
    "all_combinations",
    "caption_words",
    "is_held_out",
    "random_scene",
    "render",
    "sample_clip",
    "sample_paired_clips",
    "valid",
]

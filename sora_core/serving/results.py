"""Result files: each under a fresh random name in a private temporary folder, ours kept five minutes (Gradio
copies a result into its own cache, which `delete_cache` bounds, before answering)."""

import tempfile
import time
import uuid
from pathlib import Path

from ..engine.video import Video

OUTPUT_TTL_SECONDS = 300


class ResultFolder:
    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="sora-space-"))
        self.folder.mkdir(parents=True, exist_ok=True)

    def save(self, video: Video, image: bool = False) -> str:
        """Write a result: `image` (the image endpoint's, for an image component) as .png, any other as .mp4, a
        one-frame video too (a video component converts a .png with an ffmpeg it may not find); our copies older
        than five minutes are removed."""
        now = time.time()
        for old in self.folder.glob("*"):
            if now - old.stat().st_mtime > OUTPUT_TTL_SECONDS:
                old.unlink(missing_ok=True)
        suffix = ".png" if image else ".mp4"
        video.metadata["app"] = "Sora Space"
        return str(video.save(self.folder / f"{uuid.uuid4().hex}{suffix}"))

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

    def save(self, video: Video) -> str:
        """Write a result (.png for one frame, .mp4 otherwise); our copies older than five minutes are removed."""
        now = time.time()
        for old in self.folder.glob("*"):
            if now - old.stat().st_mtime > OUTPUT_TTL_SECONDS:
                old.unlink(missing_ok=True)
        suffix = ".png" if video.num_frames == 1 else ".mp4"
        video.metadata["app"] = "Sora Space"
        return str(video.save(self.folder / f"{uuid.uuid4().hex}{suffix}"))

"""Video: frames in memory, and reading / writing them safely with imageio-ffmpeg.

Reading checks duration and resolution from the container header *before* decoding anything, and
restricts ffmpeg to local files and plain media demuxers: by default ffmpeg follows an ffconcat or HLS
playlist renamed `.mp4` and reads the files it names.
"""

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageOps, ImageSequence

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif"}

# ffmpeg demuxers a user upload may use; playlists (concat, hls), devices and network formats are excluded.
SAFE_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,gif,image2,png_pipe,jpeg_pipe,webp_pipe"
SAFE_INPUT_ARGS = ["-protocol_whitelist", "file", "-format_whitelist", SAFE_DEMUXERS]

MAX_SECONDS = 60.0
MAX_PIXELS = 1920 * 1920
MAX_SIDE = 4096
MIN_SIDE = 16


def to_pixels(frames: np.ndarray):
    """uint8 (T, H, W, 3) -> float (3, T, H, W) in [-1, 1], as the VAE takes them."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float() / 127.5 - 1.0


def to_frames(pixels) -> np.ndarray:
    """float (3, T, H, W) in [-1, 1], as the VAE gives them -> uint8 (T, H, W, 3); the inverse of `to_pixels`."""
    import torch

    pixels = (pixels.float() / 2 + 0.5).clamp(0, 1).permute(1, 2, 3, 0)  # (T, H, W, 3)
    return (pixels * 255).round().to(torch.uint8).cpu().numpy()


class VideoError(ValueError):
    """A media file that cannot be used; the message is one plain sentence for the user."""


@dataclass
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float = 8.0
    metadata: dict = field(default_factory=dict)  # written into saved MP4s (prompt, seed, model, ...)

    def __post_init__(self):
        frames = np.asarray(self.frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
            raise VideoError(f"Video frames must be uint8 (T, H, W, 3); got {frames.dtype} {frames.shape}.")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise VideoError(f"fps must be positive; got {self.fps}.")
        self.frames = frames

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.frames.shape[2]

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps

    def save(self, path) -> Path:
        """Write an H.264 yuv420p MP4 with +faststart, or a PNG / JPEG / WebP for a 1-frame video."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            if self.num_frames != 1:
                raise VideoError(f"Only a 1-frame video can be saved as {suffix}; this one has {self.num_frames}.")
            Image.fromarray(self.frames[0]).save(path)
            return path
        if suffix != ".mp4":
            raise VideoError(f"Cannot save as '{suffix}': use .mp4, or .png / .jpg / .webp for an image.")
        frames = _even_sized(self.frames)
        # The mp4 muxer keeps only standard tags, so all settings travel as JSON in `comment`.
        metadata_args = ["-metadata", "comment=" + json.dumps(self.metadata)] if self.metadata else []
        writer = imageio_ffmpeg.write_frames(
            str(path),
            (frames.shape[2], frames.shape[1]),
            fps=self.fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            output_params=["-crf", "12", "-movflags", "+faststart", *metadata_args],
            ffmpeg_log_level="error",
        )
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        return path

    @classmethod
    def load(cls, path, max_seconds: float = MAX_SECONDS, max_pixels: int = MAX_PIXELS) -> "Video":
        """Read a video file, or an image as a 1-frame video. Raises VideoError with a plain sentence."""
        typed, path = path, Path(path)
        if not path.is_file():  # named as typed: the folder is often what is wrong
            raise VideoError(f"No such file: {typed}.")
        if path.stat().st_size == 0:
            raise VideoError(f"{path.name} is empty.")
        if path.suffix.lower() in IMAGE_SUFFIXES | {".gif"} and _is_animated(path):
            return _load_animation(path, max_seconds, max_pixels)  # ffmpeg cannot decode animated WebP
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return _load_image(path, max_pixels)
        return _load_video(path, max_seconds, max_pixels)


def load_field(path, field: str) -> Video:
    """The file given to `field` (a parameter, flag or upload); what is wrong with it opens with the field."""
    try:
        return Video.load(path)
    except VideoError as error:
        raise ValueError(f"{field}: {error}") from None


def _even_sized(frames: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: repeat the last row / column where one is odd."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


def _check_size(width: int, height: int, max_pixels: int, name: str):
    if min(width, height) < MIN_SIDE:
        raise VideoError(f"{name} is {width}×{height}; each side must be at least {MIN_SIDE} pixels.")
    if max(width, height) > MAX_SIDE or width * height > max_pixels:
        raise VideoError(
            f"{name} is {width}×{height}; the limit is {MAX_SIDE} pixels a side and {max_pixels:,} pixels in all."
        )


def _is_animated(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except Exception:
        return False


def _load_image(path: Path, max_pixels: int) -> Video:
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            _check_size(*image.size, max_pixels, path.name)
            image = ImageOps.exif_transpose(image).convert("RGB")
            frames = np.asarray(image, dtype=np.uint8)[None]
    except VideoError:
        raise
    except Exception:
        raise VideoError(f"{path.name} is not a readable image (PNG, JPEG or WebP).") from None
    return Video(frames, fps=1.0)


def _load_animation(path: Path, max_seconds: float, max_pixels: int) -> Video:
    """An animated WebP or GIF, frame by frame with Pillow; fps from the first frame's duration."""
    try:
        with Image.open(path) as image:
            _check_size(*image.size, max_pixels, path.name)
            duration_ms = image.info.get("duration") or 100
            fps = min(60.0, 1000.0 / max(duration_ms, 1))
            if image.n_frames / fps > max_seconds:
                raise VideoError(f"{path.name} lasts {image.n_frames / fps:.0f} s; the limit is {max_seconds:.0f} s.")
            frames = [np.asarray(frame.convert("RGB"), dtype=np.uint8) for frame in ImageSequence.Iterator(image)]
    except VideoError:
        raise
    except Exception:
        raise VideoError(f"{path.name} is not a readable animation.") from None
    return Video(np.stack(frames), fps=fps)


def probe(path: Path) -> dict:
    """Container facts from ffmpeg's header read, without decoding: size, fps, duration, rotation."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", *SAFE_INPUT_ARGS, "-i", str(path)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=10)
    except subprocess.TimeoutExpired:
        raise VideoError(f"{path.name} took too long to open.") from None
    return _parse_probe(result.stderr, path.name)


def _parse_probe(text: str, name: str) -> dict:
    video_lines = [line for line in text.splitlines() if re.search(r"Stream #.*: Video:", line)]
    if not video_lines:
        raise VideoError(f"{name} has no video stream that can be read (is it a video or an image file?).")
    line = video_lines[0]
    size = re.search(r", (\d{1,6})x(\d{1,6})[\s,\[]", line)
    if not size:
        raise VideoError(f"{name}: the video size could not be read.")
    width, height = int(size.group(1)), int(size.group(2))
    fps_match = re.search(r", ([\d.]+) (?:fps|tbr)", line)
    fps = float(fps_match.group(1)) if fps_match else 0.0
    duration_match = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    duration = None
    if duration_match:
        h, m, s = duration_match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    rotation_match = re.search(r"rotation of (-?[\d.]+) degrees", text) or re.search(r"rotate\s*:\s*(-?\d+)", text)
    rotation = int(round(float(rotation_match.group(1)))) % 360 if rotation_match else 0
    return {"width": width, "height": height, "fps": fps, "duration": duration, "rotation": rotation}


def _load_video(path: Path, max_seconds: float, max_pixels: int) -> Video:
    info = probe(path)
    _check_size(info["width"], info["height"], max_pixels, path.name)
    if info["duration"] is not None and info["duration"] > max_seconds:
        raise VideoError(f"{path.name} lasts {info['duration']:.0f} s; the limit is {max_seconds:.0f} s.")
    fps = info["fps"] if 0 < info["fps"] <= 240 else 24.0
    width, height = info["width"], info["height"]
    if info["rotation"] in (90, 270):  # ffmpeg auto-rotates while decoding, which swaps the sides
        width, height = height, width
    max_frames = int(max_seconds * fps) + 1
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-v",
        "error",
        *SAFE_INPUT_ARGS,
        "-i",
        str(path),
        "-an",
        "-frames:v",
        str(max_frames),
        "-vf",
        f"fps={fps:g},format=rgb24",  # one frame every 1/fps s: a variable frame rate keeps its timing
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    try:
        result = subprocess.run(command, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise VideoError(f"{path.name} took too long to decode.") from None
    frame_bytes = width * height * 3
    num_frames = len(result.stdout) // frame_bytes
    if num_frames == 0:
        raise VideoError(f"{path.name} could not be decoded (the file may be damaged or truncated).")
    frames = np.frombuffer(result.stdout[: num_frames * frame_bytes], np.uint8).reshape(num_frames, height, width, 3)
    return Video(frames.copy(), fps=fps, metadata=read_metadata(path))


def read_metadata(path: Path) -> dict:
    """The settings `Video.save` wrote (JSON in the `comment` tag), in full; {} for any other file. ffmpeg's
    ffmetadata output, unlike its console summary, does not shorten long tags (a storyboard's card list)."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", *SAFE_INPUT_ARGS, "-i", str(path)]
    try:
        text = subprocess.run([*command, "-f", "ffmetadata", "-"], capture_output=True, text=True, timeout=30).stdout
    except (subprocess.TimeoutExpired, UnicodeDecodeError):
        return {}
    # ffmetadata escapes '=', ';', '#', '\\' and newlines with a backslash
    match = re.search(r"^comment=((?:[^\\\n]|\\.)*)$", text, re.MULTILINE | re.DOTALL)
    if not match:
        return {}
    try:
        metadata = json.loads(re.sub(r"\\(.)", r"\1", match.group(1), flags=re.DOTALL))
    except json.JSONDecodeError:
        return {}
    return metadata if isinstance(metadata, dict) else {}

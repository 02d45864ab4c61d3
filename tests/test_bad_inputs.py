"""The bad-input corpus, made here with imageio-ffmpeg's ffmpeg and Pillow: each file is read correctly or refused
within 5 s with one plain sentence that shows no traceback and no server path."""

import subprocess
import time

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from sora_core.engine.video import Video, VideoError
from sora_core.serving.uploads import upload

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args):
    subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True, timeout=120)


def make(kind: str, folder):
    """One corpus file; returns its path."""
    source = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=8:duration=2"]
    path = folder / f"{kind}.mp4"
    if kind == "truncated":
        ffmpeg(*source, "-pix_fmt", "yuv420p", str(path))
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "audio_only":
        ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(path))
    elif kind == "with_audio":
        ffmpeg(*source, "-f", "lavfi", "-i", "sine=duration=2", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    elif kind == "single_frame":
        ffmpeg(*source, "-frames:v", "1", "-pix_fmt", "yuv420p", str(path))
    elif kind == "tiny_3x2":
        path = folder / "tiny.png"
        Image.new("RGB", (3, 2), (200, 0, 0)).save(path)
    elif kind == "huge_4000x3000":
        path = folder / "huge.png"
        Image.new("RGB", (4000, 3000), (0, 0, 200)).save(path)
    elif kind == "one_hour":
        ffmpeg("-f", "lavfi", "-i", "color=c=red:size=16x16:rate=1:duration=3600", "-pix_fmt", "yuv420p", str(path))
    elif kind == "strip_1000x16":
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=1000x16:rate=8:duration=1", "-pix_fmt", "yuv420p", str(path))
    elif kind == "variable_frame_rate":
        ffmpeg(
            *source, "-vf", "setpts='if(gte(N,8),PTS+0.5/TB,PTS)'", "-fps_mode", "vfr", "-pix_fmt", "yuv420p", str(path)
        )
    elif kind == "alpha":
        path = folder / "alpha.mov"
        ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=8:duration=1", "-vf", "format=rgba", "-c:v", "png", str(path)
        )
    elif kind == "ten_bit":
        ffmpeg(*source, "-pix_fmt", "yuv420p10le", "-c:v", "libx264", str(path))
    elif kind == "grayscale":
        path = folder / "gray.mkv"
        ffmpeg(*source, "-pix_fmt", "gray", "-c:v", "ffv1", str(path))
    elif kind == "animated_webp":
        path = folder / "anim.webp"
        frames = [Image.new("RGB", (32, 32), (i * 40, 0, 0)) for i in range(5)]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=125, loop=0)
    elif kind == "exif_jpeg":
        path = folder / "phone.jpg"
        image = Image.new("RGB", (64, 32), (0, 200, 0))
        exif = image.getexif()
        exif[0x0112] = 8
        image.save(path, exif=exif)
    elif kind == "rotated_phone":
        flat = folder / "flat.mp4"
        ffmpeg(*source, "-pix_fmt", "yuv420p", str(flat))
        ffmpeg("-display_rotation", "90", "-i", str(flat), "-c", "copy", str(path))
    else:
        raise ValueError(kind)
    return path


# kind -> the (T, H, W) it is read as, or a phrase of its refusal
CORPUS = {
    "truncated": "no video stream that can be read",  # half an MP4: its index (moov) is at the end
    "audio_only": "no video stream",
    "with_audio": (16, 48, 64),  # the audio is dropped
    "single_frame": (1, 48, 64),
    "tiny_3x2": "at least 16 pixels",
    "huge_4000x3000": "the limit is 4096 pixels a side",
    "one_hour": "lasts 3600 s",
    "strip_1000x16": (8, 16, 1000),
    "variable_frame_rate": (16, 48, 64),  # 16 frames over 2.5 s (a 0.5 s pause after the 8th): 6.4 fps
    "alpha": (8, 48, 64),
    "ten_bit": (16, 48, 64),
    "grayscale": (16, 48, 64),
    "animated_webp": (5, 32, 32),
    "exif_jpeg": (1, 64, 32),
    "rotated_phone": (16, 64, 48),
}


def test_a_variable_frame_rate_keeps_its_timing(tmp_path):
    """Frames 0-7 at 1/8 s, a 0.5 s pause, frames 8-15: read at its average 6.4 fps, the eighth frame is shown
    for the pause (from 0.875 s to 1.5 s: frames 6-9 at k / 6.4 s) and the clip lasts 2.5 s."""
    video = upload(str(make("variable_frame_rate", tmp_path)))
    assert video.fps == pytest.approx(6.4) and video.num_frames / video.fps == pytest.approx(2.5)
    same = [np.array_equal(video.frames[k], video.frames[k + 1]) for k in range(5, 10)]
    assert same == [False, True, True, True, False]


@pytest.mark.parametrize("kind", list(CORPUS))
def test_corpus_is_handled_or_refused_quickly(kind, tmp_path):
    path = make(kind, tmp_path)
    expected = CORPUS[kind]
    started = time.time()
    try:
        video = upload(str(path))
    except ValueError as error:
        message = str(error)
        assert isinstance(expected, str), f"{kind} was refused: {message}"
        assert expected in message
        assert "Traceback" not in message and str(tmp_path) not in message and "\n" not in message
    else:
        assert isinstance(expected, tuple), f"{kind} was read, not refused"
        assert video.frames.dtype == np.uint8 and video.frames.ndim == 4 and video.frames.shape[-1] == 3
        assert video.frames.shape[:3] == expected
    assert time.time() - started < 5


def test_urls_and_missing_files_are_refused():
    for bad in ("http://127.0.0.1/video.mp4", "file:///etc/passwd", "", None):
        with pytest.raises(ValueError):
            upload(bad)
    with pytest.raises(VideoError, match=r"^No such file: /nonexistent/clip\.mp4\.$"):  # the folder typed, too
        Video.load("/nonexistent/clip.mp4")

"""Video I/O: codec and pixel format of what we write, round trips, images, and refusing playlists."""

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
from conftest import random_frames, smooth_frames
from PIL import Image

from sora_core.engine.video import Video, VideoError, probe


def ffmpeg_info(path) -> str:
    return subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    ).stderr


def test_long_metadata_comes_back_in_full(tmp_path):
    """A storyboard's card list is longer than ffmpeg's console summary shows; Video.load reads it all back."""
    cards = [
        {"prompt": f"card {i}: a red ball; x = 1 # \\ moving right\non black", "start": i, "end": i + 1}
        for i in range(30)
    ]
    metadata = {"cards": cards, "fast": True, "prompt": "é"}
    path = Video(smooth_frames(5, 32, 32), fps=8, metadata=metadata).save(tmp_path / "story.mp4")
    assert Video.load(path).metadata == metadata
    plain = Video(smooth_frames(5, 32, 32), fps=8).save(tmp_path / "plain.mp4")
    assert Video.load(plain).metadata == {}


def test_mp4_is_h264_yuv420p_faststart_with_metadata(tmp_path):
    video = Video(smooth_frames(9, 64, 48), fps=8, metadata={"prompt": "a red ball", "seed": 3})
    path = video.save(tmp_path / "out.mp4")
    info = ffmpeg_info(path)
    assert "Video: h264" in info and "yuv420p" in info
    assert '"prompt": "a red ball"' in info and '"seed": 3' in info
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: the index comes first


def test_round_trip_keeps_length_size_fps_and_content(tmp_path):
    frames = smooth_frames(17, 64, 96)
    path = Video(frames, fps=12).save(tmp_path / "clip.mp4")
    loaded = Video.load(path)
    assert loaded.frames.shape == frames.shape and loaded.fps == 12
    assert np.abs(loaded.frames.astype(int) - frames).mean() < 3


def test_odd_sizes_are_padded_for_yuv420p(tmp_path):
    path = Video(random_frames(3, 33, 35), fps=8).save(tmp_path / "odd.mp4")
    assert Video.load(path).frames.shape == (3, 34, 36, 3)


def test_image_save_and_load(tmp_path):
    frames = random_frames(1, 32, 48)
    for suffix in (".png", ".webp"):
        path = Video(frames).save(tmp_path / f"img{suffix}")
        loaded = Video.load(path)
        assert loaded.num_frames == 1
        if suffix == ".png":
            assert np.array_equal(loaded.frames, frames)
    with pytest.raises(VideoError, match="Only a 1-frame video"):
        Video(random_frames(2, 16, 16)).save(tmp_path / "two.png")


def test_exif_rotation_is_honoured(tmp_path):
    image = Image.fromarray(random_frames(1, 32, 64)[0])
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    image.save(tmp_path / "phone.jpg", exif=exif)
    assert Video.load(tmp_path / "phone.jpg").frames.shape == (1, 64, 32, 3)


def test_rotation_metadata_is_honoured(tmp_path):
    src = Video(smooth_frames(5, 32, 64), fps=8).save(tmp_path / "flat.mp4")
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-display_rotation",
            "90",
            "-i",
            str(src),
            "-c",
            "copy",
            str(rotated),
        ],
        check=True,
    )
    assert probe(rotated)["rotation"] in (90, 270)
    assert Video.load(rotated).frames.shape == (5, 64, 32, 3)


def test_playlist_renamed_mp4_is_refused(tmp_path):
    secret = Video(smooth_frames(5, 32, 32), fps=8).save(tmp_path / "secret.mp4")
    playlist = tmp_path / "upload.mp4"
    playlist.write_text(f"ffconcat version 1.0\nfile '{secret}'\n")
    with pytest.raises(VideoError):
        Video.load(playlist)
    hls = tmp_path / "upload2.mp4"
    hls.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{secret}\n#EXT-X-ENDLIST\n")
    with pytest.raises(VideoError):
        Video.load(hls)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 100, b"<html><body>hi</body></html>"])
def test_bad_files_give_plain_errors(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError) as error:
        Video.load(path)
    assert "Traceback" not in str(error.value) and str(tmp_path) not in str(error.value)


def test_limits_checked_before_decoding(tmp_path):
    path = Video(smooth_frames(40, 32, 32), fps=8).save(tmp_path / "long.mp4")
    with pytest.raises(VideoError, match="the limit is 2 s"):
        Video.load(path, max_seconds=2)
    with pytest.raises(VideoError, match="pixels"):
        Video.load(path, max_pixels=500)

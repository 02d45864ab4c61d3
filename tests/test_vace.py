"""A VACE checkpoint through our own loop: parity with diffusers' WanVACEPipeline, and every workflow on it."""

import numpy as np
import pytest
import torch
from conftest import smooth_frames
from diffusers import WanVACEPipeline

from sora_core import ExtendRequest, Options, SoraPipeline, TransitionRequest, Video
from sora_core.engine.vace import control_video

SETTINGS = dict(steps=3, guidance=3.0, seed=5)


def theirs(folder, frames, known, references=(), prompt="a red ball"):
    """WanVACEPipeline given the conditioning video and mask that our workflow built."""
    pipe = WanVACEPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    video, mask = control_video(frames, known, "cpu")  # (1, 3, T, H, W): [-1, 1] and {0, 1}
    as_input = lambda x: x.permute(0, 2, 1, 3, 4)  # noqa: E731  diffusers takes (B, T, C, H, W) in [0, 1]
    from PIL import Image

    out = pipe(
        prompt,
        negative_prompt="",
        video=as_input((video + 1) / 2),
        mask=as_input(mask),
        reference_images=[Image.fromarray(r) for r in references] or None,
        height=frames.shape[1],
        width=frames.shape[2],
        num_frames=len(frames),
        num_inference_steps=SETTINGS["steps"],
        guidance_scale=SETTINGS["guidance"],
        generator=torch.Generator().manual_seed(SETTINGS["seed"]),
        output_type="np",
    )
    return out.frames[0]  # (T, H, W, 3) in [0, 1]


def close(ours_frames: np.ndarray, their_frames: np.ndarray):
    assert ours_frames.shape == their_frames.shape
    assert np.abs(ours_frames / 255.0 - their_frames).max() <= 1 / 255


def test_text_to_video_matches_wan_vace_pipeline(tiny_vace_checkpoint, tiny_vace_pipe):
    ours = tiny_vace_pipe.generate("a red ball", num_frames=9, height=32, width=48, **SETTINGS)
    blank = np.zeros((9, 32, 48, 3), np.uint8)
    close(ours.frames, theirs(tiny_vace_checkpoint, blank, np.zeros(9, bool)))


def test_an_extension_matches_wan_vace_pipeline(tiny_vace_checkpoint, tiny_vace_pipe):
    source = Video(smooth_frames(9, 32, 32), fps=8)
    ours = tiny_vace_pipe.extend(source, "a red ball", num_frames=8, match_colour=False, **SETTINGS)
    plan = tiny_vace_pipe.plan(vace_request(source, "extend"))
    window, known = plan.timeline.frames, plan.timeline.known
    reference = theirs(tiny_vace_checkpoint, window, known)
    close(ours.frames[9:], reference[~known])
    assert np.array_equal(ours.frames[:9], source.frames)


def test_first_and_last_frames_known_match_wan_vace_pipeline(tiny_vace_checkpoint, tiny_vace_pipe):
    a, b = Video(smooth_frames(9, 32, 32, seed=1), fps=8), Video(smooth_frames(5, 32, 32, seed=80), fps=8)
    ours = tiny_vace_pipe.transition(a, b, "a red ball", num_frames=8, match_colour=False, **SETTINGS)
    plan = tiny_vace_pipe.plan(vace_request((a, b), "transition"))
    window, known = plan.timeline.frames, plan.timeline.known
    close(ours.frames[9:17], theirs(tiny_vace_checkpoint, window, known)[~known])
    assert np.array_equal(ours.frames[:9], a.frames) and np.array_equal(ours.frames[-5:], b.frames)


def test_one_reference_image_matches_wan_vace_pipeline(tiny_vace_checkpoint, tiny_vace_pipe):
    image = smooth_frames(1, 24, 40, seed=3)[0]  # another size: scaled onto a white canvas, as diffusers does
    ours = tiny_vace_pipe.generate(
        "a red ball", num_frames=5, height=32, width=32, reference_images=[image], **SETTINGS
    )
    blank = np.zeros((5, 32, 32, 3), np.uint8)
    close(ours.frames, theirs(tiny_vace_checkpoint, blank, np.zeros(5, bool), references=[image]))


def vace_request(sources, task):
    """The request the Python API builds for the same call, to read the timeline it lays out."""
    options = Options(**SETTINGS)
    if task == "extend":
        return ExtendRequest(sources, "a red ball", 8, match_colour=False, options=options)
    return TransitionRequest(*sources, "a red ball", 8, match_colour=False, options=options)


def test_every_workflow_keeps_its_source_frames_on_a_vace_checkpoint(tiny_vace_pipe):
    pipe, steps = tiny_vace_pipe, dict(steps=2)
    source = Video(smooth_frames(9, 32, 32), fps=8)
    image = Video(smooth_frames(1, 32, 32, seed=9), fps=8)
    assert np.array_equal(pipe.extend(source, "x", num_frames=8, **steps).frames[:9], source.frames)
    assert np.array_equal(
        pipe.extend(source, "x", num_frames=8, direction="backward", **steps).frames[-9:], source.frames
    )
    assert np.array_equal(pipe.extend(image, "x", num_frames=8, **steps).frames[0], image.frames[0])
    out = pipe.transition(source, image, "x", num_frames=4, **steps)
    assert np.array_equal(out.frames[:9], source.frames) and np.array_equal(out.frames[-1], image.frames[0])
    assert np.array_equal(pipe.loop(source, "x", num_frames=4, **steps).frames[:9], source.frames)
    assert pipe.restyle(source, "y", strength=0.5, **steps).frames.shape == source.frames.shape
    assert pipe.generate("x", num_frames=1, height=32, width=32, **steps).num_frames == 1
    with_reference = pipe.extend(source, "x", num_frames=4, reference_images=[image], **steps)
    assert np.array_equal(with_reference.frames[:9], source.frames)


def test_reference_images_on_a_plain_checkpoint_get_one_sentence(tiny_pipe):
    image = smooth_frames(1, 32, 32)[0]
    with pytest.raises(ValueError, match="reference_images need a VACE checkpoint") as error:
        tiny_pipe.generate("x", num_frames=1, height=32, width=32, steps=1, reference_images=[image])
    assert "\n" not in str(error.value)


def test_a_vace_folder_loads_through_the_same_path_with_generic_defaults(tiny_vace_checkpoint):
    pipe = SoraPipeline.from_pretrained(str(tiny_vace_checkpoint), device="cpu")
    assert type(pipe.transformer).__name__ == "WanVACETransformer3DModel"
    assert pipe.preset.fps == 8 and pipe.preset.cpu_memory_gb == 0  # generic: no memory refusal


@pytest.mark.slow
def test_every_workflow_runs_from_the_cli_on_a_vace_checkpoint(tiny_vace_checkpoint, tmp_path):
    from test_cli import in_process

    source = tmp_path / "src.mp4"
    Video(smooth_frames(9, 32, 32), fps=8).save(source)
    image = tmp_path / "ref.png"
    Video(smooth_frames(1, 32, 32, seed=4), fps=8).save(image)
    common = ["--prompt", "x", "--model", str(tiny_vace_checkpoint), "--steps", "2"]
    for command, extra in [
        ("generate", ["--frames", "5", "--height", "32", "--width", "32", "--reference", str(image)]),
        ("extend", ["--video", str(source), "--frames", "4", "--direction", "backward", "--no-match-colour"]),
        ("transition", ["--video", str(source), "--video-b", str(source), "--frames", "4"]),
        ("loop", ["--video", str(source), "--frames", "4"]),
        ("restyle", ["--video", str(source), "--strength", "0.5"]),
    ]:
        out = tmp_path / f"{command}.mp4"
        assert in_process(command, *common, *extra, "--out", str(out)) == 0, command
        assert Video.load(out).num_frames >= 5


def test_every_endpoint_runs_on_a_vace_checkpoint(tiny_vace_pipe, tmp_path):
    from sora_core.serving.endpoints import make_endpoints

    api = make_endpoints(tiny_vace_pipe)
    clip = str(Video(smooth_frames(9, 32, 32), fps=8).save(tmp_path / "clip.mp4"))
    image = str(Video(smooth_frames(1, 32, 32, seed=4), fps=8).save(tmp_path / "ref.png"))
    small = dict(steps=2, progress=lambda *a, **k: None)
    calls = {
        "generate": dict(prompt="x", height=32, width=32, seconds=0.5, reference_images=[image]),
        "image": dict(prompt="x", height=32, width=32),
        "extend": dict(video=clip, prompt="x", seconds=0.5, reference_images=[image], match_colour=False),
        "transition": dict(video_a=clip, video_b=image, prompt="x", seconds=0.5),
        "loop": dict(video=clip, prompt="x", seconds=0.5),
        "restyle": dict(video=clip, prompt="x", strength=0.5),
    }
    for name, values in calls.items():
        path, _, _ = getattr(api, name)(**values, **small)
        frames = Video.load(path).frames
        if name in ("extend", "transition", "loop"):
            assert np.abs(frames[:9].astype(int) - Video.load(clip).frames.astype(int)).max() <= 40, name  # via H.264

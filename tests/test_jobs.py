"""The Space's request checks: what a task is given reaches the pipeline by name, or is refused with one sentence."""

import numpy as np
import pytest
from conftest import random_frames

from sora_core import Video
from sora_core.serving.jobs import JobBuilder


@pytest.fixture
def clip(tmp_path):
    return str(Video(random_frames(9, 32, 32), fps=8).save(tmp_path / "clip.mp4"))


def test_init_strength_reaches_the_seam_workflows_and_none_leaves_their_default(tiny_pipe, clip, tmp_path):
    service = JobBuilder(tiny_pipe)
    for task, videos in (("extend", {"video": clip}), ("transition", {"video_a": clip, "video_b": clip})):
        asked = service.job(task, {**videos, "prompt": "x", "seconds": 1, "init_strength": 0.9})
        assert asked.request.init_strength == 0.9 and asked.plan.timeline.init_strength == 0.9
        default = service.job(task, {**videos, "prompt": "x", "seconds": 1, "init_strength": None})
        assert default.request.init_strength is None
    for bad in (0, -0.5, 1.5, "most", float("nan")):
        with pytest.raises(ValueError, match="init_strength must be") as error:
            service.job("loop", {"video": clip, "prompt": "x", "seconds": 1, "init_strength": bad})
        assert "\n" not in str(error.value)


def test_adding_no_seconds_is_refused_and_a_little_adds_one_latent_frame(tiny_pipe, clip):
    """0 seconds to add is a mistake said in one sentence (not a silent 4 frames); a fraction of a latent frame
    rounds up to one, and a clip of 0 seconds stays an image."""
    service = JobBuilder(tiny_pipe)
    bridge = {"video_a": clip, "video_b": clip}
    for task, videos in (("extend", {"video": clip}), ("transition", bridge), ("loop", {"video": clip})):
        with pytest.raises(ValueError, match=r"^seconds must be more than 0 .*; got 0\.$"):
            service.job(task, {**videos, "prompt": "x", "seconds": 0})
        assert service.job(task, {**videos, "prompt": "x", "seconds": 0.01}).plan.timeline.new_frames == 4
    assert service.job("generate", {"prompt": "x", "seconds": 0}).plan.settings.num_frames == 1


def test_a_checked_job_runs_with_the_seam_setting(tiny_pipe, clip, tmp_path):
    service = JobBuilder(tiny_pipe)
    job = service.job("loop", {"video": clip, "prompt": "x", "seconds": 1, "steps": 4, "init_strength": 0.5})
    totals = []
    video = job.run(tiny_pipe, job.prompts, progress=lambda i, n: totals.append(n))
    assert video.num_frames == 9 + 8 and np.array_equal(video.frames[:9], job.request.video.frames)
    assert 0 < totals[-1] < 4  # started part-way, from the source


def test_the_service_refuses_what_the_python_api_refuses_with_the_same_sentence(tiny_pipe, clip, tmp_path):
    """One set of limits: the same bad value gets the same sentence from the Space's service and the Python API."""
    service = JobBuilder(tiny_pipe)
    video = Video.load(clip)
    cases = [
        ("generate", {"prompt": " "}, lambda: tiny_pipe.generate(" ")),
        ("generate", {"prompt": "x", "steps": 0}, lambda: tiny_pipe.generate("x", steps=0)),
        ("generate", {"prompt": "x", "guidance": 99}, lambda: tiny_pipe.generate("x", guidance=99)),
        ("generate", {"prompt": "x", "seed": -1}, lambda: tiny_pipe.generate("x", seed=-1)),
        ("generate", {"prompt": "x", "height": 33}, lambda: tiny_pipe.generate("x", height=33)),
        ("restyle", {"video": clip, "prompt": "x", "strength": 2}, lambda: tiny_pipe.restyle(video, "x", strength=2)),
        (
            "extend",
            {"video": clip, "prompt": "x", "direction": "up"},
            lambda: tiny_pipe.extend(video, "x", direction="up"),
        ),
    ]
    for task, values, python_call in cases:
        with pytest.raises(ValueError) as from_service:
            service.job(task, values)
        with pytest.raises(ValueError) as from_python:
            python_call()
        assert str(from_service.value) == str(from_python.value), task
        assert "\n" not in str(from_service.value)


def test_an_empty_negative_prompt_stays_allowed(tiny_pipe, tmp_path):
    job = JobBuilder(tiny_pipe).job("image", {"prompt": "x", "negative_prompt": "", "steps": 1})
    assert job.plan.settings.negative_prompt == "" and job.plan.settings.num_frames == 1

"""The Space's request checks: what a task is given reaches the pipeline, or is refused with one sentence."""

import numpy as np
import pytest
from conftest import random_frames

from sora_core import Video
from sora_core.serving.service import Service


@pytest.fixture
def clip(tmp_path):
    return str(Video(random_frames(9, 32, 32), fps=8).save(tmp_path / "clip.mp4"))


def test_init_strength_reaches_the_seam_workflows_and_0_or_empty_leaves_their_default(tiny_pipe, clip, tmp_path):
    service = Service(tiny_pipe, tmp_path / "out")
    for task, sources in (("extend", (clip,)), ("transition", (clip, clip)), ("loop", (clip,))):
        extra = dict(direction="forward") if task == "extend" else {}
        asked = service.request(task, "x", sources=sources, seconds=1, init_strength=0.9, **extra)
        assert asked.kwargs["init_strength"] == 0.9
        for empty in (None, "", 0):
            default = service.request(task, "x", sources=sources, seconds=1, init_strength=empty, **extra)
            assert "init_strength" not in default.kwargs
    for bad in (-0.5, 1.5, "most", float("nan")):
        with pytest.raises(ValueError, match="init_strength must be") as error:
            service.request("loop", "x", sources=(clip,), seconds=1, init_strength=bad)
        assert "\n" not in str(error.value)


def test_a_checked_request_runs_with_the_seam_setting(tiny_pipe, clip, tmp_path):
    service = Service(tiny_pipe, tmp_path / "out")
    request = service.request("loop", "x", sources=(clip,), seconds=1, steps=4, init_strength=0.5)
    totals = []
    video = request.run(tiny_pipe, request.prompt, progress=lambda i, n: totals.append(n))
    assert video.num_frames == 9 + 8 and np.array_equal(video.frames[:9], request.sources[0].frames)
    assert 0 < totals[-1] < 4  # started part-way, from the source

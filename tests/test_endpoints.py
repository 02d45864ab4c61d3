"""Every endpoint's parameters reach the pipeline by name: each is called with a distinct non-default value for
every parameter, and the request and plan the pipeline receives must carry exactly those values."""

import inspect
from dataclasses import replace

import gradio as gr
import numpy as np
import pytest
from conftest import smooth_frames

from sora_core import Video
from sora_core.serving.endpoints import make_endpoints, parameters
from sora_core.serving.ui import guidance_for_duration

SHARED = dict(negative_prompt="blurry", steps=3, guidance=2.5, seed=11, fast=True)


def recorded(pipe, monkeypatch) -> list:
    """`pipe`'s sampler replaced by a recorder of the plans it is given."""
    plans = []

    def record(plan, progress=None, should_stop=None):
        plans.append(plan)
        return Video(np.zeros((1, 16, 16, 3), np.uint8), fps=8)

    monkeypatch.setattr(pipe, "sample", record)
    return plans


@pytest.fixture
def called(tiny_pipe, tmp_path, monkeypatch):
    """The endpoints of `tiny_pipe`, with its sampler recording the plans it is given."""
    plans = recorded(tiny_pipe, monkeypatch)
    clip_a = str(Video(smooth_frames(9, 32, 48, seed=1), fps=8).save(tmp_path / "a.mp4"))
    clip_b = str(Video(smooth_frames(5, 32, 48, seed=2), fps=8).save(tmp_path / "b.mp4"))
    return make_endpoints(tiny_pipe), plans, clip_a, clip_b


def call(api, name, **values):
    endpoint = getattr(api, name)
    assert set(values) == set(parameters(endpoint)), "every parameter is given, so a default cannot hide a mix-up"
    return endpoint(**values, stop={}, progress=lambda *a, **k: None)


def check_shared(plan, prompt):
    assert plan.prompt == prompt
    settings = plan.settings
    assert (settings.negative_prompt, settings.steps, settings.guidance, settings.seed) == ("blurry", 3, 2.5, 11)
    assert settings.fast is True


def test_generate_by_name(called):
    api, plans, _, _ = called
    call(api, "generate", prompt="a", height=48, width=32, seconds=1, enhance=False, reference_images=None, **SHARED)
    check_shared(plans[-1], "a")
    assert (plans[-1].settings.height, plans[-1].settings.width, plans[-1].settings.num_frames) == (48, 32, 9)


def test_image_by_name(called):
    api, plans, _, _ = called
    call(api, "image", prompt="b", height=32, width=48, enhance=False, **SHARED)
    check_shared(plans[-1], "b")
    assert (plans[-1].settings.height, plans[-1].settings.width, plans[-1].settings.num_frames) == (32, 48, 1)


def test_an_image_defaults_to_the_image_models_guidance_where_the_checkpoint_has_one(tiny_pipe, monkeypatch):
    def defaults(api) -> dict:
        return {
            name: inspect.signature(getattr(api, name)).parameters["guidance"].default for name in ("image", "generate")
        }

    monkeypatch.setattr(tiny_pipe, "preset", replace(tiny_pipe.preset, guidance=4.0, image_guidance=1.5))
    assert defaults(make_endpoints(tiny_pipe)) == {"image": 4.0, "generate": 4.0}  # no image model: one guidance
    monkeypatch.setattr(tiny_pipe, "image_transformer", tiny_pipe.transformer)
    assert defaults(make_endpoints(tiny_pipe)) == {"image": 1.5, "generate": 4.0}


def test_extend_by_name(called):
    api, plans, clip_a, _ = called
    call(
        api,
        "extend",
        video=clip_a,
        prompt="c",
        direction="backward",
        seconds=1,
        init_strength=0.7,
        enhance=False,
        match_colour=False,
        reference_images=None,
        **SHARED,
    )
    plan = plans[-1]
    check_shared(plan, "c")
    assert plan.task == "extend backward" and plan.timeline.init_strength == 0.7 and plan.extra["new_frames"] == 8
    assert plan.timeline.match_colour is False
    assert plan.timeline.after.shape[:3] == (9, 32, 48)  # the source comes after the new frames


def test_transition_by_name(called):
    api, plans, clip_a, clip_b = called
    values = dict(video_a=clip_a, video_b=clip_b, prompt="d", seconds=0.5, init_strength=0.8, enhance=False)
    values["match_colour"] = False
    call(api, "transition", **values, **SHARED)
    plan = plans[-1]
    check_shared(plan, "d")
    assert plan.task == "transition" and plan.timeline.init_strength == 0.8 and plan.extra["new_frames"] == 4
    assert plan.timeline.match_colour is False
    assert len(plan.timeline.before) == 9 and len(plan.timeline.after) == 5  # A first, B last


def test_enhance_given_as_text_is_one_sentence(called):
    """ "no" is truthy: read as a switch it would turn enhancement on."""
    api, plans, _, _ = called
    with pytest.raises(gr.Error, match=r"enhance must be True or False; got 'no'\."):
        call(api, "image", prompt="b", height=32, width=48, enhance="no", **SHARED)
    with pytest.raises(gr.Error, match=r"enhance must be True or False; got 'no'\."):
        call(api, "storyboard", cards=[["a", 1]], keyframes=None, enhance="no", reroll=None, previous=None, **SHARED)
    assert not plans, "nothing was sampled"


def test_an_unreadable_upload_is_named_by_its_field(called, tmp_path):
    api, plans, clip_a, _ = called
    empty = tmp_path / "clip.mp4"
    empty.write_bytes(b"")
    values = dict(prompt="d", seconds=0.5, init_strength=0.8, enhance=False, match_colour=True, **SHARED)
    for a, b, field in ((clip_a, str(empty), "second clip"), (str(empty), clip_a, "first clip")):
        with pytest.raises(gr.Error, match=rf"{field}: clip\.mp4 is empty\."):
            call(api, "transition", video_a=a, video_b=b, **values)
    assert not plans, "nothing was sampled"


def test_loop_by_name(called):
    api, plans, clip_a, _ = called
    call(
        api, "loop", video=clip_a, prompt="e", seconds=1, init_strength=0.9, enhance=False, match_colour=False, **SHARED
    )
    plan = plans[-1]
    check_shared(plan, "e")
    assert plan.task == "loop" and plan.timeline.init_strength == 0.9 and plan.extra["new_frames"] == 8
    assert plan.timeline.match_colour is False


def test_restyle_by_name(called):
    api, plans, clip_a, _ = called
    call(api, "restyle", video=clip_a, prompt="f", strength=0.35, enhance=False, **SHARED)
    plan = plans[-1]
    check_shared(plan, "f")
    assert plan.task == "restyle" and plan.timeline.init_strength == 0.35 and plan.extra["strength"] == 0.35


def test_enhance_reaches_the_gpu_call_by_name(called):
    api, plans, _, _ = called
    _, _, used = call(api, "image", prompt="a crimson sphere", height=32, width=32, enhance=True, **SHARED)
    assert used == plans[-1].prompt and "red ball" in used


@pytest.fixture
def vace_called(tiny_vace_pipe, tmp_path, monkeypatch):
    plans = recorded(tiny_vace_pipe, monkeypatch)
    image = str(Video(smooth_frames(1, 24, 40, seed=4), fps=8).save(tmp_path / "ref.png"))
    return make_endpoints(tiny_vace_pipe), plans, image


def test_reference_images_reach_a_vace_model_by_name(vace_called):
    api, plans, image = vace_called
    call(api, "generate", prompt="a", height=32, width=32, seconds=1, enhance=False, reference_images=[image], **SHARED)
    assert len(plans[-1].references) == 1 and plans[-1].references[0].shape == (24, 40, 3)


def test_reference_images_on_a_plain_model_are_one_sentence(called):
    import gradio as gr

    api, _, clip_a, _ = called
    with pytest.raises(gr.Error, match="reference_images need a VACE checkpoint"):
        call(
            api,
            "generate",
            prompt="a",
            height=32,
            width=32,
            seconds=1,
            enhance=False,
            reference_images=[clip_a],
            **SHARED,
        )


def test_storyboard_by_name(tiny_pipe, monkeypatch):
    stories = []

    def record(cards, seed, steps, guidance, progress, should_stop, **settings):
        stories.append((cards, seed, steps, guidance, settings))
        return Video(np.zeros((1, 16, 16, 3), np.uint8), fps=8)

    monkeypatch.setattr(tiny_pipe, "storyboard", record)
    api = make_endpoints(tiny_pipe)
    cards = [{"prompt": "a", "seconds": 1}, {"prompt": "b", "seconds": 2}]
    call(api, "storyboard", cards=cards, enhance=False, reroll=None, previous=None, keyframes=None, **SHARED)
    made, seed, steps, guidance, settings = stories[-1]
    assert [(c.prompt, c.num_frames) for c in made] == [("a", 8), ("b", 16)]
    assert (seed, steps, guidance, settings["negative_prompt"], settings["fast"]) == (11, 3, 2.5, "blurry", True)


def test_a_card_prompt_with_a_slash_stays_in_its_card_when_enhanced(tiny_pipe, monkeypatch):
    """Card prompts travel as a list: " / " inside one (once the joiner of all of them) moves nothing."""
    stories = []
    monkeypatch.setattr(tiny_pipe, "storyboard", lambda cards, *args, **kwargs: stories.append(cards) or Video(
        np.zeros((1, 16, 16, 3), np.uint8), fps=8))  # fmt: skip
    api = make_endpoints(tiny_pipe)
    cards = [{"prompt": "a crimson sphere / drifting leftwards", "seconds": 1}, {"prompt": "a blue box", "seconds": 1}]
    _, _, used = call(
        api, "storyboard", cards=cards, enhance=True, reroll=None, previous=None, keyframes=None, **SHARED
    )
    assert [card.prompt for card in stories[-1]] == [
        "a red ball moving left on a black background",
        "a blue square standing still on a black background",
    ]
    assert used == "a red ball moving left on a black background / a blue square standing still on a black background"


def test_a_card_is_rerolled_through_the_endpoint(tiny_pipe):
    """`reroll` and `previous` by name: card 1 made again from the story's own file, card 0's frames kept (up to the
    MP4 codec: the previous story travels as a file), and the result's metadata says which card was made again."""
    api = make_endpoints(tiny_pipe)
    cards = [{"prompt": "a red ball", "seconds": 1}, {"prompt": "a blue box", "seconds": 1}]
    settings = dict(negative_prompt="", steps=2, guidance=1.0, seed=3, enhance=False, fast=False)
    story, _, _ = call(api, "storyboard", cards=cards, reroll=None, previous=None, keyframes=None, **settings)
    first = Video.load(story)
    again, _, _ = call(
        api, "storyboard", cards=cards, reroll=1, previous=story, keyframes=None, **{**settings, "seed": 9}
    )
    rerolled = Video.load(again)
    end = first.metadata["cards"][0]["end"]
    assert rerolled.metadata["rerolled"] == 1 and rerolled.metadata["cards"][0]["end"] == end
    kept = np.abs(rerolled.frames[:end].astype(int) - first.frames[:end].astype(int))
    assert kept.mean() < 1.5, "card 0 kept (one more H.264 round trip)"
    assert not np.array_equal(rerolled.frames[end:], first.frames[end:]), "card 1 made again with seed 9"
    with pytest.raises(gr.Error, match=r"reroll must be a whole number from 0 to 1; got 2\."):
        call(api, "storyboard", cards=cards, reroll=2, previous=story, keyframes=None, **settings)
    with pytest.raises(gr.Error, match="previous must be a storyboard video of these cards"):
        call(api, "storyboard", cards=cards[:1] * 3, reroll=0, previous=story, keyframes=None, **settings)


def test_storyboard_keyframes_by_name(tiny_pipe, monkeypatch, tmp_path):
    """Cards name their keyframe by its place among the uploads, as objects or as the Space's table rows."""
    stories = []
    monkeypatch.setattr(
        tiny_pipe,
        "storyboard",
        lambda cards, *args, **settings: stories.append(cards) or Video(np.zeros((1, 8, 8, 3), np.uint8)),
    )
    api = make_endpoints(tiny_pipe)
    image = Video(smooth_frames(1, 32, 32, seed=1), fps=8)
    clip = Video(smooth_frames(5, 32, 32, seed=2), fps=8)
    paths = [str(image.save(tmp_path / "key.png")), str(clip.save(tmp_path / "key.mp4"))]
    cards = [{"prompt": "a", "seconds": 1}, {"prompt": "b", "seconds": 2, "keyframe": 2, "match_colour": False}]
    cards += [["c", 1, 1.0, True], ["d", 1, None, None]]
    call(api, "storyboard", cards=cards, keyframes=paths, enhance=False, reroll=None, previous=None, **SHARED)
    made = stories[-1]
    assert made[0].keyframe is None and made[3].keyframe is None and made[3].match_colour
    assert made[1].keyframe.num_frames == 5 and made[1].match_colour is False
    assert np.array_equal(made[2].keyframe.frames, image.frames), "a PNG keyframe arrives pixel for pixel"
    bad = {
        r"cards\[0\]\.keyframe must be a whole number from 1 to 2; got 3\.": [
            {"prompt": "a", "seconds": 1, "keyframe": 3}
        ],
        r"cards\[0\]\.keyframe must be a whole number from 1 to 2; got 0\.": [
            {"prompt": "a", "seconds": 1, "keyframe": 0}
        ],
        r"cards\[0\] has no field 'colour'": [{"prompt": "a", "seconds": 1, "colour": "red"}],
        r"cards\[0\]\.match_colour must be True or False; got 'no'\.": [["a", 1, None, "no"]],
    }
    for message, story in bad.items():
        with pytest.raises(gr.Error, match=message):
            call(api, "storyboard", cards=story, keyframes=paths, enhance=False, reroll=None, previous=None, **SHARED)
    with pytest.raises(gr.Error, match=r"cards\[0\]\.keyframe names an upload, but no keyframes were uploaded\."):
        call(
            api, "storyboard", cards=[["a", 1, 1]], keyframes=None, enhance=False, reroll=None, previous=None, **SHARED
        )


def test_a_keyframe_upload_is_kept_in_the_story(tiny_pipe, tmp_path):
    """End to end on the tiny model: the uploaded keyframe image is the last frame of its card."""
    api = make_endpoints(tiny_pipe)
    key = Video(smooth_frames(1, 128, 128, seed=5), fps=8)  # the tiny model's own size
    path = str(key.save(tmp_path / "key.png"))
    cards = [{"prompt": "a", "seconds": 1}, {"prompt": "b", "seconds": 1, "keyframe": 1}]
    story, _, _ = call(
        api,
        "storyboard",
        cards=cards,
        keyframes=[path],
        reroll=None,
        previous=None,
        steps=2,
        guidance=1.0,
        seed=0,
        enhance=False,
        fast=False,
        negative_prompt="",
    )
    video = Video.load(story)
    end = video.metadata["cards"][1]["end"]
    error = np.abs(video.frames[end - 1].astype(int) - key.frames[0].astype(int)).mean()
    others = np.abs(video.frames[0].astype(int) - key.frames[0].astype(int)).mean()
    assert error < 4 and others > 4 * error, (error, others)


@pytest.mark.slow
def test_a_story_too_long_for_one_gpu_call_gets_one_call_per_segment(tiny_pipe, monkeypatch):
    """ZeroGPU grants at most GPU_MAX_SECONDS a call: a story that needs more runs one call per sampling window,
    each asking for one segment's seconds; a short story stays one call."""
    from sora_core.serving import gpu_runner, gpu_time

    calls = []

    def gpu(function):
        return lambda seconds, *args, **kwargs: (
            calls.append((function.__name__, seconds)) or function(seconds, *args, **kwargs)
        )

    monkeypatch.setattr(gpu_runner, "gpu", gpu)
    api = make_endpoints(tiny_pipe)
    cards = [{"prompt": "a", "seconds": 2}, {"prompt": "b", "seconds": 2}]
    settings = dict(negative_prompt="", steps=1, guidance=1.0, seed=0, enhance=True, fast=False)
    call(api, "storyboard", cards=cards, reroll=None, previous=None, keyframes=None, **settings)
    assert [name for name, _ in calls] == ["run"], "one call for a short story"
    whole = calls[0][1]
    monkeypatch.setattr(gpu_time, "GPU_MAX_SECONDS", whole - 1)
    calls.clear()
    path, _, _ = call(api, "storyboard", cards=cards, reroll=None, previous=None, keyframes=None, **settings)
    names = [name for name, _ in calls]
    assert names[0] == "enhance" and set(names[1:]) == {"sample"} and len(names) >= 3, names
    assert all(seconds < whole for name, seconds in calls if name == "sample")
    assert Video.load(path).metadata["cards"][1]["end"] > 20


def test_concurrent_fast_requests_take_turns(tiny_pipe):
    """Gradio runs different tabs' events at the same time on one model: two fast calls at once both succeed (fast
    mode's step cache on the shared transformer once clashed: "Caching has already been enabled")."""
    from concurrent.futures import ThreadPoolExecutor

    api = make_endpoints(tiny_pipe)
    settings = dict(negative_prompt="", height=32, width=32, seconds=2, steps=4, guidance=2.0, enhance=False)

    def one(seed):
        return call(api, "generate", prompt="a", seed=seed, fast=True, reference_images=None, **settings)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, [1, 2]))
    assert [seed for _, seed, _ in results] == [1, 2]


def test_the_generate_tabs_guidance_follows_the_duration_to_an_image_and_back():
    image, video = 1.5, 4.0
    assert guidance_for_duration(0, video, image, video) == image  # 0 seconds: an image, by the image model
    assert guidance_for_duration(2, image, image, video) == video  # a clip again
    assert guidance_for_duration(2, 6.0, image, video) == 6.0  # the visitor's own value stays

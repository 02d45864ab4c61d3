"""The toy world: vocabulary, captions, motion that matches the words, gravity, and the held-out split."""

import numpy as np
import pytest

from sora_core import toyworld as tw


def centroid(frame: np.ndarray, background) -> tuple[float, float]:
    mask = np.abs(frame.astype(int) - background).sum(-1) > 60
    ys, xs = np.nonzero(mask)
    return xs.mean(), ys.mean()


def test_vocabulary_constants():
    assert {"red", "green", "blue", "yellow", "purple", "orange", "white"} <= set(tw.COLORS)
    assert {"black", "gray", "white"} <= set(tw.BACKGROUNDS)
    assert set(tw.SHAPES) == {"ball", "square", "triangle"}
    assert {"moving left", "moving right", "moving up", "moving down", "bouncing", "standing still"} == set(tw.MOTIONS)


@pytest.mark.parametrize(
    "motion,axis,sign",
    [
        ("moving left", 0, -1),
        ("moving right", 0, 1),
        ("moving up", 1, -1),
        ("moving down", 1, 1),
        ("standing still", 0, 0),
    ],
)
def test_motion_matches_caption(motion, axis, sign):
    rng = np.random.default_rng(1)
    scene = tw.Scene((tw.Thing("ball", "red", motion),), "black")
    frames, track = tw.render(scene, 128, 96, 17, rng)
    centers = track.centers[0]
    assert np.allclose(centroid(frames[0], tw.BACKGROUNDS["black"]), centers[0], atol=1)  # drawn where it is
    moved = centers[-1, axis] - centers[0, axis]
    assert (moved > 10) if sign > 0 else (moved < -10) if sign < 0 else abs(moved) < 0.5
    assert np.allclose(centers[:, 1 - axis], centers[0, 1 - axis])  # along one axis only
    assert "a red ball " + motion in scene.caption()


def test_first_frame_does_not_tell_the_direction():
    """Where an object starts says nothing of where it goes: otherwise a model animating a known first frame reads
    the direction from the position instead of from the prompt."""
    rng = np.random.default_rng(4)
    for motions, axis in ((("moving left", "moving right"), 0), (("moving up", "moving down"), 1)):
        starts = {}
        for motion in motions:
            scene = tw.Scene((tw.Thing("square", "blue", motion),), "white")
            starts[motion] = [tw.render(scene, 96, 96, 17, rng)[1].centers[0][0, axis] for _ in range(300)]
        first, second = (np.array(starts[m]) for m in motions)
        assert abs(first.mean() - second.mean()) < 4  # 300 uniform starts over ~70 px: the means' noise is ~1.7
        assert min(first.min(), second.min()) < 25 and max(first.max(), second.max()) > 71  # both over the frame


def test_paired_clips_share_their_first_frame_and_differ_only_in_the_motion():
    from sora_core.toyworld.detector import read

    rng = np.random.default_rng(6)
    for _ in range(20):
        group = tw.sample_paired_clips(rng, (96, 96, 17))
        scenes = [scene for _, _, scene in group]
        motions = [scene.things[0].motion for scene in scenes]
        assert len(set(motions)) == len(motions) >= 4  # one scene under (nearly) every motion, each once
        assert all(not tw.is_held_out(scene.things[0], scene.background) for scene in scenes)
        assert len({(s.things[0].color, s.things[0].shape, s.background, s.template) for s in scenes}) == 1
        firsts = [frames[0] for frames, _, scene in group if scene.things[0].motion != "bouncing"]
        assert all(np.array_equal(first, firsts[0]) for first in firsts)
        for frames, caption, scene in group:  # and each clip shows its own motion, as its caption says
            assert read(frames).motion == scene.things[0].motion and scene.things[0].motion in caption


def test_an_image_places_a_moving_object_where_its_path_has_room():
    """Generation draws a clip's first frame as an image: "moving right" belongs on the left, where it can move."""
    from sora_core.toyworld.detector import read

    rng = np.random.default_rng(8)
    xs = {"moving left": [], "moving right": []}
    while min(len(v) for v in xs.values()) < 40:
        image, _, scene = tw.sample_clip(rng, 96, 96, 1)
        motion = scene.things[0].motion
        if motion in xs and len(scene.things) == 1:
            xs[motion].append(read(image).centers[0][0])
    assert np.mean(xs["moving right"]) < 40 < 56 < np.mean(xs["moving left"])


def test_a_source_clip_keeps_its_object_inside_the_frame():
    """`inside`: what evaluation extends or reads back keeps the whole object in view from first to last frame."""
    rng = np.random.default_rng(5)
    for motion in ("moving left", "moving right", "moving up", "moving down"):
        for _ in range(50):
            scene = tw.Scene((tw.Thing("ball", "red", motion),), "black")
            _, track = tw.render(scene, 96, 80, 17, rng, inside=True)
            centers, radius = track.centers[0], track.radii[0]
            assert (centers >= radius).all() and (centers[:, 0] <= 80 - radius).all()
            assert (centers[:, 1] <= 96 - radius).all()


def test_bouncing_falls_with_gravity():
    rng = np.random.default_rng(2)
    scene = tw.Scene((tw.Thing("ball", "yellow", "bouncing"),), "gray")
    _, track = tw.render(scene, 128, 128, 33, rng)
    ys = track.centers[0][:, 1]
    acceleration = np.diff(ys, 2)
    assert np.median(acceleration) > 0  # y grows downwards: accelerating towards the floor
    assert ys.max() <= 128


def test_sizes_shapes_and_colours():
    rng = np.random.default_rng(3)
    frames, caption, scene = tw.sample_clip(rng, 48, 80, 5)
    assert frames.shape == (5, 48, 80, 3) and frames.dtype == np.uint8
    assert scene.background in caption
    assert (frames[0, 0, 0] == tw.BACKGROUNDS[scene.background]).all()


def test_held_out_split_is_disjoint_and_never_sampled_for_training():
    train, held = tw.all_combinations(held_out=False), tw.all_combinations(held_out=True)
    assert held and not set(train) & set(held)
    rng = np.random.default_rng(4)
    for _ in range(300):
        scene = tw.random_scene(rng)
        assert not tw.is_held_out(scene.things[0], scene.background)


def test_captions_use_articles():
    assert tw.Scene((tw.Thing("ball", "orange", "bouncing"),), "black").caption().startswith("an orange ball")


def test_the_longest_caption_fits_the_bundled_models_text_length():
    """sora-tiny pads prompts to a short length (its DiT attends to every pad); no caption may be cut."""
    from sora_core.engine.presets import PRESETS
    from sora_core.training.architectures import ARCHITECTURES, build_text_encoder

    tokenizer, _ = build_text_encoder(ARCHITECTURES["sora-tiny"].text)
    captions = [
        tw.Scene((tw.Thing(shape, "orange", motion), tw.Thing(shape, "purple", motion)), "gray", template).caption()
        for shape in tw.SHAPES
        for motion in tw.MOTIONS
        for template in range(len(tw.CAPTION_TEMPLATES))
    ]
    ids = [tokenizer(caption).input_ids for caption in captions]
    assert max(len(i) for i in ids) <= PRESETS["sora-tiny"].max_sequence_length
    assert all(tokenizer.unk_token_id not in i for i in ids)  # every word is one of the model's own


def test_partial_captions_leave_out_only_what_they_say():
    scene = tw.Scene((tw.Thing("square", "blue", "moving up"),), "gray", template=2)
    assert scene.caption(color=False) == "a square moving up, gray background"
    assert scene.caption(motion=False, background=False) == "a blue square"
    assert scene.caption(color=False, motion=False, background=False) == "a square"
    rng = np.random.default_rng(5)
    captions = [scene.partial_caption(rng, 0.5) for _ in range(200)]
    assert all("square" in c for c in captions)  # the shape is always named
    for word in ("blue", "moving up", "gray"):
        share = np.mean([word in c for c in captions])
        assert 0.35 < share < 0.65
    assert {scene.partial_caption(rng, 0.0) for _ in range(20)} == {scene.caption()}


def test_objects_cover_several_percent_of_the_frame():
    rng = np.random.default_rng(6)
    areas = []
    for _ in range(40):
        frames, _, scene = tw.sample_clip(rng, 96, 96, 1)
        mask = np.abs(frames[0].astype(int) - tw.BACKGROUNDS[scene.background]).sum(-1) > 60
        areas.append(mask.mean())
    assert 0.03 < np.median(areas) < 0.15

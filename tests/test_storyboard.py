"""The storyboard on a tiny random checkpoint: card boundaries, re-rolls, keyframes, stopping, bad cards."""

import numpy as np
import pytest

from sora_core import Video
from sora_core.engine.storyboard import Card

SMALL = dict(steps=1, height=32, width=32)


def starts(video) -> list[int]:
    return [card["start"] for card in video.metadata["cards"]]


@pytest.mark.parametrize("lengths", [[24, 40, 30], [9, 9, 9, 9, 9, 9], [481], [70, 3 * 8 + 1, 50]])
def test_cards_start_within_4_frames_of_their_nominal_position(tiny_pipe, lengths):
    cards = [(f"card {i}", n) for i, n in enumerate(lengths)]
    video = tiny_pipe.storyboard(cards, **SMALL)
    nominal = np.concatenate([[0], np.cumsum(lengths)])
    assert np.abs(np.array(starts(video)) - nominal[:-1]).max() <= 4
    assert abs(video.num_frames - nominal[-1]) <= 4
    ends = [card["end"] for card in video.metadata["cards"]]
    assert ends[-1] == video.num_frames and ends[:-1] == starts(video)[1:]


def test_a_keyframe_is_passed_through_exactly_at_its_cards_end(tiny_pipe):
    rng = np.random.default_rng(0)
    keyframe = Video(rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8), fps=8)
    video = tiny_pipe.storyboard([("a", 20), Card("b", 30, keyframe=keyframe), ("c", 12)], **SMALL)
    end = video.metadata["cards"][1]["end"]
    assert np.array_equal(video.frames[end - 5 : end], keyframe.frames)
    first = tiny_pipe.storyboard([Card("a", 17, keyframe=keyframe), ("b", 8)], **SMALL)
    end = first.metadata["cards"][0]["end"]
    assert np.array_equal(first.frames[end - 5 : end], keyframe.frames)


def test_each_card_meets_the_one_before_in_colour(tiny_pipe):
    first = tiny_pipe.generate("a", num_frames=17, seed=2, **SMALL).frames
    cards = [("a", 17), Card("b", 16, match_colour=False)]
    free = tiny_pipe.storyboard(cards, seed=2, **SMALL)
    matched = tiny_pipe.storyboard([cards[0], Card("b", 16)], seed=2, **SMALL)
    for story in (free, matched):
        assert np.array_equal(story.frames[:17], first), "the first card is the model's, as generate makes it"
    cut = matched.metadata["cards"][1]["start"]
    gaps = [np.abs(s.frames[cut].mean((0, 1)) - s.frames[cut - 1].mean((0, 1))).max() for s in (free, matched)]
    assert gaps[1] < 3 and gaps[1] < gaps[0], gaps  # the new card's first frame takes its neighbour's colours


@pytest.mark.parametrize("k", [0, 1, 2])
def test_reroll_keeps_every_other_frame_exactly(tiny_pipe, k):
    cards = [("a red ball", 24), ("a blue ball", 32), ("a green ball", 20)]
    story = tiny_pipe.storyboard(cards, seed=1, **SMALL)
    again = tiny_pipe.storyboard(cards, reroll=k, previous=story, seed=9, **SMALL)
    old, new = story.metadata["cards"], again.metadata["cards"]
    assert np.array_equal(again.frames[: new[k]["start"]], story.frames[: old[k]["start"]])
    assert np.array_equal(again.frames[new[k]["end"] :], story.frames[old[k]["end"] :])
    made = again.frames[new[k]["start"] : new[k]["end"]]
    assert abs(len(made) - (old[k]["end"] - old[k]["start"])) <= 4
    assert not np.array_equal(made[: len(made) // 2], story.frames[old[k]["start"] :][: len(made) // 2])


def test_stop_between_cards(tiny_pipe):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3  # after the first segment's steps

    with pytest.raises(InterruptedError):
        tiny_pipe.storyboard([("a", 17), ("b", 16), ("c", 16)], should_stop=stop, **SMALL)


@pytest.mark.parametrize(
    "cards,message",
    [
        ([], "cards must be a non-empty list"),
        ([("", 17)], r"cards\[0\].prompt is empty"),
        ([("a", 17), ("b", -3)], r"cards\[1\].num_frames must be a whole number"),
        ([("a", 300), ("b", 300)], "the limit is 60 s"),
        (["a"], r"cards\[0\] must be a \(prompt, num_frames\) pair"),
    ],
)
def test_bad_cards_get_one_sentence(tiny_pipe, cards, message):
    with pytest.raises(ValueError, match=message) as error:
        tiny_pipe.storyboard(cards, **SMALL)
    assert "\n" not in str(error.value)


def test_a_reroll_needs_the_previous_storys_boundaries(tiny_pipe):
    plain = Video(np.zeros((9, 32, 32, 3), np.uint8), fps=8)
    with pytest.raises(ValueError, match="previous must be a storyboard video"):
        tiny_pipe.storyboard([("a", 9), ("b", 8)], reroll=1, previous=plain, **SMALL)


@pytest.mark.slow
def test_the_cli_storyboard_writes_one_video(tiny_checkpoint, tmp_path):
    from test_cli import cli, in_process

    out = tmp_path / "story.mp4"
    cards = ["--card", "a red ball moving right=1", "--card", "a blue ball=1.5"]
    common = ["--model", str(tiny_checkpoint), "--steps", "1", "--height", "32", "--width", "32"]
    assert in_process("storyboard", *cards, *common, "--out", str(out)) == 0
    assert abs(Video.load(out).num_frames - 20) <= 4
    bad = cli("storyboard", "--card", "no seconds", "--out", str(tmp_path / "bad.mp4"))
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith(
        'error: --card must be "PROMPT=SECONDS"'
    )
    key = Video(np.full((1, 32, 32, 3), (0, 0, 255), np.uint8), fps=8).save(tmp_path / "key.png")
    keyed = tmp_path / "keyed.mp4"
    cards = ["--card", "a red ball=1", "--card", f"a blue ball=1={key}"]
    assert in_process("storyboard", *cards, *common, "--out", str(keyed)) == 0
    story = Video.load(keyed)
    end = story.metadata["cards"][1]["end"]
    assert np.abs(story.frames[end - 1].astype(int) - (0, 0, 255)).mean() < 3, "the keyframe ends card 2"
    missing = cli("storyboard", "--card", f"a=1={tmp_path / 'none.png'}", "--out", str(tmp_path / "m.mp4"))
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"error: --card's keyframe: No such file: {tmp_path / 'none.png'}."  # as typed, its folder too
    ]
    no_model = ["--model", str(tmp_path / "no-model")]  # the cards are checked before any model loads
    short = cli("storyboard", "--card", "a=2", "--card", "b=0.1", *no_model, "--out", str(tmp_path / "s.mp4"))
    assert short.returncode == 2
    assert (
        short.stderr.strip().splitlines()[-1] == "error: --card 2's seconds must be a number from 0.5 to 60; got 0.1."
    )
    long = cli("storyboard", "--card", "a=40", "--card", "b=30", *no_model, "--out", str(tmp_path / "l.mp4"))
    assert long.returncode == 2 and long.stderr.strip().splitlines() == [
        "error: --card: the story is 70 s long; the limit is 60 s."
    ]

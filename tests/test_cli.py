"""The command line writes real files from the bundled default and a tiny checkpoint, and fails in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_video import ffmpeg_info

from sora_core import PRESETS, SoraPipeline, Video
from sora_core.engine.loading import with_checkpoint_overrides
from sora_core.engine.video import read_metadata

pytestmark = pytest.mark.slow  # a Python process per command

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "assets" / "examples" / "red_ball_right.mp4")


def in_process(*args) -> int:
    """The CLI's `main` in this process: what a command does, without a new interpreter's imports (~10 s each; the
    tests that spawn `python -m sora_core` cover the entry point)."""
    from sora_core.serving.cli import main

    return main(list(args))


def cli(*args, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sora_core", *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT
    )


def test_generate_bundled_default_writes_h264_mp4(tmp_path):
    out = tmp_path / "out.mp4"
    result = cli(
        "generate",
        "--prompt",
        "a red ball bouncing on a black background",
        "--out",
        str(out),
        "--frames",
        "9",
        "--steps",
        "2",
        "--seed",
        "3",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    info = ffmpeg_info(out)
    assert "Video: h264" in info and "yuv420p" in info
    preset = with_checkpoint_overrides(PRESETS["sora-tiny"], Path(PRESETS["sora-tiny"].source))
    assert Video.load(out).frames.shape == (9, preset.height, preset.width, 3)  # the checkpoint's default size


def test_png_out_gives_an_image(tmp_path, tiny_checkpoint):
    out = tmp_path / "still.png"
    result = cli(
        "generate",
        "--prompt",
        "x",
        "--out",
        str(out),
        "--model",
        str(tiny_checkpoint),
        "--steps",
        "2",
        "--height",
        "32",
        "--width",
        "32",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert Video.load(out).frames.shape == (1, 32, 32, 3)


def test_fast_flag_reaches_the_video(tmp_path, tiny_checkpoint):
    out = tmp_path / "fast.mp4"
    common = ["--prompt", "x", "--model", str(tiny_checkpoint), "--steps", "3", "--height", "32", "--width", "32"]
    result = cli("generate", *common, "--frames", "5", "--fast", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert read_metadata(out)["fast"] is True


def test_workflow_subcommands(tmp_path, tiny_checkpoint):
    source = tmp_path / "src.mp4"
    Video(__import__("conftest").smooth_frames(9, 32, 32), fps=8).save(source)
    common = ["--prompt", "x", "--model", str(tiny_checkpoint), "--steps", "2"]
    for command, extra in [
        ("extend", ["--video", str(source), "--frames", "8", "--direction", "backward"]),
        ("transition", ["--video", str(source), "--video-b", str(source), "--frames", "4"]),
        ("loop", ["--video", str(source), "--frames", "4", "--init-strength", "0.9"]),
        ("restyle", ["--video", str(source), "--strength", "0.5"]),
    ]:
        out = tmp_path / f"{command}.mp4"
        assert in_process(command, *common, *extra, "--out", str(out)) == 0, command
        assert Video.load(out).num_frames > 1


def refusal(capsys, *args) -> tuple[int, str]:
    """The CLI's exit status and the last line it wrote to stderr, run in this process."""
    status = in_process(*args)
    return status, capsys.readouterr().err.strip().splitlines()[-1]


def no_model_loads(*args, **kwargs):
    raise AssertionError("the model loaded before the input was refused")


def test_bad_arguments_fail_in_one_line(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "o.mp4"
    status, said = refusal(capsys, "generate", "--prompt", "x", "--out", str(out), "--model", str(tiny_checkpoint),
                           "--frames", "10")  # fmt: skip
    assert (status, said) == (2, "error: --frames must be 4k+1 (1, 5, 9, ...); got 10.") and not out.exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--steps", "0"], "error: --steps must be a whole number from 1 to 100; got 0."),
        (["--guidance", "99"], "error: --guidance must be a number from 0 to 20; got 99.0."),
        (["--seed", "-1"], "error: --seed must be a whole number from 0 to 4,294,967,295; got -1."),
        (["--model", "no-such-model"], "error: Unknown model 'no-such-model': give a preset name (sora-tiny, "),
    ],
)
def test_cli_errors_name_the_flag_and_come_before_the_model_loads(tmp_path, args, message, capsys, monkeypatch):
    if "--model" not in args:  # a wrong setting is refused before any model loads
        monkeypatch.setattr(SoraPipeline, "from_pretrained", no_model_loads)
    out = tmp_path / "o.mp4"
    status, said = refusal(capsys, "generate", "--prompt", "x", "--out", str(out), *args)
    assert status == 2 and said.startswith(message) and not out.exists()


@pytest.mark.parametrize(
    "command,args,flag",
    [
        ("restyle", ["--video", "gone.mp4"], "--video"),
        ("transition", ["--video", EXAMPLE, "--video-b", "gone.mp4"], "--video-b"),
        ("generate", ["--reference", "gone.mp4"], "--reference"),
    ],
)
def test_a_missing_file_is_named_with_its_flag(tmp_path, command, args, flag, capsys):
    status, said = refusal(capsys, command, "--prompt", "x", "--out", str(tmp_path / "o.mp4"), *args)
    assert (status, said) == (2, f"error: {flag}: No such file: gone.mp4.")


def test_a_bad_output_format_lists_the_formats(tmp_path, capsys):
    status, said = refusal(capsys, "generate", "--prompt", "x", "--out", str(tmp_path / "o.avi"))
    assert (status, said) == (2, "error: --out must end in .mp4, .png, .jpg, .jpeg or .webp; got '.avi'.")


def test_an_image_out_for_a_video_is_refused_before_the_model_loads(tmp_path, capsys):
    """A .png holds one frame: a video asked into one is refused up front (no model: nothing loads or runs), while
    an image restyled into one is not."""
    no_model = ["--model", str(tmp_path / "no-model"), "--prompt", "x"]
    image = str(ROOT / "assets" / "examples" / "green_triangle.png")
    asks = {
        "generate": ["--frames", "17"],
        "extend": ["--video", image],
        "loop": ["--video", EXAMPLE],
        "restyle": ["--video", EXAMPLE],
    }
    for command, args in asks.items():
        assert in_process(command, *args, *no_model, "--out", str(tmp_path / "o.png")) == 2, command
        assert capsys.readouterr().err.strip().splitlines() == [
            f"error: --out: a .png file holds one image, but this {command} makes a video; use .mp4."
        ], command
    assert in_process("storyboard", "--card", "a=1", "--model", "x", "--out", str(tmp_path / "s.webp")) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --out: a .webp file holds one image, but this storyboard makes a video; use .mp4."
    ]
    assert in_process("restyle", "--video", image, *no_model, "--out", str(tmp_path / "o.png")) == 2
    assert "is not a diffusers pipeline folder" in capsys.readouterr().err, "an image restyled to an image runs on"


def test_an_empty_prompt_is_refused_in_one_line_and_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "out.mp4"
    status, said = refusal(capsys, "generate", "--prompt", "  ", "--out", str(out), "--frames", "5", "--steps", "1")
    assert (status, said) == (2, "error: --prompt is empty: describe the video to make.") and not out.exists()


def test_words_outside_the_toy_world_are_rewritten_and_said(tmp_path):
    """The bundled model's enhancer works offline, so the CLI uses it by default, as the page does."""
    out = tmp_path / "x.mp4"
    prompt = "a crimson sphere drifting leftwards over a dark backdrop"
    result = cli("generate", "--prompt", prompt, "--out", str(out), "--frames", "5", "--steps", "2")
    assert result.returncode == 0, result.stderr
    assert "prompt rewritten for the model: 'a red ball moving left on a black background'" in result.stderr
    assert read_metadata(out)["prompt"] == "a red ball moving left on a black background"
    plain = cli("generate", "--prompt", prompt, "--out", str(out), "--frames", "5", "--steps", "2", "--no-enhance")
    assert plain.returncode == 0, plain.stderr
    assert "rewritten" not in plain.stderr
    assert "warning: the model does not know these words: crimson, sphere, drifting, leftwards" in plain.stderr
    assert read_metadata(out)["prompt"] == prompt


def test_help_answers_without_loading_torch():
    """`--help` stays quick (about 0.4 s, README): the heavy libraries load only when a command runs."""
    code = "import sys; from sora_core.serving.cli import main\n"
    code += "try: main(['generate', '--help'])\nexcept SystemExit: pass\n"
    code += "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'gradio') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--enhance, --no-enhance" in done.stdout and done.stdout.strip().endswith("[]")


def test_a_transitions_short_prompt_is_completed_from_its_clips_and_dropped_words_are_said(tmp_path, capsys):
    from test_enhance import orange_triangles_on_gray

    clips = []
    for seed, motion in ((0, "moving right"), (1, "moving left")):
        clips.append(tmp_path / f"{seed}.mp4")
        Video(orange_triangles_on_gray(motion, seed), fps=8).save(clips[-1])
    out = tmp_path / "bridge.mp4"
    flags = ["--prompt", "the triangle turns upward", "--out", str(out), "--steps", "2", "--frames", "4"]
    assert in_process("transition", "--video", str(clips[0]), "--video-b", str(clips[1]), *flags) == 0
    said = capsys.readouterr().err
    assert "prompt rewritten for the model: 'an orange triangle moving up on a gray background'" in said
    assert "warning: The model does not know these words, so they were dropped: turns." in said
    assert read_metadata(out)["prompt"] == "an orange triangle moving up on a gray background"
    image = tmp_path / "star.png"
    assert in_process("generate", "--prompt", "a pink star spinning above the ocean", "--out", str(image)) == 0
    said = capsys.readouterr()
    assert "dropped: pink, star, spinning, above, ocean." in said.err
    assert f"wrote {image} (1 frame," in said.out  # one frame, not "1 frames"


def test_the_progress_bar_counts_both_stages_of_a_two_stage_clip(tmp_path, capsys):
    """The bundled model makes an image, then animates it: one bar over both stages' steps, labelled so."""
    assert in_process("generate", "--prompt", "a red ball", "--out", str(tmp_path / "x.mp4"), "--steps", "3") == 0
    bar = capsys.readouterr().err.replace("\r", "\n").splitlines()
    last = [line for line in bar if line.startswith("denoising")][-1]
    assert last.startswith("denoising (image, then motion): 100%") and " 6/6 " in last, last


def test_every_option_says_what_it_does_and_the_help_lists_the_models_words():
    from sora_core.serving.cli import build_parser
    from sora_core.toyworld.world import VOCABULARY

    commands = build_parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        for action in parser._actions:
            assert action.help, (name, action.option_strings)  # no bare flag in --help
        out = next(a for a in parser._actions if "--out" in a.option_strings).help
        makes_images = name in ("generate", "restyle")
        assert ("image" in out) == makes_images, (name, out)  # only where an image can come out
    epilog = commands["generate"].format_help()
    assert all(word in " ".join(epilog.split()) for values in VOCABULARY.values() for word in values)

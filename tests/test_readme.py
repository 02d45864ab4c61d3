"""The README agrees with the code: its presets, endpoints and tabs are the code's, and its Python and command-line
blocks run as written (on the bundled model, at one denoising step)."""

import re
import shlex
from dataclasses import replace
from pathlib import Path

import gradio as gr
import pytest

from sora_core import SoraPipeline
from sora_core.engine.presets import PRESETS
from sora_core.serving import cli, docs
from sora_core.serving.endpoints import make_endpoints

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.fixture
def one_step(monkeypatch, tmp_path):
    """The bundled model at one denoising step, in an empty folder."""
    monkeypatch.setitem(PRESETS, "sora-tiny", replace(PRESETS["sora-tiny"], steps=1))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_presets_table_is_the_code_s():
    assert docs.presets_table() in README, "README's presets table: paste `python -m sora_core.serving.docs`"


def test_the_endpoints_table_is_the_code_s():
    api = make_endpoints(SoraPipeline.from_pretrained("sora-tiny", device="cpu"))
    assert docs.endpoints_table(api) in README, "README's API table: paste `python -m sora_core.serving.docs`"


def test_the_tabs_named_are_the_page_s():
    import app

    demo = app.create_demo(SoraPipeline.from_pretrained("sora-tiny", device="cpu"))
    tabs = [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    paragraph = next(p for p in section("The Space").split("\n\n") if "python app.py` serves" in p)
    counts = {3: "three", 4: "four", 5: "five", 6: "six"}
    assert f"serves {counts[len(tabs)]} tabs" in paragraph
    assert re.findall(r"\*\*(\w+)\*\*", paragraph) == tabs


@pytest.mark.slow
def test_the_python_blocks_run_as_written(one_step):
    for title in ("Python API", "Storyboard: up to a minute"):
        for code in blocks(section(title), "python"):
            exec(compile(code, f"README {title}", "exec"), {})
    assert (one_step / "out.mp4").is_file() and (one_step / "still.png").is_file()


@pytest.mark.slow
def test_the_command_line_block_runs_as_written(one_step, capsys):
    lines = [line.split("#")[0].strip() for line in blocks(section("Command line"), "bash")[0].splitlines()]
    for line in filter(None, lines):
        words = shlex.split(line)
        assert words[:3] == ["python", "-m", "sora_core"], line
        assert cli.main(words[3:]) == 0, (line, capsys.readouterr().err[-500:])
        out = words[words.index("--out") + 1]
        assert (one_step / out).is_file(), line

"""The README agrees with the code: its presets, endpoints and tabs are the code's, and its storyboard block runs as
written (on the bundled model, at one denoising step; the Python API and command-line blocks run at the defaults in
test_examples.py, which reads their results back)."""

import re
from dataclasses import replace
from pathlib import Path

import gradio as gr
import pytest

from sora_core import SoraPipeline
from sora_core.engine.presets import PRESETS
from sora_core.serving import docs
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
    labels = ("Result", "This session's results")
    results = [block for block in demo.blocks.values() if getattr(block, "label", None) in labels]
    assert len(results) >= 6 and all(block.interactive is False for block in results)  # no upload offered there


@pytest.mark.slow
def test_the_storyboard_block_runs_as_written(one_step):
    """The Python API and command-line blocks run at the defaults in test_examples.py, which reads each result back."""
    for code in blocks(section("Storyboard: up to a minute"), "python"):
        namespace = {}
        exec(compile(code, "README Storyboard", "exec"), namespace)
        assert len(namespace["again"].metadata["cards"]) == len(namespace["cards"])
        assert namespace["again"].metadata["rerolled"] == 1

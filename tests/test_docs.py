"""The documents a user reads: a README of the right size that links to docs/ files that exist, a model card the Hub
can read, and no work diary (sessions, machine paths) anywhere in the product."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIARY = re.compile(r"(?i)\bsessions? [0-9]+|/work/")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if name.startswith("tests/") or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" not in data[:8192]:  # text, not weights
            files.append(path)
    return files


def test_no_work_diary_or_machine_path_in_the_product():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in tracked_text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if DIARY.search(line)
    ]
    assert not found, "\n".join(found)


def test_the_readme_is_short_and_its_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 400
    links = re.findall(r"\]\(((?:docs|assets)/[^)#]+)\)", readme)
    assert {"docs/architecture.md", "docs/training.md", "docs/evaluation.md", "docs/research-log.md"} <= set(links)
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing


def test_the_model_card_is_short_and_the_hub_reads_its_metadata():
    from huggingface_hub import ModelCard

    path = ROOT / "assets" / "sora-tiny" / "README.md"
    assert len(path.read_text().splitlines()) <= 200
    card = ModelCard.load(path)
    assert card.data.license == "apache-2.0"
    assert card.data.library_name == "diffusers" and card.data.pipeline_tag == "text-to-video"
    assert "sora-space" in card.data.tags


def test_the_readme_lists_the_bundled_models_words():
    from sora_core.toyworld.world import VOCABULARY

    readme = " ".join((ROOT / "README.md").read_text().split())
    for kind, values in VOCABULARY.items():  # "colours red, green, ..., white", and so on for each kind
        named = {"colors": "colours"}.get(kind, kind)
        assert f"{named} {', '.join(values)}" in readme, kind

"""The package installs like any other: a wheel holds `sora_core`, and the bundled model's absence is one sentence."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sora_core.engine import loading as hub

ROOT = Path(__file__).resolve().parent.parent


def test_a_wheel_builds_from_the_checkout_and_holds_the_package(tmp_path):
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("sora_space-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    parts = ("engine/pipeline.py", "serving/endpoints.py", "training/train.py", "toyworld/world.py")
    assert "sora_core/__init__.py" in names and all(f"sora_core/{part}" in names for part in parts)
    assert not any(name.startswith(("tests/", "assets/")) for name in names)
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: diffusers==0.42.1" in text and "Provides-Extra: space" in text


def test_a_missing_bundled_model_says_where_it_lives(tmp_path, monkeypatch):
    missing = tmp_path / "site-packages-assets" / "sora-tiny"
    monkeypatch.setattr(hub, "BUNDLED", missing)
    with pytest.raises(hub.ModelLoadError, match="assets/sora-tiny folder of the Sora Space source checkout"):
        hub.resolve_folder(str(missing))

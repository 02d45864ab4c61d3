"""The package installs like any other: a wheel holds `sora_core`, and the bundled model's absence is one sentence."""

import subprocess
import sys
import sysconfig
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


@pytest.mark.slow
def test_the_installed_command_runs_from_a_fresh_venv(tmp_path):
    """The wheel in a new virtual environment (its dependencies seen from this environment's site-packages), then
    `sora-space` as a user types it: the entry point must name a module that exists. `--system-site-packages` would
    not do: inside a virtual environment (as the README sets up) it means the base interpreter's, without torch."""
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."]
    assert subprocess.run(build, capture_output=True, cwd=ROOT, timeout=300).returncode == 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    inner = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # plain path lines: this environment's packages are importable there, its .pth files (our editable install) not
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(inner) / "dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    (wheel,) = wheels.glob("sora_space-*.whl")
    install = [str(venv / "bin" / "pip"), "install", "--no-deps", "--no-index", "--force-reinstall", str(wheel)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for args in (["--help"], ["generate", "--help"], ["batch", "--help"]):
        run = subprocess.run([str(venv / "bin" / "sora-space"), *args], capture_output=True, text=True, cwd=tmp_path)
        assert run.returncode == 0, (args, run.stderr[-2000:])
        assert "usage: " in run.stdout

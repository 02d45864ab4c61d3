"""Loading from the Hub cache offline, the offline-and-not-cached error, memory refusal, broken checkpoints."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from sora_core import ModelLoadError, SoraPipeline
from sora_core.engine.loading import check_memory, resolve_folder
from sora_core.engine.presets import PRESETS

pytestmark = pytest.mark.slow  # a Python process per case

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fill_cache(cache: Path, repo_id: str, checkpoint: Path) -> Path:
    """Lay a checkpoint out as huggingface_hub's cache does: snapshots/<commit> and refs/main."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(checkpoint, repo_dir / "snapshots" / COMMIT)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(COMMIT)
    return repo_dir


def run_python(code: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_hub_repo_loads_from_prefilled_cache_offline(tmp_path, tiny_checkpoint):
    fill_cache(tmp_path / "cache", "someone/tiny-wan", tiny_checkpoint)
    code = (
        "from sora_core import SoraPipeline\n"
        "pipe = SoraPipeline.from_pretrained('someone/tiny-wan', device='cpu')\n"
        "video = pipe.generate('a ball', num_frames=5, height=32, width=32, steps=2)\n"
        "print('frames', video.frames.shape)\n"
    )
    result = run_python(code, tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "frames (5, 32, 32, 3)" in result.stdout


def test_offline_and_not_cached_is_one_clear_line(tmp_path):
    code = (
        "from sora_core import SoraPipeline, ModelLoadError\n"
        "try:\n    SoraPipeline.from_pretrained('someone/not-cached', device='cpu')\n"
        "except ModelLoadError as error:\n    print('ERROR:', error)\n"
    )
    result = run_python(code, tmp_path / "empty-cache")
    line = [x for x in result.stdout.splitlines() if x.startswith("ERROR:")]
    assert len(line) == 1 and "someone/not-cached" in line[0] and "offline" in line[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_offline_error_has_no_traceback(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sora_core",
            "generate",
            "--prompt",
            "x",
            "--out",
            str(tmp_path / "o.mp4"),
            "--model",
            "someone/not-cached",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: someone/not-cached")
    assert "Traceback" not in result.stderr and not (tmp_path / "o.mp4").exists()


def test_too_big_for_cpu_is_refused_unless_forced():
    preset = PRESETS["wan2.1-t2v-1.3b"]
    big = type(preset)(**{**preset.__dict__, "cpu_memory_gb": 10_000.0})
    with pytest.raises(ModelLoadError, match="needs about 10000 GB"):
        check_memory(big, "cpu")
    check_memory(big, "cpu", force=True)
    check_memory(big, "cuda")


def test_the_vace_preset_knows_its_size(monkeypatch):
    """31 GB in float32: refused on a 24 GB machine (this project's) with the memory sentence, unless forced."""
    monkeypatch.setattr(psutil, "virtual_memory", lambda: type("Memory", (), {"total": 24 * 2**30})())
    with pytest.raises(ModelLoadError, match="wan2.1-vace-1.3b needs about 31 GB"):
        check_memory(PRESETS["wan2.1-vace-1.3b"], "cpu")
    check_memory(PRESETS["wan2.1-vace-1.3b"], "cpu", force=True)


@pytest.mark.parametrize("damage", ["missing_transformer", "corrupt_weights", "pickle_only", "not_a_folder"])
def test_broken_checkpoints_give_clear_errors(tmp_path, tiny_checkpoint, damage):
    folder = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, folder)
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    if damage == "missing_transformer":
        shutil.rmtree(folder / "transformer")
    elif damage == "corrupt_weights":
        weights.write_bytes(b"\x00" * 100)
    elif damage == "pickle_only":
        weights.rename(weights.with_suffix(".bin"))
    else:
        (folder / "model_index.json").unlink()
    with pytest.raises(ModelLoadError) as error:
        SoraPipeline.from_pretrained(str(folder), device="cpu")
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message


def test_hub_presets_pin_commits():
    """A moved branch must not change what runs: Hub models and their prompt enhancers are pinned to commits."""
    import re
    from pathlib import Path

    from sora_core.engine.presets import PRESETS

    hub = [p for p in PRESETS.values() if not Path(p.source).is_dir()]
    assert hub
    for preset in hub:
        assert re.fullmatch(r"[0-9a-f]{40}", preset.revision or ""), preset.name
        if "/" in preset.enhancer:
            assert re.fullmatch(r"[0-9a-f]{40}", preset.enhancer_revision), preset.name


def test_a_device_that_is_not_there_is_one_sentence_before_the_weights_load(tiny_checkpoint, monkeypatch):
    import torch

    from sora_core.engine import loading

    loaded = []
    monkeypatch.setattr(loading, "load_components", lambda *args: loaded.append(args))
    with pytest.raises(ModelLoadError, match=r"^device must be a torch device such as 'cpu' or 'cuda'; got 'tpu'\.$"):
        SoraPipeline.from_pretrained(str(tiny_checkpoint), device="tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelLoadError, match=r"^device 'cuda:1' was asked for, but torch here sees no CUDA GPU"):
        SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cuda:1")
    assert loaded == []


def test_moving_a_pipeline_to_a_device_that_is_not_there_is_one_sentence(tiny_pipe):
    with pytest.raises(ModelLoadError, match=r"^device must be a torch device .*; got 'gpu0'\.$"):
        tiny_pipe.to("gpu0")
    assert tiny_pipe.device.type == "cpu"


def test_an_unknown_model_lists_the_presets():
    presets = r"preset name \(sora-tiny, wan2.1-t2v-1.3b, wan2.1-vace-1.3b, wan2.2-ti2v-5b, wan2.2-ti2v-5b-fast\)"
    with pytest.raises(ModelLoadError, match=presets):
        resolve_folder("no-such-model")


def test_an_unreachable_hub_is_asked_once_and_the_cache_answers(tmp_path):
    """No HF_HUB_OFFLINE, and a Hub that refuses connections: the cache's one-line answer, without the download
    client's retries (23 s before: README)."""
    from app_server import free_port

    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_OFFLINE", None)
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code = (
        "from sora_core import SoraPipeline, ModelLoadError\n"
        "try:\n    SoraPipeline.from_pretrained('someone/not-cached', device='cpu')\n"
        "except ModelLoadError as error:\n    print('ERROR:', error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "cannot be reached (offline)" in errors[0], result.stdout + result.stderr
    assert "Retrying" not in result.stderr and "Traceback" not in result.stderr

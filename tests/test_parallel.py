"""Context parallelism (engine/parallel.py): one clip on two processes gives the single process's frames, and what
cannot work is refused in one sentence."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sora_core.engine.parallel import enable_context_parallel

ROOT = Path(__file__).resolve().parent


def on_two_processes(checkpoint, out: Path, *extra: str) -> subprocess.CompletedProcess:
    from app_server import free_port

    env = {**os.environ, "PYTHONPATH": f"{ROOT.parent}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port"]
    command += [str(free_port()), str(ROOT / "parallel_worker.py"), str(checkpoint), str(out), *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_one_clip_on_two_processes_equals_one_process(tiny_pipe, tiny_checkpoint, tmp_path):
    out = tmp_path / "frames.npy"
    done = on_two_processes(tiny_checkpoint, out)
    assert done.returncode == 0, done.stderr[-3000:]
    alone = tiny_pipe.generate("a red ball moving right", num_frames=9, height=64, width=64, steps=3, seed=5).frames
    split = np.load(out)
    assert split.shape == alone.shape
    assert np.abs(split.astype(int) - alone.astype(int)).max() <= 1  # within 1/255 (measured: equal)


def test_what_cannot_work_is_refused_in_one_sentence(tiny_pipe):
    with pytest.raises(ValueError, match=r"^--context-parallel 2 needs 2 processes \(accelerate launch\); got 1\.$"):
        enable_context_parallel(tiny_pipe.transformer, 2)
    with pytest.raises(ValueError, match=r"^context parallelism is ulysses or ring; got 'tensor'\.$"):
        enable_context_parallel(tiny_pipe.transformer, 2, "tensor")
    with pytest.raises(ValueError, match=r"^--context-parallel must be 2 or more; got 1\.$"):
        enable_context_parallel(tiny_pipe.transformer, 1)


@pytest.mark.slow
def test_without_an_accelerator_the_library_cannot_start_and_says_so(tiny_checkpoint, tmp_path):
    """A CPU-only torch as it is: diffusers' rank placement finds no accelerator."""
    done = on_two_processes(tiny_checkpoint, tmp_path / "unused.npy", "--as-is")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("ERROR: context parallelism needs a GPU a process: diffusers found no accelerator.") == 2

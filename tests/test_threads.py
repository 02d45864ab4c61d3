"""The thread count a process computes with: the cores idle now, unless told; a wrong count is one sentence."""

import os
import subprocess
import sys

import pytest
import torch

from sora_core.serving import threads


def test_the_idle_cores_are_counted_and_a_busy_one_left_alone(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    loads = {"a training run on one core": [97.0, 3.0, 1.0, 0.0], "idle": [2.0, 1.0, 0.0, 4.0]}
    monkeypatch.setattr(threads.psutil, "cpu_percent", lambda interval, percpu: loads["a training run on one core"])
    assert threads.free_cores() == 3
    monkeypatch.setattr(threads.psutil, "cpu_percent", lambda interval, percpu: loads["idle"])
    assert threads.free_cores() == 4
    monkeypatch.setattr(threads.psutil, "cpu_percent", lambda interval, percpu: [99.0] * 4)
    assert threads.free_cores() == 1  # every core busy: still one thread
    # cores this process may not run on are not counted, busy or idle
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {1, 2}, raising=False)
    monkeypatch.setattr(threads.psutil, "cpu_percent", lambda interval, percpu: [0.0, 0.0, 99.0, 0.0])
    assert threads.free_cores() == 1


def test_use_threads_sets_torchs_count(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert threads.use_threads(3) == 3 and torch.get_num_threads() == 3
        monkeypatch.setattr(threads, "free_cores", lambda: 1)
        assert threads.use_threads() == 1 and torch.get_num_threads() == 1
        with pytest.raises(ValueError, match=r"^threads must be 0 \(the idle cores\) or more; got -2\.$"):
            threads.use_threads(-2)
    finally:
        torch.set_num_threads(before)


def test_a_core_kept_busy_by_another_process_is_not_counted():
    cores = sorted(os.sched_getaffinity(0))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(busy.pid, {cores[0]})
        threads.free_cores(0.3)  # the first sample after the loop starts may still see it idle
        assert threads.free_cores(0.5) <= len(cores) - 1
    finally:
        busy.kill()
        busy.wait()


def test_every_cli_command_takes_threads_and_a_wrong_count_is_one_line(tmp_path, capsys):
    from sora_core.serving.cli import build_parser, main

    commands = ("generate", "extend", "transition", "loop", "restyle", "storyboard", "batch")
    for command in commands:
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        assert "--threads N" in capsys.readouterr().out, command
    assert main(["generate", "--prompt", "a red ball", "--out", str(tmp_path / "x.mp4"), "--threads", "-1"]) == 2
    assert capsys.readouterr().err.strip() == "error: --threads must be 0 (the idle cores) or more; got -1."
    before = torch.get_num_threads()
    try:
        flags = ["--frames", "1", "--steps", "1", "--threads", "1"]
        assert main(["generate", "--prompt", "a red ball", "--out", str(tmp_path / "x.png"), *flags]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)

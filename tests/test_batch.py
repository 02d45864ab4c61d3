"""Batch jobs (serving/batch.py): a line a request, outputs and a manifest, bad lines reported, resumable, and the
same outputs whether one process or two (accelerate) ran them."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_frames

from sora_core import Video
from sora_core.serving import batch, cli

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"height": 32, "width": 32, "steps": 2}


def write_jobs(folder: Path) -> Path:
    """8 mixed lines on the tiny checkpoint; line 4 asks for 0 steps."""
    Video(smooth_frames(5, 32, 32), fps=8).save(folder / "in.mp4")
    video = str(folder / "in.mp4")
    jobs = [
        {"task": "generate", "prompt": "a red ball", "num_frames": 5, "seed": 3, **SMALL},
        {"task": "generate", "prompt": "a blue square", "num_frames": 1, **SMALL},
        {"task": "extend", "video": video, "prompt": "a ball", "num_frames": 4, "direction": "backward", **SMALL},
        {"task": "generate", "prompt": "a ball", "steps": 0},
        {"task": "transition", "video_a": video, "video_b": video, "prompt": "a ball", "num_frames": 4, **SMALL},
        {"task": "loop", "video": video, "prompt": "a ball", "num_frames": 4, **SMALL},
        {"task": "restyle", "video": video, "prompt": "a green ball", "strength": 0.5, **SMALL},
        {
            "task": "storyboard",
            "cards": [{"prompt": "a ball", "seconds": 1}, {"prompt": "a box", "seconds": 1}],
            **SMALL,
        },
    ]
    path = folder / "jobs.jsonl"
    path.write_text("\n".join(json.dumps(job) for job in jobs) + "\n")
    return path


def manifest(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("seconds", "process")} for row in rows]


def processes(out: Path) -> set[int]:
    return {json.loads(line)["process"] for line in (out / "manifest.jsonl").read_text().splitlines()}


def run(jobs: Path, out: Path, model: Path) -> int:
    return cli.main(["batch", "--jobs", str(jobs), "--out", str(out), "--model", str(model), "--threads", "1"])


@pytest.fixture
def jobs(tmp_path):
    return write_jobs(tmp_path)


def test_a_batch_writes_every_line_and_reports_the_bad_one(tiny_checkpoint, jobs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    loaded = batch.load

    def load(args, device):  # the bad line is reported before the model loads
        assert "line 4: steps must be" in capsys.readouterr().err
        assert json.loads((out / ".rows" / "4.json").read_text())["error"].startswith("steps must be")
        return loaded(args, device)

    monkeypatch.setattr(batch, "load", load)
    assert run(jobs, out, tiny_checkpoint) == 1  # a line failed
    rows = manifest(out)
    assert [row["line"] for row in rows] == list(range(1, 9))
    assert rows[3]["error"] == "steps must be a whole number from 1 to 100; got 0." and "output" not in rows[3]
    assert "7 outputs, 1 failed lines" in capsys.readouterr().out
    outputs = [Path(row["output"]) for row in rows if "output" in row]
    assert [p.name for p in outputs] == ["1.mp4", "2.png", "3.mp4", "5.mp4", "6.mp4", "7.mp4", "8.mp4"]
    assert Video.load(outputs[0]).num_frames == 5 and Video.load(outputs[1]).num_frames == 1
    assert rows[0]["settings"]["seed"] == 3 and rows[0]["settings"]["task"] == "generate"
    assert not list(out.glob(".*partial*"))


def test_lines_that_are_not_requests_get_one_sentence_each(tiny_checkpoint, tmp_path, capsys):
    jobs = tmp_path / "jobs.jsonl"
    lines = ["not json", "[1, 2]", '{"task": "dance", "prompt": "x"}', '{"task": "generate", "colour": "red"}']
    lines += ['{"task": "extend", "prompt": "x", "video": "gone.mp4"}']
    jobs.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert run(jobs, out, tmp_path / "no-model-here") == 1  # every line refused before any model is loaded
    errors = [row["error"] for row in manifest(out)]
    assert errors[0].startswith("the line is not JSON: Expecting value")
    assert errors[1] == "the line must be a JSON object; got '[1, 2]'."
    assert errors[2].startswith("task must be one of generate, extend")
    assert errors[3].startswith("a generate line has no field 'colour'; it takes task, prompt, ")
    assert errors[4] == "video: No such file: gone.mp4."
    said = capsys.readouterr().err
    assert "line 1: the line is not JSON" in said and "line 5: video: No such file" in said


def test_run_again_and_finished_lines_are_skipped(tiny_checkpoint, jobs, tmp_path):
    out = tmp_path / "out"
    run(jobs, out, tiny_checkpoint)
    first = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    # Line 5 half-done when the run died: its output under a temporary name, no row.
    (out / ".rows" / "5.json").unlink()
    (out / "5.mp4").rename(out / ".5.partial.mp4")
    time.sleep(0.01)
    run(jobs, out, tiny_checkpoint)
    again = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    redone = {name for name in again if again[name] != first.get(name)}
    assert redone == {"5.mp4", "manifest.jsonl"}, redone
    assert Video.load(out / "5.mp4").num_frames > 5 and len(manifest(out)) == 8


def test_a_line_is_claimed_once(tmp_path):
    (tmp_path / ".claims").mkdir()
    assert batch.claim(tmp_path, 3) and not batch.claim(tmp_path, 3) and batch.claim(tmp_path, 4)


@pytest.mark.slow
def test_two_processes_write_what_one_does_and_a_killed_run_resumes(tiny_checkpoint, jobs, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    run(jobs, one, tiny_checkpoint)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "sora_core"]
    launch += ["batch", "--jobs", str(jobs), "--out", str(two), "--model", str(tiny_checkpoint), "--threads", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        launch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    while not (two / ".rows").is_dir() or len(list((two / ".rows").glob("*.json"))) < 2:
        assert process.poll() is None, process.stdout.read().decode()[-2000:]
        time.sleep(0.2)
    os.killpg(process.pid, 9)  # killed midway: every process of the launch
    process.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in (two / ".rows").glob("*.json")}
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]  # line 4 failed
    assert "7 outputs, 1 failed lines" in done.stdout
    assert {name: (two / ".rows" / name).stat().st_mtime_ns for name in kept} == kept  # not redone
    assert processes(two) == {0, 1} and processes(one) == {0}
    assert manifest(two) == [
        {**row, **({"output": row["output"].replace(str(one), str(two))} if "output" in row else {})}
        for row in manifest(one)
    ]
    for row in manifest(one):
        if "output" in row:
            name = Path(row["output"]).name
            np.testing.assert_array_equal(Video.load(one / name).frames, Video.load(two / name).frames)
    shutil.rmtree(one)


def test_the_longest_kinds_are_taken_first():
    lines = [(1, {"task": "generate", "num_frames": 1}), (2, {"task": "generate"}), (3, "not json"),
             (4, {"task": "storyboard"}), (5, {"task": "extend"}), (6, {"task": "loop"})]  # fmt: skip
    assert [n for n, _ in sorted(lines, key=batch.longest_first)] == [4, 6, 5, 2, 1, 3]

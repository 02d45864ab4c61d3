"""One call of the device tool: two candidates trained side by side on the lent GPU, each exported into
$OUT in parts the tool brings back (16 MiB a file at most), then each evaluated there beside the bundled model.

    grid2  a fresh DiT at the 1 x 2 x 2 grid (8-px tokens), the whole recipe (train_gpu.py --architecture)
    deep   the bundled DiT grown to 8 blocks, the recipe's last stage (train_gpu.py --continue --architecture)

or, with --image, two image models for the first stage (`train --stage image`, rendered images only, 12 processes
rendering), scored by `evaluate --images 80`:

    image-copy   a copy of the bundled DiT (--image-init copy)
    image-grid2  a fresh DiT at the 1 x 2 x 2 grid (--image-init fresh)

A step of this model on a GPU is Python-bound (73 ms at batch 128, 2026-12-04), so two runs share the chip at little
cost to each. Everything a run prints goes to $OUT/<name>.txt as it comes, so a call stopped at its limit still
brings back what was measured.

    here, once:  python benchmarks/gpu_lease.py --wheels    # what the GPU machine lacks (2026-12-04), into .whl
    the call:    carry [".whl"], timeout_s 600, command:
                 python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit;
                 export PYTHONPATH=/tmp/site; python3 benchmarks/gpu_lease.py --out $OUT [--image]
    back here:   python benchmarks/gpu_lease.py --unpack FILES_AT --to runs/lease   # one checkpoint per run
    test here:   python benchmarks/gpu_lease.py --out /tmp/lease --tiny [--image]
"""

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Candidate:
    architecture: str  # a name in training/architectures.py
    grown: bool  # train_gpu.py --continue: the bundled DiT grown to it, through the last stage; else fresh
    tiny_dit: dict  # the same departure from the tests' tiny architecture, for --tiny


@dataclass(frozen=True)
class ImageCandidate:
    init: str  # --image-init: "copy" (the bundled DiT) or "fresh" (the architecture, untrained)
    architecture: str
    lr: float
    tiny_dit: dict


CANDIDATES = {
    "grid2": Candidate("sora-tiny-grid2", grown=False, tiny_dit={"patch_size": [1, 1, 1]}),
    "deep": Candidate("sora-tiny-deep", grown=True, tiny_dit={"num_layers": 3}),
}
IMAGE_CANDIDATES = {
    "image-copy": ImageCandidate("copy", "sora-tiny", 2e-4, tiny_dit={}),
    "image-grid2": ImageCandidate("fresh", "sora-tiny-grid2", 6e-4, tiny_dit={"patch_size": [1, 1, 1]}),
}
# An image step of this model is cheap; rendering is what keeps a GPU waiting (1.4 s for 128 images on one core).
IMAGE_FLAGS = ["--batch-size", "128", "--image-workers", "12", "--threads", "4", "--save-every", "200"]
TINY_IMAGE_FLAGS = ["--batch-size", "2", "--image-workers", "1", "--threads", "1", "--save-every", "1"]
TINY_IMAGE_FLAGS += ["--height", "32", "--width", "32"]
# What the device machine measures of each model (evaluate.py); the image stage first, where the misses are.
EVALUATIONS = [["--images", "80"], ["--clips", "40"]]
IMAGE_EVALUATIONS = [["--images", "80"]]
TINY_EVALUATIONS = [["--images", "3", "--steps", "2", "--size", "32", "32"]]
# The GPU machine has torch, accelerate, tokenizers and peft, but other diffusers and transformers (2026-12-04).
WHEELS = ["diffusers==0.42.1", "transformers==5.24.0", "ftfy==6.3.1", "wcwidth", "importlib_metadata==8.7.0", "regex"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
PART_BYTES = 15 * 2**20  # under the tool's 16 MiB a file
# Each process's share of the machine's 16 cores: two training runs (8 threads each; their clip-encoding workers come
# and go), then three evaluations at once.
EVALUATION_THREADS = "5"


def importable_paths(scratch: Path) -> str:
    """The repository, what PYTHONPATH held, and where imageio-ffmpeg is missing (the GPU machine; its wheel is most
    of the call's 64 MiB) an empty module in its place: training and evaluation write no video, but
    engine/video.py imports it."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    if not importlib.util.find_spec("imageio_ffmpeg"):
        (scratch / "stand-in" / "imageio_ffmpeg").mkdir(parents=True, exist_ok=True)
        (scratch / "stand-in" / "imageio_ffmpeg" / "__init__.py").write_text("")
        paths.append(str(scratch / "stand-in"))
    return os.pathsep.join(paths)


def environment(threads: str) -> dict[str, str]:
    """Offline, no progress bars in the logs, unbuffered and a share of the cores (PYTHONPATH is set once, in main)."""
    quiet = {"HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": threads}
    return {**os.environ, **quiet}


def tiny_architecture(name: str, change: dict, scratch: Path) -> str:
    """The tests' tiny architecture with candidate `name`'s `change`, as a JSON file for --architecture."""
    spec = json.loads((ROOT / "tests" / "architectures" / "tiny.json").read_text())
    path = scratch / f"tiny-{name}.json"
    path.write_text(json.dumps({**spec, "dit": {**spec["dit"], **change}}))
    return str(path)


def video_command(name: str, scratch: Path, minutes: float, tiny: bool) -> list[list[str]]:
    """Candidate `name`'s run of train_gpu.py, which exports to <run>/sora-tiny itself."""
    candidate = CANDIDATES[name]
    flags = ["--tiny", "--workers", "1"] if tiny else ["--workers", "6"]
    flags += [
        "--architecture",
        tiny_architecture(name, candidate.tiny_dit, scratch) if tiny else candidate.architecture,
    ]
    flags += ["--continue"] if candidate.grown else []
    script = ROOT / "benchmarks" / "train_gpu.py"
    return [[sys.executable, str(script), "--out", str(scratch / name), "--minutes", str(minutes), *flags]]


def image_command(name: str, scratch: Path, minutes: float, tiny: bool) -> list[list[str]]:
    """Image candidate `name`: trained beside the bundled checkpoint for `minutes`, then exported to <run>/sora-tiny."""
    candidate, run = IMAGE_CANDIDATES[name], scratch / name
    architecture = tiny_architecture(name, candidate.tiny_dit, scratch) if tiny else candidate.architecture
    train = [sys.executable, "-m", "sora_core.train", "--stage", "image", "--out", str(run)]
    train += ["--init-from", str(ROOT / "assets" / "sora-tiny"), "--image-init", candidate.init]
    train += ["--architecture", architecture, "--lr", str(candidate.lr), "--warmup", "100", "--ema-decay", "0.999"]
    train += ["--steps", "1000000", "--max-minutes", str(minutes), *(TINY_IMAGE_FLAGS if tiny else IMAGE_FLAGS)]
    export = [sys.executable, "-m", "sora_core.train", "--stage", "export", "--out", str(run)]
    return [train, [*export, "--export-to", str(run / "sora-tiny")]]


def train_side_by_side(out: Path, scratch: Path, minutes: float, tiny: bool, deadline: float, image: bool):
    """Both candidates at once, each in its own folder under `scratch`; the exports of those that finished (a run
    still going at `deadline` is stopped)."""
    names, command = (IMAGE_CANDIDATES, image_command) if image else (CANDIDATES, video_command)
    running = {}
    for name in names:
        commands = command(name, scratch, minutes, tiny)
        log = open(out / f"{name}.txt", "a")
        print("\n".join(shlex.join(c) for c in commands), file=log, flush=True)
        shell = " && ".join(shlex.join(c) for c in commands)
        process = subprocess.Popen(
            ["bash", "-c", shell], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=environment("8")
        )
        running[name] = (process, log)
    exports = {}
    for name, (process, log) in running.items():
        try:
            code = process.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        print(f"{name}: training finished with exit status {code}", file=log, flush=True)
        log.close()
        if code == 0:
            exports[name] = scratch / name / "sora-tiny"
    return exports


def pack(export: Path, out: Path, name: str, scratch: Path) -> list[Path]:
    """The checkpoint folder as one tar cut into parts $OUT/<name>.tar.00, .01, ..."""
    archive = scratch / f"{name}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(export, arcname=name)
    parts, data = [], archive.read_bytes()
    for index, begin in enumerate(range(0, len(data), PART_BYTES)):
        parts.append(out / f"{name}.tar.{index:02d}")
        parts[-1].write_bytes(data[begin : begin + PART_BYTES])
    return parts


def evaluate_side_by_side(models: dict[str, str], out: Path, deadline: float, evaluations: list[list[str]]):
    """Every evaluation of each model, the models at once, each into $OUT/<name>.txt; stopped at `deadline`."""

    def run_all(name: str, model: str) -> subprocess.Popen:
        log = out / f"{name}.txt"
        commands = [
            shlex.join([sys.executable, "-m", "sora_core.evaluate", "--model", model, *flags])
            + f" >> {shlex.quote(str(log))} 2>&1"
            for flags in evaluations
        ]
        return subprocess.Popen(["bash", "-c", "; ".join(commands)], cwd=ROOT, env=environment(EVALUATION_THREADS))

    running = {name: run_all(name, model) for name, model in models.items()}
    for name, process in running.items():
        try:
            process.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            process.kill()
            with open(out / f"{name}.txt", "a") as log:
                print(f"{name}: evaluation stopped at the call's time limit", file=log)


def download_wheels(folder: Path):
    """The wheels the call carries, for the GPU machine's Python 3.12 on x86-64 (ignore the folder in git)."""
    platforms = [word for platform in PLATFORMS for word in ("--platform", platform)]
    options = ["--no-deps", "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp", *platforms]
    subprocess.run([sys.executable, "-m", "pip", "download", *options, "-d", str(folder), *WHEELS], check=True)


def unpack(folder: Path, to: Path):
    """The parts brought back, joined and unpacked: one checkpoint folder per candidate under `to`."""
    to.mkdir(parents=True, exist_ok=True)
    for name in [*CANDIDATES, *IMAGE_CANDIDATES]:
        parts = sorted(folder.glob(f"{name}.tar.[0-9][0-9]"))
        if not parts:
            print(f"{name}: no parts in {folder} (see {name}.txt)")
            continue
        archive = to / f"{name}.tar"
        archive.write_bytes(b"".join(part.read_bytes() for part in parts))
        with tarfile.open(archive) as tar:
            tar.extractall(to, filter="data")
        archive.unlink()
        print(f"{name}: {to / name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="where the parts and logs go ($OUT on the device machine)")
    parser.add_argument("--minutes", type=float, default=5.0, help="each run's time, from its start to its export")
    parser.add_argument("--limit", type=float, default=9.5, help="minutes until everything must have stopped")
    parser.add_argument("--scratch", default="/tmp/lease", help="the runs' folders (not brought back)")
    parser.add_argument("--tiny", action="store_true", help="test size on the CPU (train_gpu.py --tiny)")
    parser.add_argument("--unpack", metavar="FOLDER", help="instead: join the parts brought back into FOLDER")
    parser.add_argument("--to", default="lease", help="with --unpack: where the checkpoints go")
    parser.add_argument("--wheels", action="store_true", help="instead: download the wheels the call carries")
    parser.add_argument("--image", action="store_true", help="the image-model candidates instead of the video ones")
    args = parser.parse_args(argv)
    if args.wheels:
        return download_wheels(ROOT / ".whl")
    if args.unpack:
        return unpack(Path(args.unpack), Path(args.to))
    if not args.out:
        raise SystemExit("--out: say where the parts and logs go ($OUT on the device machine).")
    deadline = time.time() + 60 * args.limit
    out, scratch = Path(args.out), Path(args.scratch)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(scratch, ignore_errors=True)  # a fresh machine has none; here, a stale test run
    scratch.mkdir(parents=True)
    os.environ["PYTHONPATH"] = importable_paths(scratch)  # for every run and evaluation started below
    # Training stops with time left for the evaluations; they stop at the limit.
    stop_training = deadline - 60 * (args.limit - args.minutes) / 2
    exports = train_side_by_side(out, scratch, args.minutes, args.tiny, stop_training, args.image)
    for name, export in exports.items():
        print(f"{name}: {len(pack(export, out, name, scratch))} parts")
    bundled = str(scratch / "grid2" / "untrained") if args.tiny and not args.image else "sora-tiny"
    evaluations = TINY_EVALUATIONS if args.tiny else IMAGE_EVALUATIONS if args.image else EVALUATIONS
    evaluate_side_by_side({"bundled": bundled, **{n: str(e) for n, e in exports.items()}}, out, deadline, evaluations)


if __name__ == "__main__":
    main()

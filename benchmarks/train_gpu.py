"""sora-tiny's recipe (`sora_core/training/recipe.py`: the curriculum, then everything) on one lent GPU in under
10 minutes: from the bundled checkpoint (its VAE kept, so the latents stay valid), bfloat16 autocast (checked
against float32 first), the curriculum at batch 128 for an eighth of its steps, then the last stage on new clips
encoded by worker processes, its steps fitted to the minutes left, exported.

    python benchmarks/train_gpu.py --out "$OUT"                  # on the GPU machine: $OUT/sora-tiny is the result
    python benchmarks/train_gpu.py --out /tmp/gpu-run --tiny     # the same code path at test size on the CPU
    python benchmarks/train_gpu.py --out "$OUT" --continue       # the recipe's last stage again, from the bundled model
    python benchmarks/train_gpu.py --out "$OUT" --architecture sora-tiny-grid2   # a new DiT, the whole recipe
    python benchmarks/train_gpu.py --out "$OUT" --continue --architecture sora-tiny-deep   # the bundled DiT, deeper
    python benchmarks/train_gpu.py --out "$OUT" --ema-decay 0.999  # any of them, ending on a weight average

The last stage ("everything") runs on new clips (another seed), rendered and encoded by several processes at once,
its steps fitted to what is left of --minutes from a short timed run, so the cosine schedule ends when the time does.
`--continue` runs that stage alone from the bundled model, the way the CPU run v3 did (research log, 2026-12-04).
`--architecture NAME|FILE` starts the recipe from a fresh DiT of that architecture (another grid, more layers)
beside the bundled VAE and text encoder (`--stage init --init-from`), so only the transformer learns from nothing;
with `--continue`, the bundled DiT grown to that architecture's blocks (`sora-tiny-deep`: 8 of them; the new ones
start silent, `sora_core/training/grow.py`) goes on through the last stage.

Then `python -m sora_core.evaluate --model $OUT/sora-tiny --animate 20` (printed at the end here as well) and, if it
beats the bundled model, copy $OUT/sora-tiny over assets/sora-tiny. The run folder ($OUT/run) resumes with the
same command. `benchmarks/gpu_lease.py` runs two of these side by side in one call of the device tool.
"""

import argparse
import csv
import multiprocessing
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sora_core.engine.loading import BUNDLED  # noqa: E402
from sora_core.toyworld import evaluate  # noqa: E402
from sora_core.training import recipe, train  # noqa: E402
from sora_core.training.config import TrainConfig  # noqa: E402

GPU = ["--precision", "bf16", "--threads", "8"]
TINY_ARCHITECTURE = str(ROOT / "tests" / "architectures" / "tiny.json")
TINY = ["--architecture", TINY_ARCHITECTURE, "--height", "32", "--width", "32", "--threads", "1"]
CURRICULUM = list(recipe.STAGES)[:-1]  # the recipe's stages before its last
# The last stage's clips (new ones, encoded by worker processes) and batch, on a GPU and at test size.
GPU_LAST = dict(clips=16000, workers=12, batch_size=128)
TINY_LAST = dict(clips=64, workers=2, batch_size=2)


def encode_share(config: TrainConfig, rank: int, world: int):
    torch.set_num_threads(1)
    train.build_latent_cache(config, "cuda" if torch.cuda.is_available() else "cpu", rank, world)


def encode_in_parallel(config: TrainConfig, workers: int):
    """Rendering the toy world is CPU work: on one process it would take most of a lease."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.starmap(encode_share, [(config, rank, workers) for rank in range(workers)])


def seconds_per_step(config: TrainConfig, folder: Path, steps: int = 60) -> float:
    """A short run beside the real one, on the same clips, timed over its second half (after warm-up)."""
    (folder / "dit").mkdir(parents=True, exist_ok=True)
    for link, target in ((folder / "dit" / "latents", "dit/latents"), (folder / "vae", "vae")):
        if not link.exists():
            link.symlink_to(Path(config.out, target).resolve())
    train.run(replace(config, out=str(folder), steps=steps, log_every=steps // 2, save_every=10 * steps))
    with open(folder / "dit" / "loss.csv") as f:
        rows = {int(row["step"]): float(row["seconds"]) for row in csv.DictReader(f)}
    return (rows[steps] - rows[steps // 2]) / (steps - steps // 2)


def last_stage(base: TrainConfig, out: Path, start: Path, export: Path, args, deadline: float):
    """The recipe's last stage from `start` on new clips, its steps fitted to the time left before `deadline`, exported;
    its settings."""
    scale = recipe.Scale(batch_size=args.batch_size)
    config = recipe.stage_config(base, "everything", out / "run", start, scale)
    config = replace(config, lr=args.lr, seed=args.seed, cache_clips=args.clips, warmup=100, max_minutes=0.0)
    train.provide_vae(config)  # the clips are encoded before the stage runs: its VAE first
    encode_in_parallel(config, args.workers)
    pace = seconds_per_step(config, out / "calibrate")
    left = deadline - time.time() - 7.5 * args.minutes  # the export, loading the clips again: 60 s of 8 min
    steps = max(1, int(0.9 * left / pace))  # the timed run leaves out saving (every 500 steps) and slow steps
    print(f"{pace * 1000:.0f} ms a step at batch {args.batch_size}: {steps} steps in {left / 60:.1f} min", flush=True)
    train.run(replace(config, steps=steps, save_every=500, max_minutes=max(left, 1.0) / 60))
    train.run(replace(config, stage="export", export_to=str(export)))
    return config


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, help="the folder to write the run and the exported checkpoint into")
    parser.add_argument("--minutes", type=float, default=7.0, help="time in all, from the start to the export")
    parser.add_argument("--tiny", action="store_true", help="a test-size model on the CPU, from an untrained one")
    parser.add_argument("--architecture", default="", help="a new DiT: a name or a JSON file (above)")
    parser.add_argument("--continue", dest="go_on", action="store_true", help="the last stage only (see above)")
    parser.add_argument("--clips", type=int, default=None, help="new clips the last stage encodes (16000; tiny 64)")
    parser.add_argument("--lr", type=float, default=3e-4, help="the last stage's peak learning rate")
    parser.add_argument("--batch-size", type=int, default=None, help="the last stage's clips a step (128; tiny 2)")
    parser.add_argument("--seed", type=int, default=2, help="the last stage's clips' seed (v2 used 0, v3 1)")
    parser.add_argument("--workers", type=int, default=None, help="processes encoding its clips (12; tiny 2)")
    parser.add_argument("--ema-decay", type=float, default=0.0, help="export the weights' moving average (train.py)")
    args = parser.parse_args(argv)
    for name, value in (TINY_LAST if args.tiny else GPU_LAST).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    export, started = out / "sora-tiny", time.time()
    deadline = started + 60 * args.minutes
    if args.tiny:
        start = out / "untrained"
        train.main(["--stage", "init", "--export-to", str(start), *TINY])
        scale = recipe.Scale(steps=0.0001, clips=0.001, minutes=args.minutes, batch_size=1)
        base = train.parse_args(TINY)
    else:
        start, base = BUNDLED, train.parse_args(GPU)
        scale = recipe.Scale(steps=1 / 8, clips=2.0, minutes=args.minutes, batch_size=128)
    base = replace(base, ema_decay=args.ema_decay)
    if args.architecture and args.go_on:  # more blocks of the same size, grown from the start's (grow.py)
        base = replace(base, architecture=args.architecture)
    elif args.architecture:  # only the transformer is new: the start's latents and words stay
        fresh = out / "fresh"
        init = ["--stage", "init", "--architecture", args.architecture, "--init-from", str(start)]
        train.main([*init, "--export-to", str(fresh)])
        start, base = fresh, replace(base, architecture=args.architecture)
    configs = []
    # The curriculum (short: an eighth of its CPU steps at 8x the batch; each stage stopped at its share of the
    # minutes, should it run slow), then the last stage.
    if not args.go_on:
        start, configs = recipe.run_stages(base, out / "run", start, scale, CURRICULUM)
    configs.append(last_stage(base, out, start, export, args, deadline))
    recipe.record_recipe(export, configs)
    print(f"trained and exported in {(time.time() - started) / 60:.1f} min: {export}")
    size = ["--size", "32", "32"] if args.tiny else []
    evaluate.main(["--model", str(export), "--animate", "20", "--steps", "2" if args.tiny else "20", *size])


if __name__ == "__main__":
    main()

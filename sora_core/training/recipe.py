"""sora-tiny's recipe as one resumable command: a curriculum of DiT stages, each a `train.py` run that starts from
the export of the one before, then the final export.

    python -m sora_core.training.recipe --out runs/sora-tiny-v2 --export-to runs/sora-tiny-v2/sora-tiny \\
        -- --precision bf16 --threads 2

Flags after `--` go to every stage's `train.py` run (threads, precision, architecture, ...); the ones the recipe sets
are refused.
Why a curriculum (research log, 2026-12-03): trained on every scene at once, the DiT never read the motion word
(right-minus-left +8 px of a possible +60); one scene taught it in 200 steps (+50), and carried from there to
every appearance, then to five motions, it animated 20 of 20 held-out first frames the asked way. The last stage
adds the rest of the recipe: images (the image stage draws colour and shape), other known-frame masks, plain
text-to-video. Every stage caches each first frame under every motion (`--paired-motions`).

Each stage trains in <out>/<stage> and resumes there; it ends in <out>/<stage>/export, which the next one starts
from. A stage whose export exists is skipped: the same command goes on wherever it stopped.
"""

import argparse
import json
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..engine.loading import BUNDLED
from .config import TrainConfig
from .latent_cache import CHUNK
from .train import parse_args, run

LEFT_RIGHT = ["moving left", "moving right"]
FIVE_MOTIONS = [*LEFT_RIGHT, "moving up", "moving down", "standing still"]
# The first stages teach the animate task alone: every clip's first latent frame known, every caption whole.
ANIMATE_ONLY = dict(first_frame_share=1.0, known_share=0.0, caption_omit=0.0, caption_dropout=0.0)
VIDEO, LONG, IMAGE = (0, 0, 17), (0, 0, 33), (0, 0, 1)  # buckets at the model's size (config.buckets_of)

# TrainConfig fields per stage, in order. On 2 CPU threads at batch 16 (bfloat16, AVX-512 BF16) the first three
# took about 80 minutes together and the last about 1 s a step (research log, the runs of 2026-12-03 to 2026-12-04).
STAGES = {
    "one-scene": dict(
        steps=200, cache_clips=64, buckets=[VIDEO], colors=["red"], shapes=["ball"], backgrounds=["black"],
        motions=LEFT_RIGHT, **ANIMATE_ONLY,
    ),
    "left-right": dict(steps=1200, cache_clips=256, buckets=[VIDEO], motions=LEFT_RIGHT, **ANIMATE_ONLY),
    "five-motions": dict(steps=1200, cache_clips=480, buckets=[VIDEO], motions=FIVE_MOTIONS, **ANIMATE_ONLY),
    # Images in six bucket slots of ten: from step 2,400 of the first long run, when its image stage lagged.
    "everything": dict(
        steps=12000, cache_clips=6400, buckets=[VIDEO] * 3 + [LONG] + [IMAGE] * 6, first_frame_share=0.8,
        known_share=0.2,
    ),
}  # fmt: skip
COMMON = dict(stage="dit", paired_motions=True, high_noise_share=0.5, lr=3e-4, warmup=50)
SET_HERE = {
    "out",
    "init_from",
    "export_to",
    "max_minutes",
    *COMMON,
    *(key for stage in STAGES.values() for key in stage),
}


@dataclass(frozen=True)
class Scale:
    """How a run departs from the CPU recipe: fewer steps of a bigger batch, more clips, a time limit in all."""

    steps: float = 1.0
    clips: float = 1.0
    minutes: float = 0.0
    batch_size: int = 16

    def steps_of(self, stage: str) -> int:
        return max(1, round(STAGES[stage]["steps"] * self.steps))


def stage_config(base: TrainConfig, name: str, out: Path, start: Path, scale: Scale) -> TrainConfig:
    """The `train.py` settings of one stage: the user's flags, the recipe's, the stage's own, scaled."""
    steps, total = scale.steps_of(name), sum(scale.steps_of(stage) for stage in STAGES)
    settings = {**COMMON, **STAGES[name], "steps": steps, "batch_size": scale.batch_size}
    settings["cache_clips"] = max(CHUNK, round(settings["cache_clips"] * scale.clips))
    settings["max_minutes"] = scale.minutes * steps / total
    return replace(base, out=str(out / name), init_from=str(start), **settings)


def check_flags(base: TrainConfig):
    """A train.py flag the recipe sets itself would be overridden without a word: refused, naming it."""
    defaults = TrainConfig()
    mine = sorted(name for name in SET_HERE if getattr(base, name) != getattr(defaults, name))
    if mine:
        flags = ", ".join("--" + name.replace("_", "-") for name in mine)
        raise SystemExit(f"{flags}: the recipe sets these for each stage (see STAGES in recipe.py); leave them out.")


def run_stages(
    base: TrainConfig, out: Path, start: Path, scale: Scale, names: list[str]
) -> tuple[Path, list[TrainConfig]]:
    """The named stages in turn from the checkpoint `start`, each from the export of the one before (a stage whose
    export exists is skipped); the last export and every stage's settings."""
    if not (start / "vae").is_dir():
        raise SystemExit(f"--init-from {start}: not a checkpoint folder (it has no vae/).")
    configs = []
    for name in names:
        config = stage_config(base, name, out, start, scale)
        configs.append(config)
        done = out / name / "export"
        if not (done / "sora.json").exists():
            run(config)  # a stage without a VAE in its folder takes its start's (train.provide_vae)
            run(replace(config, stage="export", export_to=str(done)))
        start = done
    return start, configs


def record_recipe(export_to: Path, configs: list[TrainConfig]):
    """The stages that made a checkpoint, in its sora.json (each stage's folder is named after it)."""
    sora = json.loads((export_to / "sora.json").read_text())
    sora["recipe"] = [{"name": Path(c.out).name, **asdict(c)} for c in configs]
    (export_to / "sora.json").write_text(json.dumps(sora, indent=2))


def run_recipe(base: TrainConfig, out: Path, start: Path, export_to: Path, scale: Scale = Scale()):
    """Every stage in turn from the checkpoint `start` (its VAE is kept: the latents stay valid), then the result
    copied to `export_to` with the recipe recorded in its sora.json."""
    last, configs = run_stages(base, out, start, scale, list(STAGES))
    shutil.copytree(last, export_to, dirs_exist_ok=True)
    record_recipe(export_to, configs)
    print(f"the recipe's {len(STAGES)} stages exported to {export_to}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    ours, theirs = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the run's folder: one subfolder per stage")
    parser.add_argument("--init-from", default=str(BUNDLED), help="the checkpoint the first stage starts from")
    parser.add_argument("--export-to", default=None, help="where the result goes (default: <out>/sora-tiny)")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="every stage's steps times this")
    parser.add_argument("--clips-scale", type=float, default=1.0, help="every stage's cached clips times this")
    parser.add_argument("--minutes", type=float, default=0.0, help="training time in all, shared by steps; 0: none")
    parser.add_argument("--batch-size", type=int, default=16, help="every stage's batch (16 on a CPU)")
    args = parser.parse_args(ours)
    base = parse_args(theirs)
    check_flags(base)
    out = Path(args.out)
    export_to = Path(args.export_to) if args.export_to else out / "sora-tiny"
    run_recipe(
        base,
        out,
        Path(args.init_from),
        export_to,
        Scale(args.steps_scale, args.clips_scale, args.minutes, args.batch_size),
    )


if __name__ == "__main__":
    main()

"""sora-tiny's recipe (`sora_core/training/recipe.py`: the curriculum, then everything) on one lent GPU in under
10 minutes: from the bundled checkpoint (its VAE kept, so the latents stay valid), bfloat16 autocast (checked
against float32 first), batch 128 for an eighth of the steps, twice the clips, encoded on the GPU, each stage
stopped in its share of the time and exported.

    python benchmarks/train_gpu.py --out "$OUT"                  # on the GPU machine: $OUT/sora-tiny is the result
    python benchmarks/train_gpu.py --out /tmp/gpu-run --tiny     # the same code path at test size on the CPU

Then `python -m sora_core.evaluate --model $OUT/sora-tiny --animate 20` (printed at the end here as well) and, if it
beats the bundled model, copy $OUT/sora-tiny over assets/sora-tiny. The run folder ($OUT/run) resumes with the
same command.
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sora_core.engine.loading import BUNDLED  # noqa: E402
from sora_core.toyworld import evaluate  # noqa: E402
from sora_core.training import recipe, train  # noqa: E402

GPU = ["--precision", "bf16", "--threads", "8"]
TINY_ARCHITECTURE = str(ROOT / "tests" / "architectures" / "tiny.json")
TINY = ["--architecture", TINY_ARCHITECTURE, "--height", "32", "--width", "32", "--threads", "1"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, help="the folder to write the run and the exported checkpoint into")
    parser.add_argument("--minutes", type=float, default=7.0, help="training time in all, clip encoding aside")
    parser.add_argument("--tiny", action="store_true", help="a test-size model on the CPU, from an untrained one")
    args = parser.parse_args()
    out = Path(args.out)
    export, started = out / "sora-tiny", time.time()
    if args.tiny:
        start = out / "untrained"
        train.main(["--stage", "init", "--export-to", str(start), *TINY])
        scale = recipe.Scale(steps=0.0001, clips=0.001, minutes=args.minutes, batch_size=1)
        base = train.parse_args(TINY)
    else:
        start, base = BUNDLED, train.parse_args(GPU)
        scale = recipe.Scale(steps=1 / 8, clips=2.0, minutes=args.minutes, batch_size=128)
    recipe.run_recipe(base, out / "run", start, export, scale)
    print(f"trained and exported in {(time.time() - started) / 60:.1f} min: {export}")
    size = ["--size", "32", "32"] if args.tiny else []
    evaluate.main(["--model", str(export), "--animate", "20", "--steps", "2" if args.tiny else "20", *size])


if __name__ == "__main__":
    main()

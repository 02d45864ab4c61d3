"""sora-tiny's recipe on one lent GPU in under 10 minutes: the DiT from the bundled checkpoint (its VAE kept, so the
latents stay valid), bfloat16 autocast (checked against float32 first), a large batch over many freshly rendered
clips encoded on the GPU, the image-first-then-animate mix of issue 26, stopped in time and exported.

    python benchmarks/train_gpu.py --out "$OUT"                  # on the GPU machine: $OUT/sora-tiny is the result
    python benchmarks/train_gpu.py --out /tmp/gpu-run --tiny     # the same code path at test size on the CPU

Then `python -m sora_core.evaluate --model $OUT/sora-tiny --animate 20` (printed at the end here as well) and, if it
beats the bundled model, copy $OUT/sora-tiny over assets/sora-tiny. The run folder ($OUT/run) resumes with the
same command.
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sora_core.toyworld import evaluate  # noqa: E402
from sora_core.training import train  # noqa: E402

# The recipe: the probe's knobs (a known first frame for most clips, high t, the motion terms), scaled to a GPU.
RECIPE = [
    "--first-frame-share", "0.8", "--high-noise-share", "0.5", "--dit-path-weight", "--dit-motion-weight", "1.0",
    "--lr", "3e-4", "--warmup", "100", "--save-every", "500", "--log-every", "50",
    "--buckets", "96x96x17", "96x96x17", "96x96x17", "96x96x33", "96x96x1",
]  # fmt: skip
GPU = ["--steps", "20000", "--batch-size", "128", "--cache-clips", "8192", "--precision", "bf16", "--threads", "8"]
TINY = ["--architecture", str(ROOT / "tests" / "architectures" / "tiny.json"), "--steps", "3", "--batch-size", "2"]
TINY += ["--cache-clips", "16", "--threads", "1"]
TINY += ["--height", "32", "--width", "32", "--buckets", "32x32x5", "32x32x1"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, help="the folder to write the run and the exported checkpoint into")
    parser.add_argument("--minutes", type=float, default=7.0, help="training time, after the clips are encoded")
    parser.add_argument("--tiny", action="store_true", help="a test-size model on the CPU (no warm start)")
    args = parser.parse_args()
    out = Path(args.out)
    run, export = out / "run", out / "sora-tiny"
    started = time.time()
    if args.tiny:
        train.main(["--stage", "vae", "--out", str(run), *TINY])
        options = [*RECIPE[: RECIPE.index("--buckets")], *TINY]
    else:
        if not (run / "vae" / "model").exists():  # the bundled VAE: its latents are what the DiT was trained on
            shutil.copytree(ROOT / "assets" / "sora-tiny" / "vae", run / "vae" / "model")
        options = [*RECIPE, *GPU, "--init-from", str(ROOT / "assets" / "sora-tiny")]
    train.main(["--stage", "dit", "--out", str(run), "--max-minutes", str(args.minutes), *options])
    train.main(["--stage", "export", "--out", str(run), "--export-to", str(export), *options])
    print(f"trained and exported in {(time.time() - started) / 60:.1f} min: {export}")
    size = ["--size", "32", "32"] if args.tiny else []
    evaluate.main(["--model", str(export), "--animate", "20", "--steps", "2" if args.tiny else "20", *size])


if __name__ == "__main__":
    main()

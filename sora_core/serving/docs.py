"""The README's tables, made from the code: the presets (with each local checkpoint's own `sora.json` defaults) and
the Space's named endpoints with their parameters. `tests/test_readme.py` holds the README to them, so the two
cannot drift; after a change, print them and paste:

    python -m sora_core.serving.docs
"""

from pathlib import Path

from ..engine import loading
from ..engine.presets import PRESETS, Preset

RETURNS = {"image": "PNG, seed, prompt used"}


def checkpoint_cell(preset: Preset) -> str:
    folder = Path(preset.source)
    if folder.is_dir():
        megabytes = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
        return f"`assets/{folder.name}` (bundled, {megabytes:.0f} MB)"
    return f"Hub `{preset.source}`"


def preset_row(name: str, preset: Preset) -> str:
    folder = Path(preset.source)
    if folder.is_dir():  # a local checkpoint's own defaults win, as they do when it loads
        preset = loading.with_checkpoint_overrides(preset, folder)
    shift = "the checkpoint's" if preset.flow_shift is None else f"{preset.flow_shift:g}"
    cells = [
        f"`{name}`" + (" (default)" if name == "sora-tiny" else ""),
        checkpoint_cell(preset),
        f"{preset.height} × {preset.width}",
        f"{preset.num_frames} / {preset.fps:g}",
        str(preset.steps),
        f"{preset.guidance:g}",
        shift,
        preset.cuda_dtype,
    ]
    return "| " + " | ".join(cells) + " |"


def presets_table() -> str:
    header = "| preset | checkpoint | default size | frames / fps | steps | guidance | flow shift | dtype on CUDA |"
    return "\n".join([header, "|---|---|---|---|---|---|---|---|", *(preset_row(n, p) for n, p in PRESETS.items())])


def endpoints_table(api) -> str:
    """`api`: `endpoints.make_endpoints(pipe)`; every named endpoint with its parameters in their order."""
    from .endpoints import parameters

    rows = ["| endpoint | parameters (defaults from the model's preset) | returns |", "|---|---|---|"]
    for name in ("generate", "image", "extend", "transition", "loop", "restyle", "storyboard"):
        endpoint = getattr(api, name)
        names = ", ".join(f"`{p}`" for p in parameters(endpoint))
        rows.append(f"| `/{name}` | {names} | {RETURNS.get(name, 'MP4, seed, prompt used')} |")
    return "\n".join(rows)


def main():
    from ..engine.pipeline import SoraPipeline
    from .endpoints import make_endpoints

    print(presets_table() + "\n")
    print(endpoints_table(make_endpoints(SoraPipeline.from_pretrained("sora-tiny", device="cpu"))))


if __name__ == "__main__":
    main()

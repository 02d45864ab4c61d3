"""Re-captioning (the Sora report's recipe, after DALL·E 3): write a detailed caption beside every video of a folder,
so that `python -m sora_core.train --data FOLDER` can train on footage that came without any.

    python -m sora_core.recaption FOLDER [--captioner toyworld|vlm|REPO_OR_FOLDER] [--frames 4] [--overwrite]

Captioners:
- `toyworld`: the evaluation's detector read as a caption of the toy world's own form ("a red ball moving right on
  a black background"): offline, and checkable against the ground truth of rendered clips.
- `vlm` (the pinned `VLM_MODEL`), or any Hub repo id or folder of an image-text-to-text model: a few frames and
  `CAPTION_PROMPT` through transformers' `AutoProcessor` and `AutoModelForImageTextToText`, loaded on first use
  (bfloat16 on a GPU).

A caption goes to `NAME.txt` beside `NAME.mp4`; files with one are skipped unless `overwrite`, so a stopped run
resumes where it was. A file that cannot be read is reported in one line and skipped, never the whole run.
"""

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import toyworld
from ..engine.loading import hub_offline, is_repo_id, names_a_folder
from ..engine.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Video, VideoError
from ..toyworld.detector import read
from .data import CAPTIONS_RECORD

# SmolVLM-256M-Instruct (Idefics3; 256M parameters, runs on a CPU), at the commit public projects load it at (their
# Hugging Face cache snapshot folders name it).
VLM_MODEL = "HuggingFaceTB/SmolVLM-256M-Instruct"
VLM_REVISION = "7e3e67edbbed1bf9888184d9df282b700a323964"
CAPTION_PROMPT = (
    "These are frames of one short video, in order. Describe the video in one paragraph: the main subject, its "
    "colours, how it moves, the background, and the camera."
)
Captioner = Callable[[np.ndarray], str]  # uint8 frames (T, H, W, 3) -> one caption


def toyworld_caption(frames: np.ndarray) -> str:
    """The toy world's caption form, read off the frames by the evaluation's detector; what it cannot read it leaves
    out, as a short prompt would."""
    reading = read(frames)
    if reading.shape is None:
        return f"a {reading.background} background"
    thing = toyworld.Thing(reading.shape, reading.color or "", reading.motion or "")
    scene = toyworld.Scene((thing,), reading.background)
    return scene.caption(color=reading.color is not None, motion=reading.motion is not None)


def sample_frames(frames: np.ndarray, count: int) -> np.ndarray:
    """`count` frames spread evenly from first to last (all of them when there are fewer)."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    return frames[picks]


class VLMCaptioner:
    """A Hub (or local) image-text-to-text model as a captioner, loaded on the first caption."""

    def __init__(self, model: str = VLM_MODEL, revision: str | None = VLM_REVISION, frames: int = 4, device=None):
        self.model_name, self.revision, self.frames = model, revision, frames
        self.device, self.model, self.processor = device, None, None

    def load(self):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if str(self.device).startswith("cuda") else torch.float32
        offline = not Path(self.model_name).expanduser().is_dir() and hub_offline()
        where = dict(revision=self.revision, local_files_only=offline)  # offline: no five retries of a dead Hub
        try:
            self.processor = AutoProcessor.from_pretrained(self.model_name, **where)
            self.model = AutoModelForImageTextToText.from_pretrained(self.model_name, dtype=dtype, **where)
        except Exception as error:  # the Hub's and transformers' errors run to many lines
            if offline:
                raise OSError(
                    f"--captioner {self.model_name}: not in the local Hugging Face cache and the Hub cannot be "
                    f"reached (offline); connect once or run `hf download {self.model_name}`."
                ) from None
            raise OSError(
                f"--captioner {self.model_name}: could not load an image-text-to-text model from it "
                f"({type(error).__name__}; is it on the Hub, or a model folder?)."
            ) from None
        self.model.to(self.device).eval()

    def __call__(self, frames: np.ndarray) -> str:
        import torch
        from PIL import Image

        if self.model is None:
            self.load()
        images = [Image.fromarray(frame) for frame in sample_frames(frames, self.frames)]
        content = [{"type": "image"} for _ in images] + [{"type": "text", "text": CAPTION_PROMPT}]
        messages = [{"role": "user", "content": content}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(text=text, images=images, return_tensors="pt").to(self.device)
        inputs = {k: v.to(self.model.dtype) if v.is_floating_point() else v for k, v in inputs.items()}
        with torch.no_grad():
            tokens = self.model.generate(**inputs, max_new_tokens=120, do_sample=False)
        new_tokens = tokens[:, inputs["input_ids"].shape[1] :]
        return " ".join(self.processor.batch_decode(new_tokens, skip_special_tokens=True)[0].split())


def make_captioner(name: str, frames: int = 4) -> Captioner:
    if name == "toyworld":
        return toyworld_caption
    if name == "vlm":
        return VLMCaptioner(frames=frames)
    if names_a_folder(name):
        if not Path(name).expanduser().is_dir():
            raise ValueError(f"--captioner: {name} is not a model folder.")
    elif not is_repo_id(name):
        raise ValueError(
            f"--captioner must be toyworld, vlm, a Hub repo id (owner/name) or a model folder; got {name!r}."
        )
    return VLMCaptioner(name, revision=None, frames=frames)  # a repo id or folder the user names


def caption_record(captioner) -> dict:
    """What `captions.json` says of a folder's captions: who wrote them, and so their style ("toyworld": the toy
    world's sentences; "paragraph": a VLM's paragraph, the form the Hub presets' prompt enhancer writes)."""
    if captioner is toyworld_caption:
        return {"captioner": "toyworld", "style": "toyworld"}
    if isinstance(captioner, VLMCaptioner):
        return {"captioner": captioner.model_name, "revision": captioner.revision, "style": "paragraph"}
    return {"captioner": getattr(captioner, "__name__", type(captioner).__name__), "style": "custom"}


@dataclass
class Report:
    written: list[Path] = field(default_factory=list)
    already: list[Path] = field(default_factory=list)  # had a caption; skipped
    failed: list[tuple[Path, str]] = field(default_factory=list)  # could not be read: skipped, with the reason


def media_files(folder: Path) -> list[Path]:
    suffixes = VIDEO_SUFFIXES | IMAGE_SUFFIXES
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def recaption(folder, captioner: Captioner | str = "toyworld", overwrite: bool = False, progress: bool = True):
    """Caption every video and image under `folder` that has no `.txt` beside it (all of them with `overwrite`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"FOLDER: {folder} is not a folder.")
    captioner = make_captioner(captioner) if isinstance(captioner, str) else captioner
    report = Report()
    for path in tqdm(media_files(folder), desc="captioning", unit="file", disable=not progress):
        caption_file = path.with_suffix(".txt")
        if caption_file.exists() and not overwrite:
            report.already.append(path)
            continue
        try:
            caption = captioner(Video.load(path).frames)
        except VideoError as error:
            report.failed.append((path, str(error)))
            continue
        caption_file.write_text(caption + "\n")
        report.written.append(path)
    if report.written:  # read by the training's export: the checkpoint's enhancer aims at this style
        (folder / CAPTIONS_RECORD).write_text(json.dumps(caption_record(captioner), indent=2) + "\n")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sora_core.recaption", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--captioner", default="toyworld", help="toyworld, vlm, or an image-text-to-text model")
    parser.add_argument("--frames", type=int, default=4, help="frames a VLM sees per video")
    parser.add_argument("--overwrite", action="store_true", help="caption files that already have a caption too")
    args = parser.parse_args(argv)
    if args.frames < 1:
        print(f"error: --frames must be 1 or more; got {args.frames}.", file=sys.stderr)
        return 2
    try:
        report = recaption(args.folder, make_captioner(args.captioner, args.frames), args.overwrite)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path, reason in report.failed:
        print(f"skipped {path.name}: {reason}", file=sys.stderr)
    print(f"{len(report.written)} captioned, {len(report.already)} already had one, {len(report.failed)} skipped")
    return 1 if report.failed else 0

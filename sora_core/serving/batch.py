"""Batch jobs: one request a line of a JSON Lines file, on one process or many (accelerate).

    python -m sora_core batch --jobs jobs.jsonl --out renders/ [--model sora-tiny] [--fast]
    accelerate launch --num_processes 2 -m sora_core batch --jobs jobs.jsonl --out renders/

A line is any task the CLI has, with the Python API's names and limits:
    {"task": "generate", "prompt": "a red ball bouncing", "seed": 3, "num_frames": 17}
    {"task": "extend", "video": "in.mp4", "prompt": "...", "num_frames": 16, "direction": "backward"}
    {"task": "storyboard", "cards": [{"prompt": "...", "seconds": 2}, ...], "seed": 1}
Line n (from 1) writes `DIR/n.mp4` (`DIR/n.png` for a 1-frame generate), through a temporary name and a rename, so
a half-written file never carries the final name; then its manifest row. `DIR/manifest.jsonl` lists, line by line,
the settings asked, the process that ran it, the seconds taken and the output's path or the one-sentence error. A
bad line is reported and the batch goes on. Run the same command again and finished lines (those with a row) are
skipped.

Under `accelerate launch` (PartialState: each process's rank and device, GPU i or the CPU with its share of the
threads) the processes take the lines one at a time, longest kinds first, each claiming the next line no process
has claimed (an exclusive file in `DIR/.claims`): mixed lines differ 20-fold in cost, and a fixed split
(`split_between_processes`) left one process idle for a third of a run (measured: 0.73 of one process's time).
A line's output depends only on the line (its seed), not on how many processes ran it. The main process shows the
progress bar and merges the rows into one manifest. With `--context-parallel N` (N processes, a GPU each) the
processes instead make every line together, each clip's tokens split between them
(engine/parallel.py), and the main process writes.

On a machine without GPUs, `accelerate launch --multi_gpu --num_processes N` starts N CPU processes over gloo
(accelerate's `--cpu` starts one, whatever `--num_processes` says).
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ..engine import limits

USER_ERRORS = (ValueError, TypeError, RuntimeError, OSError)
TASKS = ("generate", "extend", "transition", "loop", "restyle", "storyboard")
PATH_FIELDS = ("video", "video_a", "video_b")


def read_jobs(path: Path) -> list[tuple[int, dict | str]]:
    """(line number from 1, the job) for every non-blank line; a line that is not a JSON object is its error."""
    jobs = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            job = json.loads(text)
        except json.JSONDecodeError as error:
            jobs.append((number, f"the line is not JSON: {error.msg} (column {error.colno})."))
            continue
        jobs.append((number, job if isinstance(job, dict) else f"the line must be a JSON object; got {text!r}."))
    return jobs


def output_path(out: Path, number: int, job: dict) -> Path:
    image = job.get("task") == "generate" and job.get("num_frames") == 1
    return out / f"{number}{'.png' if image else '.mp4'}"


def request_values(job: dict, fast: bool) -> tuple[str, dict]:
    """A line's task and its values by the Python API's names, files loaded; every error one sentence naming the
    field. Checks what needs no model (`limits.check_before_loading`)."""
    from ..engine.requests import REQUESTS, field_names
    from ..engine.video import load_field

    values = {name: value for name, value in job.items() if name != "task"}
    task = job.get("task")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}.")
    values.setdefault("fast", fast)
    if task == "storyboard":
        return task, story_values(values)
    unknown = set(values) - set(field_names(REQUESTS[task]))
    if unknown:
        takes = ", ".join(field_names(REQUESTS[task]))
        raise ValueError(f"a {task} line has no field {sorted(unknown)[0]!r}; it takes task, {takes}.")
    limits.check_before_loading(task, values)
    for name in PATH_FIELDS:
        if name in values:
            values[name] = load_field(values[name], name)
    if "reference_images" in values:
        values["reference_images"] = tuple(load_field(path, "reference_images") for path in values["reference_images"])
    return task, values


def story_values(values: dict) -> dict:
    """A storyboard line's values: its keyframes loaded, each card's seconds and the story's length checked."""
    from ..engine.video import load_field
    from .jobs import STORY_SETTINGS

    keyframes = tuple(load_field(path, f"keyframes[{i}]") for i, path in enumerate(values.pop("keyframes", ())))
    cards = values.pop("cards", None)
    if not isinstance(cards, list) or not cards:
        raise ValueError('cards must be a list of {"prompt": ..., "seconds": ...} objects, one a card.')
    unknown = set(values) - set(STORY_SETTINGS)
    if unknown:
        raise ValueError(f"a storyboard line has no field {sorted(unknown)[0]!r}.")
    limits.check_before_loading("storyboard", values)
    seconds = []
    for i, card in enumerate(cards):
        card = card if isinstance(card, dict) else {}
        limits.check_text(card.get("prompt"), f"cards[{i}].prompt", required=True)
        seconds.append(limits.check_card_seconds(card.get("seconds"), f"cards[{i}].seconds"))
    limits.check_story_seconds(sum(seconds))
    return {**values, "cards": cards, "keyframes": keyframes}


def render(pipe, job: dict, fast: bool):
    """The video a job asks for: the Python API's names and limits, every error one sentence."""
    from ..engine.requests import REQUESTS, build
    from .cards import story_cards

    task, values = request_values(job, fast)
    if task != "storyboard":
        return pipe.run(build(REQUESTS[task], values))
    cards = story_cards(values.pop("cards"), pipe.preset.fps, values.pop("keyframes"))
    return pipe.storyboard(cards, **values)  # seed, steps and guidance are its keyword parameters


def refused_before_loading(job: dict | str, fast: bool) -> bool:
    """Whether a line fails the checks that need no model: a batch reports every such line before any model work."""
    try:
        if isinstance(job, str):
            raise ValueError(job)
        request_values(job, fast)
    except USER_ERRORS:
        return True
    return False


def write_atomically(path: Path, write):
    """`write(temporary path)`, then a rename: the final name only ever holds a whole file."""
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    write(partial)
    os.replace(partial, path)


def run_line(pipe, out: Path, number: int, job: dict | str, fast: bool, write: bool = True, process: int = 0) -> dict:
    """One line: its output written and its manifest row (also written, as `.rows/<n>.json`). `write=False`: a
    context-parallel helper process, which computes its part of the clip and leaves the writing to the main one."""
    started = time.perf_counter()
    row = {"line": number, "settings": job if isinstance(job, dict) else None, "process": process}
    try:
        if isinstance(job, str):
            raise ValueError(job)
        video = render(pipe, job, fast)
        target = output_path(out, number, job)
        if write:
            write_atomically(target, video.save)
        row["output"] = str(target)
    except USER_ERRORS as error:
        row["error"] = str(error).splitlines()[0] if str(error) else type(error).__name__
    row["seconds"] = round(time.perf_counter() - started, 2)
    if write:
        write_atomically(out / ".rows" / f"{number}.json", lambda path: path.write_text(json.dumps(row)))
    return row


def finished(out: Path) -> set[int]:
    return {int(path.stem) for path in (out / ".rows").glob("*.json")}


def merge_manifest(out: Path):
    rows = [json.loads(path.read_text()) for path in (out / ".rows").glob("*.json")]
    lines = [json.dumps(row) for row in sorted(rows, key=lambda row: row["line"])]
    write_atomically(out / "manifest.jsonl", lambda path: path.write_text("\n".join(lines) + "\n"))


# The order lines are taken in: the longest kinds first (a storyboard makes a minute, a bridge two seams, an image
# one frame), so that no process is left with one long line at the end while the others wait. Measured on 8 mixed
# lines of the bundled model, 2 processes: in file order 0.67 of one process's time, longest first 0.62.
LONGEST_FIRST = {"storyboard": 0, "transition": 1, "loop": 1, "extend": 2, "restyle": 3, "generate": 4}


def longest_first(line: tuple[int, dict | str]) -> tuple[int, int]:
    number, job = line
    if not isinstance(job, dict):
        return (9, number)  # refused at once
    image = job.get("task") == "generate" and job.get("num_frames") == 1
    return (5 if image else LONGEST_FIRST.get(job.get("task"), 9), number)


def claim(out: Path, number: int) -> bool:
    """Take line `number` for this process: the first process to create its claim file has it."""
    try:
        os.close(os.open(out / ".claims" / str(number), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def run_batch(args):
    import torch
    from accelerate import PartialState

    from .threads import free_cores, use_threads

    state = PartialState(cpu=not torch.cuda.is_available())
    jobs_path, out = Path(args.jobs), Path(args.out)
    if not jobs_path.is_file():
        raise ValueError(f"--jobs: {jobs_path} is not a file.")
    if state.is_main_process:  # claims of a run that died are void: its unfinished lines have no row
        out.mkdir(parents=True, exist_ok=True)
        (out / ".rows").mkdir(exist_ok=True)
        shutil.rmtree(out / ".claims", ignore_errors=True)
        (out / ".claims").mkdir()
    state.wait_for_everyone()
    done = finished(out)
    pending = sorted(((n, job) for n, job in read_jobs(jobs_path) if n not in done), key=longest_first)
    pending = refuse_bad_lines(pending, out, args.fast, state.is_main_process)
    if state.device.type == "cpu":  # each process its share of the idle cores, unless told
        use_threads(args.threads or max(1, free_cores() // state.num_processes))
    parallel = args.context_parallel > 1  # every process on every line, each clip's tokens split between them
    pipe = load(args, state.device) if pending else None
    if parallel:
        pipe.enable_context_parallel(args.context_parallel)
    bar = tqdm(total=len(pending), desc="batch", unit="line", disable=not state.is_main_process)
    for number, job in pending:
        if parallel or claim(out, number):
            writes = state.is_main_process or not parallel
            row = run_line(pipe, out, number, job, args.fast, writes, state.process_index)
            if "error" in row and (state.is_main_process or not parallel):
                print(f"line {number}: {row['error']}", file=sys.stderr)
        bar.n = len(finished(out) - done)
        bar.refresh()
    bar.close()
    state.wait_for_everyone()
    if state.is_main_process:
        merge_manifest(out)
        rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
        failed = sum("error" in row for row in rows)
        print(f"wrote {out / 'manifest.jsonl'}: {len(rows) - failed} outputs, {failed} failed lines")
        return failed
    return 0


def refuse_bad_lines(pending: list, out: Path, fast: bool, main: bool) -> list:
    """The lines that pass the checks needing no model; each other one gets its error row (written and said by the
    main process) before any model work: `run_line` fails it where the check did, before the model is used."""
    kept = []
    for number, job in pending:
        if not refused_before_loading(job, fast):
            kept.append((number, job))
            continue
        row = run_line(None, out, number, job, fast, write=main)
        if main:
            print(f"line {number}: {row['error']}", file=sys.stderr)
    return kept


def load(args, device):
    from ..engine.pipeline import SoraPipeline

    return SoraPipeline.from_pretrained(args.model, device=str(device), force=args.force)

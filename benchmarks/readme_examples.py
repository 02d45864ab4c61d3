"""Do the README's examples make what they say (issue 26)? Its Python and command-line blocks run as written on the
bundled model at its defaults, in a temporary folder, and each result is read back with the toy world's detector on
the frames its prompt made (an extension's new frames, a bridge, a loop's new frames, each storyboard card). Prints
every miss and how many examples were right; it becomes a test once the model passes it.

    python benchmarks/readme_examples.py        # about 3 minutes on 2 cores
"""

import ast
import os
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_examples import misread  # noqa: E402
from test_readme import blocks, section  # noqa: E402

from sora_core import Video  # noqa: E402
from sora_core.serving import cli  # noqa: E402


def made_frames(method: str, result: Video, sources: list[Video], direction: str) -> np.ndarray:
    """The frames a workflow's prompt made, given its source clips (in the order the call takes them)."""
    frames, before = result.frames, len(sources[0].frames) if sources else 0
    if method == "extend" and direction == "backward":
        return frames[: len(frames) - before]
    if method in ("extend", "loop"):
        return frames[before:]
    if method == "transition":
        return frames[before : len(frames) - len(sources[1].frames)]
    return frames  # generate, restyle: all of it


def python_examples(code: str) -> dict[str, list[str]]:
    """Run a README Python block; the misses of every `name = pipe...(..., "prompt", ...)` it assigns."""
    namespace, examples = {}, {}
    exec(compile(code, "README Python API", "exec"), namespace)
    for node in ast.walk(ast.parse(code)):
        call = node.value if isinstance(node, ast.Assign) else None
        if not isinstance(call, ast.Call) or ast.unparse(call.func).split(".")[0] != "pipe":
            continue
        method = call.func.attr if isinstance(call.func, ast.Attribute) else "generate"
        texts = [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        if not texts:
            continue
        sources = [eval(ast.unparse(arg), namespace) for arg in call.args if not isinstance(arg, ast.Constant)]
        keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords if isinstance(k.value, ast.Constant)}
        name = node.targets[0].id
        made = made_frames(method, namespace[name], sources, keywords.get("direction", "forward"))
        examples[f"Python: {name}"] = misread(made, texts[0], f"Python: {name}")
    return examples


def command_example(line: str) -> list[str]:
    """Run a README command; the misses in what it wrote (a storyboard card by card)."""
    words = shlex.split(line)
    command, flag = words[3], lambda name: words[words.index(name) + 1] if name in words else None  # noqa: E731
    video = cli.run(cli.build_parser().parse_args(words[3:]))  # what `python -m sora_core` runs; it saves --out
    if command == "storyboard":  # the card spans are in the returned video's metadata, not in the saved file
        cards = video.metadata["cards"]
        return [miss for c in cards for miss in misread(video.frames[c["start"] : c["end"]], c["prompt"], line)]
    sources = [Video.load(path) for path in (flag("--video"), flag("--video-b")) if path]
    made = made_frames(command, Video.load(flag("--out")), sources, flag("--direction") or "forward")
    return misread(made, flag("--prompt"), line)


def main():
    os.chdir(tempfile.mkdtemp(prefix="readme-examples-"))
    examples = {}
    for code in blocks(section("Python API"), "python"):
        examples |= python_examples(code)
    lines = [line.split("#")[0].strip() for line in blocks(section("Command line"), "bash")[0].splitlines()]
    for line in filter(None, lines):
        examples[line] = command_example(line)
    for miss in (miss for misses in examples.values() for miss in misses):
        print(miss)
    right = sum(not misses for misses in examples.values())
    print(f"README examples that make what they say: {right} of {len(examples)}")


if __name__ == "__main__":
    main()

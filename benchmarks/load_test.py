"""Load test: concurrent gradio_client jobs against `python app.py`, then many sequential ones.

    python benchmarks/load_test.py [--model sora-tiny] [--concurrent 20] [--sequential 100]

Prints completed / refused (a clear "busy" answer) / failed counts, the server's memory before and after,
and whether the app's temporary result files stay bounded. Traffic goes to 127.0.0.1 only.
"""

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from app_server import running_app  # noqa: E402
from gradio_client import Client  # noqa: E402

REQUEST = dict(prompt="a red ball bouncing on a black background", height=32, width=32, seconds=0.5, steps=2)


def one_job(url: str, seed: int) -> str:
    try:
        Client(url, verbose=False).predict(**REQUEST, seed=seed, api_name="/generate")
        return "completed"
    except Exception as error:  # a full queue answers with a plain "busy"-style message
        text = str(error).lower()
        return "refused" if ("queue" in text and "full" in text) or "busy" in text else f"failed: {error}"


def server_process(port_url: str) -> psutil.Process:
    port = int(port_url.rstrip("/").rsplit(":", 1)[1])
    for connection in psutil.net_connections("tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
            return psutil.Process(connection.pid)
    raise RuntimeError("server process not found")


def result_files(ignore: set) -> int:
    """Files in the result folders that appeared since `ignore` was listed (the running app's own)."""
    folders = set(Path(tempfile.gettempdir()).glob("sora-space-*")) - ignore
    return sum(len(list(folder.glob("*"))) for folder in folders)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="sora-tiny")
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--sequential", type=int, default=100)
    args = parser.parse_args()
    older = set(Path(tempfile.gettempdir()).glob("sora-space-*"))
    with tempfile.TemporaryDirectory() as logs, running_app(args.model, Path(logs) / "app.log") as url:
        server = server_process(url)
        one_job(url, 0)  # warm-up
        memory_before = server.memory_info().rss / 2**20
        files_before = result_files(older)
        started = time.time()
        with ThreadPoolExecutor(args.concurrent) as pool:
            outcomes = list(pool.map(lambda seed: one_job(url, seed), range(args.concurrent)))
        concurrent_seconds = time.time() - started
        memory_warm = server.memory_info().rss / 2**20
        client = Client(url, verbose=False)
        sequential = []
        for seed in range(args.sequential):
            try:
                client.predict(**REQUEST, seed=seed, api_name="/generate")
                sequential.append("completed")
            except Exception as error:
                sequential.append(f"failed: {error}")
        memory_after = server.memory_info().rss / 2**20
        files_after = result_files(older)
    counts = {kind: sum(o.startswith(kind) for o in outcomes) for kind in ("completed", "refused", "failed")}
    print(f"model {args.model}, {REQUEST['height']}x{REQUEST['width']}, {REQUEST['steps']} steps")
    print(
        f"{args.concurrent} concurrent jobs in {concurrent_seconds:.1f} s: completed {counts['completed']}, "
        f"refused {counts['refused']}, failed {counts['failed']}"
    )
    print(
        f"{args.sequential} sequential jobs: completed {sequential.count('completed')}, "
        f"failed {len(sequential) - sequential.count('completed')}"
    )
    print(
        f"server memory: {memory_before:.0f} MB after a warm-up job, {memory_warm:.0f} MB after the concurrent jobs, "
        f"{memory_after:.0f} MB after {args.sequential} more ({memory_after - memory_warm:+.0f} MB over those)"
    )
    print(
        f"result files in the app's own temp folder: {files_before} after warm-up, {files_after} at the end "
        "(each is removed after 5 minutes: Gradio has its own copy by then)"
    )
    for outcome in outcomes + sequential:
        if outcome.startswith("failed"):
            print(outcome)
            break


if __name__ == "__main__":
    main()

"""Faults and attacks against a running app: injected out-of-memory and NaN, file routes, URLs in file inputs."""

import time
import urllib.error
import urllib.request
from pathlib import Path

import huggingface_hub
import pytest
import torch
from app_server import ROOT, free_port
from gradio_client import Client, handle_file

from app import create_demo
from sora_core import SoraPipeline

CLIP = str(ROOT / "assets" / "examples" / "red_ball_right.mp4")
SMALL = dict(height=32, width=32, seconds=0.5, steps=1)


@pytest.fixture(scope="module")
def app(tiny_checkpoint):
    pipe = SoraPipeline.from_pretrained(str(tiny_checkpoint), device="cpu")
    faults = {"sample": None, "decode": None}
    forward, decode = pipe.transformer.forward, pipe.vae.decode

    def faulty_forward(*args, **kwargs):
        fault, faults["sample"] = faults["sample"], None
        if fault == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if fault == "slow":  # a long step, so that a request's run outlasts any client's polling
            time.sleep(2)
        output = forward(*args, **kwargs)
        return (output[0] * float("nan"),) if fault == "nan" else output

    def faulty_decode(*args, **kwargs):
        fault, faults["decode"] = faults["decode"], None
        if fault == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory while decoding")
        return decode(*args, **kwargs)

    pipe.transformer.forward, pipe.vae.decode = faulty_forward, faulty_decode
    demo = create_demo(pipe)
    demo.queue(default_concurrency_limit=1, max_size=20)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    yield url, Client(url, verbose=False), faults
    demo.close()


@pytest.mark.parametrize(
    "where,fault,message",
    [
        ("sample", "oom", "ran out of memory"),
        ("decode", "oom", "ran out of memory"),
        ("sample", "nan", "invalid values"),
    ],
)
def test_fault_gives_a_clear_error_and_the_next_request_works(app, where, fault, message):
    _, client, faults = app
    faults[where] = fault
    with pytest.raises(Exception) as error:
        client.predict(prompt="a red ball", **SMALL, api_name="/generate")
    assert message in str(error.value) and "Traceback" not in str(error.value)
    path, _, _ = client.predict(prompt="a red ball", **SMALL, api_name="/generate")
    assert path.endswith(".mp4")


SECRET = b"hf_0123456789abcdefSECRET"


@pytest.fixture(scope="module")
def private_files(tiny_checkpoint, tmp_path_factory):
    """What must never be served: the loaded model's files, a Hub token, the code."""
    token = tmp_path_factory.mktemp("hf_home") / "token"
    token.write_bytes(SECRET)
    return [
        tiny_checkpoint / "model_index.json",
        tiny_checkpoint / "transformer" / "diffusion_pytorch_model.safetensors",
        token,
        Path(huggingface_hub.constants.HF_TOKEN_PATH),
        ROOT / "assets" / "sora-tiny" / "model_index.json",
        ROOT / "app.py",
        ROOT / "sora_core" / "serving" / "endpoints.py",
    ]


ROUTES = ["gradio_api/file=", "file=", "gradio_api/static/", "static/", "gradio_api/assets/", "assets/"]
TRAVERSALS = ["/etc/passwd", "../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%2fetc%2fpasswd"]


def fetch(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        assert error.code in (400, 403, 404, 405), (url, error.code)
        return None


def test_file_routes_serve_nothing_outside_the_cache(app, private_files):
    url = app[0]
    for prefix in ROUTES:
        for target in [*TRAVERSALS, *map(str, private_files), *(f"..%2f..%2f{p.name}" for p in private_files)]:
            body = fetch(url + prefix + target)
            if body is None:
                continue
            for leak in (b"root:", b"WanPipeline", b"create_demo", b"data_offsets", SECRET):
                assert leak not in body, (prefix, target)


def test_urls_in_file_inputs_are_refused(app):
    """A URL where a file belongs is never fetched (Gradio refuses it before our `uploads.upload` would: its message
    is Gradio's generic one), a server path is never read, and an upload still works."""
    import functools
    import http.server
    import threading

    _, client, _ = app
    fetched = []

    class Recorder(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            fetched.append(self.path)

    handler = functools.partial(Recorder, directory=str(ROOT / "assets" / "examples"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = f"http://127.0.0.1:{server.server_address[1]}/red_ball_right.mp4"
    try:
        with pytest.raises(Exception) as error:
            video = {"path": remote, "url": remote, "meta": {"_type": "gradio.FileData"}}
            client.predict(video=video, prompt="x", seconds=0.5, steps=1, api_name="/extend")
    finally:
        server.shutdown()
    assert fetched == [] and "Traceback" not in str(error.value)
    with pytest.raises(Exception) as error:
        client.predict(
            video={"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, prompt="x", api_name="/extend"
        )
    assert "root:" not in str(error.value)
    path, _, _ = client.predict(video=handle_file(CLIP), prompt="x", seconds=0.5, steps=1, api_name="/extend")
    assert path.endswith(".mp4")


def test_one_request_samples_at_a_time_and_the_next_waits_in_the_queue(app):
    """Every event that samples shares one queue group: while one request runs, a request to another endpoint waits
    in the queue (its place shown to its user), instead of starting and then waiting on the model unseen."""
    from gradio_client.utils import Status

    _, client, faults = app
    running = (Status.PROCESSING, Status.PROGRESS, Status.ITERATING)
    faults["sample"] = "slow"
    first = client.submit(prompt="a", height=32, width=32, seconds=2, steps=80, fast=True, api_name="/generate")
    deadline = time.time() + 60
    while first.status().code not in running and not first.done() and time.time() < deadline:
        time.sleep(0.02)
    second = client.submit(prompt="b", height=32, width=32, steps=2, fast=True, api_name="/image")
    seen = []
    while not first.done() and not half_done(first.status()):  # the first half: no race with its end
        seen.append(second.status().code)
        time.sleep(0.02)
    assert Status.IN_QUEUE in seen and not set(seen) & set(running), seen
    assert first.result()[0].endswith(".mp4") and second.result()[0].endswith(".png")


def half_done(status) -> bool:
    units = status.progress_data or []
    return any(unit.index is not None and unit.length and unit.index >= unit.length / 2 for unit in units)

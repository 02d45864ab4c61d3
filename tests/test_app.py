"""The Space end to end: every named endpoint through gradio_client, and the page in a real browser."""

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from app_server import ROOT, running_app
from gradio_client import Client, handle_file
from test_video import ffmpeg_info

from sora_core import Video
from sora_core.engine.video import read_metadata

pytestmark = pytest.mark.slow  # a Space started per module, a browser

EXAMPLES = ROOT / "assets" / "examples"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def app_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("app") / "app.log"


@pytest.fixture(scope="module")
def client(tiny_checkpoint, app_log):
    with running_app(str(tiny_checkpoint), app_log) as url:
        yield Client(url, verbose=False)


def check_mp4(path, num_frames):
    info = ffmpeg_info(path)
    assert "Video: h264" in info and "yuv420p" in info
    assert Video.load(path).num_frames == num_frames


def test_api_lists_the_named_endpoints_with_defaults(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(endpoints) == {"/generate", "/image", "/extend", "/transition", "/loop", "/restyle", "/storyboard"}
    for name, endpoint in endpoints.items():
        for parameter in endpoint["parameters"]:
            required = parameter["parameter_name"] in ("prompt", "video", "video_a", "video_b", "cards")
            assert parameter["parameter_has_default"] != required, (name, parameter["parameter_name"])
    generate = [p["parameter_name"] for p in endpoints["/generate"]["parameters"]]
    assert generate == [
        "prompt",
        "negative_prompt",
        "height",
        "width",
        "seconds",
        "steps",
        "guidance",
        "seed",
        "enhance",
        "reference_images",  # added later, after the others: no earlier position moved
        "fast",  # the newest, last on every endpoint
    ]
    for name, endpoint in endpoints.items():
        fast = endpoint["parameters"][-1]
        assert (fast["parameter_name"], fast["parameter_default"]) == ("fast", False), name  # reproducible API
    for name in ("/extend", "/transition", "/loop"):
        seam = [p for p in endpoints[name]["parameters"] if p["parameter_name"] == "init_strength"][0]
        assert seam["parameter_default"] is None  # None: the model's own default, as in the Python API
    enhance = [p for p in endpoints["/extend"]["parameters"] if p["parameter_name"] == "enhance"][0]
    assert enhance["parameter_default"] is False  # off for the API, so it matches the Python API for a seed


def test_enhance_rewrites_the_prompt_used(client):
    _, _, used = client.predict(
        prompt="a crimson sphere drifting leftwards over a dark backdrop",
        height=32,
        width=32,
        seconds=0.5,
        steps=1,
        enhance=True,
        api_name="/generate",
    )
    assert used == "a red ball moving left on a black background"


def test_the_words_a_rewrite_dropped_are_in_the_results_metadata(client):
    asked = dict(height=32, width=32, seconds=0.5, steps=1, enhance=True, api_name="/generate")
    path, _, used = client.predict(prompt="a pink star spinning above the ocean", **asked)
    assert used == "a white ball standing still on a black background"
    assert read_metadata(path)["prompt_dropped_words"] == ["pink", "star", "spinning", "above", "ocean"]
    path, _, _ = client.predict(prompt="a red ball", **asked)
    assert "prompt_dropped_words" not in read_metadata(path)


def test_generate_and_image(client):
    path, seed, prompt = client.predict(
        prompt="a red ball", height=32, width=48, seconds=1, steps=2, seed=5, api_name="/generate"
    )
    check_mp4(path, 9)  # 1 s at 8 fps, rounded to 4k+1
    assert seed == 5 and prompt == "a red ball"
    assert '"seed": 5' in ffmpeg_info(path) and '"prompt": "a red ball"' in ffmpeg_info(path)
    path, _, _ = client.predict(prompt="a red ball", height=32, width=32, steps=2, api_name="/image")
    assert Path(path).suffix == ".png" and Video.load(path).frames.shape == (1, 32, 32, 3)


def test_a_one_frame_result_of_a_video_endpoint_is_a_one_frame_mp4(client):
    """/generate at 0 seconds and /restyle of an image make one frame, for a video component: an MP4 (a .png there
    was converted by Gradio with an ffmpeg that need not be on the PATH, and the request failed)."""
    path, _, _ = client.predict(prompt="a red ball", height=32, width=32, seconds=0, steps=2, api_name="/generate")
    check_mp4(path, 1)
    image = handle_file(str(EXAMPLES / "green_triangle.png"))
    path, _, _ = client.predict(video=image, prompt="a red triangle", steps=2, api_name="/restyle")
    check_mp4(path, 1)


def test_workflow_endpoints(client):
    clip = handle_file(str(EXAMPLES / "red_ball_right.mp4"))  # 17 frames, 128 x 128
    path, _, _ = client.predict(video=clip, prompt="x", seconds=1, steps=2, api_name="/extend")
    check_mp4(path, 17 + 8)
    path, _, _ = client.predict(video=clip, prompt="x", direction="backward", seconds=1, steps=2, api_name="/extend")
    check_mp4(path, 8 + 17)  # 1 s is 8 frames, both ways
    still = handle_file(str(EXAMPLES / "green_triangle.png"))
    path, _, _ = client.predict(video_a=clip, video_b=still, prompt="x", seconds=1, steps=2, api_name="/transition")
    check_mp4(path, 17 + 8 + 1)
    path, _, _ = client.predict(video=clip, prompt="x", seconds=1, steps=2, api_name="/loop")
    check_mp4(path, 17 + 8)
    path, _, _ = client.predict(video=clip, prompt="x", seconds=1, steps=2, init_strength=0.9, api_name="/loop")
    check_mp4(path, 17 + 8)
    path, _, _ = client.predict(video=clip, prompt="x", strength=0.5, steps=2, api_name="/restyle")
    check_mp4(path, 17)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(prompt=""), "prompt is empty"),
        (dict(prompt="x" * 3000), "the limit is 2,000"),
        (dict(prompt="x" * 1_000_000), "the limit is 2,000"),
        (dict(prompt="x", steps=0), "^steps must be a whole number from 1 to 100; got 0"),
        (dict(prompt="x", steps=2.5), "^steps must be"),
        (dict(prompt="x", height=33), "^height must be"),
        (dict(prompt="x", seconds=-1), "^seconds must be"),
        (dict(prompt="x", seconds=1000), "^seconds must be"),
        (dict(prompt="x", guidance=1e9), "^guidance must be a number from 0 to 20"),
        (dict(prompt="x", seed=-3), "^seed must be"),
    ],
)
def test_bad_parameters_are_refused_with_one_sentence(client, app_log, kwargs, message):
    """The server's own sentence, naming the parameter (not Gradio's check of a component's limits), and no
    traceback in the server's log."""
    with pytest.raises(Exception) as error:
        client.predict(**kwargs, api_name="/generate")
    text = str(error.value)
    assert re.search(message, text) and "Traceback" not in text and "\n" not in text.strip()
    assert "Traceback" not in app_log.read_text()


def test_a_file_that_is_no_video_is_one_sentence_naming_the_field(client, app_log, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video")
    with pytest.raises(Exception) as error:
        client.predict(video=handle_file(str(notes)), prompt="x", steps=1, api_name="/extend")
    text = str(error.value)
    assert text.startswith("video: notes.txt") and "\n" not in text.strip(), text
    assert "Traceback" not in app_log.read_text()


def test_every_route_passes_its_parameters_by_name(client):
    """Through the page's hidden API triggers, whose inputs are looked up by name: distinct values for the shared
    settings come back in each result's metadata."""
    clip = handle_file(str(EXAMPLES / "red_ball_right.mp4"))
    shared = dict(negative_prompt="blurry", steps=2, guidance=2.5, seed=7, fast=True)
    calls = {
        "/generate": dict(prompt="g", height=32, width=48, seconds=0.5),
        "/extend": dict(video=clip, prompt="e", direction="backward", seconds=0.5, init_strength=0.8),
        "/transition": dict(video_a=clip, video_b=clip, prompt="t", seconds=0.5, init_strength=0.8),
        "/loop": dict(video=clip, prompt="l", seconds=0.5, init_strength=0.8),
        "/restyle": dict(video=clip, prompt="r", strength=0.4),
    }
    for name, values in calls.items():
        path, seed, prompt = client.predict(**values, **shared, api_name=name)
        metadata = read_metadata(path)
        assert (seed, prompt) == (7, values["prompt"]), name
        for key, value in shared.items():
            assert metadata[key] == value, (name, key)
    assert (
        read_metadata(client.predict(**calls["/extend"], **shared, api_name="/extend")[0])["task"] == "extend backward"
    )


def test_storyboard_endpoint_makes_one_video_with_card_boundaries(client):
    cards = [{"prompt": "a red ball", "seconds": 1}, {"prompt": "a box", "seconds": 1.5}]  # short: ffmpeg shows 255
    path, seed, prompt = client.predict(cards=cards, steps=1, seed=4, api_name="/storyboard")  # characters of tags
    metadata = read_metadata(path)
    assert [card["prompt"] for card in metadata["cards"]] == ["a red ball", "a box"]
    assert metadata["cards"][1]["start"] in range(8 - 4, 8 + 5) and seed == 4
    with pytest.raises(Exception, match="the limit is 60 s"):
        client.predict(cards=[{"prompt": "a", "seconds": 50}, {"prompt": "b", "seconds": 50}], api_name="/storyboard")


def test_bad_upload_and_choice_are_refused(client, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("<html>not a video</html>")
    with pytest.raises(Exception) as error:
        client.predict(video=handle_file(str(fake)), prompt="x", api_name="/extend")
    assert "no video stream" in str(error.value) and str(tmp_path) not in str(error.value)
    clip = handle_file(str(EXAMPLES / "red_ball_right.mp4"))
    with pytest.raises(Exception, match="direction must be|not in the list of choices"):
        client.predict(video=clip, prompt="x", direction="sideways", api_name="/extend")
    with pytest.raises(Exception, match="^init_strength must be"):
        client.predict(video=clip, prompt="x", init_strength=1.5, api_name="/extend")


def test_browser_generates_and_screenshots_every_tab(tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:  # required in CI (.ci/run installs it); elsewhere a fresh machine may not have it yet
        hint = "Debian's chromium is needed for the browser test: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(hint + " (CI=true: the browser test is required)")
        pytest.skip(hint + ", then run the tests again")
    ARTIFACTS.mkdir(exist_ok=True)
    with running_app("sora-tiny", tmp_path / "app.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(url)
        page.get_by_label("Prompt", exact=True).first.fill("a red ball bouncing on a black background")
        page.get_by_role("button", name="Generate", exact=True).click()
        video = page.locator(".sora-media video[src]").first
        video.wait_for(timeout=180_000)
        assert video.get_attribute("src")
        gallery_item = page.locator("button.thumbnail-item, .thumbnail-item").first
        gallery_item.wait_for(timeout=30_000)  # the result also lands in the session's gallery
        page.screenshot(path=str(ARTIFACTS / "tab-generate.png"), full_page=True)
        # The Extend tab's own button, with every Advanced control at its default (the seam hold's 0 included).
        page.get_by_role("tab", name="Extend").click()
        page.locator("input[type=file]").first.set_input_files(str(EXAMPLES / "red_ball_right.mp4"))
        page.get_by_label("Prompt", exact=True).locator("visible=true").first.fill("a red ball moving right")
        page.get_by_role("button", name="Extend", exact=True).click()
        page.locator("#extend-tab .sora-media video[src]").first.wait_for(timeout=180_000)
        story_with_a_keyframe(page, url, tmp_path)
        tabs = ("generate", "extend", "transition", "restyle", "storyboard")
        for tab in tabs[1:]:
            page.get_by_role("tab", name=tab.capitalize()).click()
            page.wait_for_timeout(500)
            shown = [other for other in tabs if page.locator(f"#{other}-tab").is_visible()]
            assert shown == [tab], (tab, shown)  # each screenshot shows its own tab, and only it
            page.screenshot(path=str(ARTIFACTS / f"tab-{tab}.png"), full_page=True)
        browser.close()
    shots = {(ARTIFACTS / f"tab-{t}.png").read_bytes() for t in tabs}
    assert len(shots) == len(tabs)  # five different pages


def story_with_a_keyframe(page, url, tmp_path):
    """The Storyboard tab as a person uses it: upload a keyframe, type its number into the second card's keyframe
    cell, make the story; the uploaded image is the second card's last frame."""
    import urllib.parse
    import urllib.request

    key = np.zeros((96, 96, 3), np.uint8)  # the bundled model's default size
    key[30:60, 30:60] = (0, 0, 255)
    path = Video(key[None], fps=8).save(tmp_path / "key.png")
    page.get_by_role("tab", name="Storyboard").click()
    page.locator("#storyboard-keyframes input[type=file]").set_input_files(str(path))
    page.locator("#storyboard-cards [data-testid=cell-1-2]").dblclick()
    page.keyboard.type("1")  # the table sends a typed number as text: the page turns it into a number
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Make the story", exact=True).click()
    video = page.locator("#storyboard-tab .sora-media video[src]").first
    try:
        video.wait_for(timeout=180_000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "storyboard-failed.png"), full_page=True)
        raise
    story = tmp_path / "story.mp4"
    story.write_bytes(urllib.request.urlopen(urllib.parse.urljoin(url, video.get_attribute("src"))).read())
    made = Video.load(story)
    end = made.metadata["cards"][1]["end"]
    assert np.abs(made.frames[end - 1].astype(int) - key.astype(int)).mean() < 3, "the keyframe ends card 2"


def test_the_cards_table_becomes_the_api_cards():
    from app import table_cards

    values = {"cards": [["a", "3", "", True], ["b", 2.0, 0, False], ["c", "x", "2", None]], "seed": 1}
    assert table_cards(values) == {
        "cards": [["a", 3.0, None, True], ["b", 2.0, None, False], ["c", "x", 2.0, None]],
        "seed": 1,
    }

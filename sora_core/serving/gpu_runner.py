"""Runs one endpoint call: checks it into a job (`jobs.py`), enhances its prompts and samples it inside a ZeroGPU
call of the seconds the job needs (`spaces.GPU`; a no-op elsewhere), saves the result, and turns every failure
into one plain sentence (`gr.Error`). Gradio's queue runs one sampling event at a time (`concurrency_id="gpu"` on
every event that reaches here): they share one model, whose fast mode puts a step cache on the transformer for
the length of a call.
"""

import logging
import threading
import time
from functools import partial

import gradio as gr
import torch

from ..engine.pipeline import SoraPipeline
from ..toyworld.rewriter import Rewrite
from .enhance import rewrite_prompt
from .gpu_time import ENHANCE_CALL_SECONDS
from .jobs import Job, JobBuilder, StoryJob
from .results import ResultFolder
from .threads import use_threads

try:  # ZeroGPU on a Space; locally the decorator does nothing
    import spaces
except ImportError:  # pragma: no cover
    spaces = None

CALLBACKS = ("stop", "progress")  # what an endpoint takes besides its request's parameters
log = logging.getLogger("sora_space")
CONCURRENCY_ID = "gpu"  # the queue's group for every event that samples: one at a time


def gpu(function):
    """Run on ZeroGPU for the seconds the call's first argument asks for; a no-op off Spaces."""
    if spaces is None:
        return function
    return spaces.GPU(duration=lambda budget, *args, **kwargs: budget)(function)


class GpuRunner:
    """Checks, runs and saves one endpoint call; every failure becomes one plain sentence."""

    def __init__(self, pipe: SoraPipeline, threads: int = 0):
        """`threads`: on a CPU, the threads each request computes with (0: the cores idle when it starts)."""
        self.pipe, self.preset, self.threads = pipe, pipe.preset, threads
        self.jobs, self.results = JobBuilder(pipe), ResultFolder()
        self.run_on_gpu = gpu(self.run)
        self.busy = threading.Lock()
        # A story too long for one GPU call runs here, with one call per segment (and one for the enhancement).
        self.sample_on_gpu, self.enhance_on_gpu = gpu(self.sample), gpu(self.enhance)

    def run(self, budget: int, job: Job | StoryJob, progress, stop: dict, split: bool = False):
        """The GPU call: prompt enhancement (when asked) and sampling; returns (video, the prompts used: a story's
        are its cards', shown joined by " / "). With `split`
        (a story's `segment_seconds`), this runs outside any GPU call and each sampling window gets its own."""
        started = time.time()

        def report(step, total):
            left = (time.time() - started) / step * (total - step)
            progress((step, total), desc=f"Denoising, about {left:.0f} s left", unit="steps")

        rewrites = [Rewrite(prompt) for prompt in job.prompts]
        if job.enhance:
            enhance = self.enhance_on_gpu if split else self.enhance
            rewrites = enhance(ENHANCE_CALL_SECONDS, job.prompts, job.seed, progress, job.source)
        prompts = tuple(rewrite.prompt for rewrite in rewrites)
        sample = partial(self.sample_on_gpu, job.segment_seconds) if split else None
        stop_asked = lambda: stop.get("stop", False)  # noqa: E731
        video = job.run(self.pipe, prompts, progress=report, should_stop=stop_asked, sample=sample)
        dropped = [word for rewrite in rewrites for word in rewrite.unplaced]
        if dropped:  # in the result file's metadata, for API callers; the page says it beside the prompt used
            video.metadata["prompt_dropped_words"] = dropped
        return video, " / ".join(prompts)

    def enhance(self, budget: int, prompts: tuple[str, ...], seed: int, progress, source=None) -> list[Rewrite]:
        """The prompts rewritten, each alone (a storyboard's are its cards'), a workflow's from its `source`."""
        progress(0, desc="Enhancing the prompt")
        device = str(self.pipe.device)
        return [rewrite_prompt(prompt, self.preset, seed, device=device, source=source) for prompt in prompts]

    def sample(self, budget: int, plan, progress, should_stop):
        """One sampling window (a story's segment) in its own GPU call of `budget` seconds."""
        return self.pipe.sample(plan, progress, should_stop)

    def serve(self, task: str, arguments: dict):
        """An endpoint's arguments by name -> (file, seed, prompt used)."""
        progress, stop = arguments["progress"], arguments["stop"]
        arguments = {name: value for name, value in arguments.items() if name not in CALLBACKS}
        stop = stop if isinstance(stop, dict) else {}
        try:
            job = self.jobs.job(task, arguments)
            with self.busy:
                stop["stop"] = False
                if self.pipe.device.type == "cpu":
                    use_threads(self.threads)
                if job.segment_seconds:
                    video, prompt_used = self.run(0, job, progress, stop, split=True)
                else:
                    video, prompt_used = self.run_on_gpu(job.gpu_seconds, job, progress, stop)
            return self.results.save(video, image=task == "image"), job.seed, prompt_used
        except InterruptedError:
            raise gr.Error("Stopped.", print_exception=False) from None
        except torch.OutOfMemoryError:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise gr.Error("The server ran out of memory; try a shorter or smaller video.") from None
        except (ValueError, TypeError, FloatingPointError) as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception:
            log.exception("request failed")
            raise gr.Error("Something went wrong on the server; please try again.") from None

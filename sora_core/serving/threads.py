"""How many CPU threads a process computes with: as many as there are idle cores, unless told.

torch's default is one thread a core. When another process already keeps a core busy (a training run, a second
request), that default makes the two fight: measured on 2 cores with a training run on one, the default clip took
43 s on 2 threads and 7 s on 1. So the CLI and the Space count the cores busy right now (over a fifth of a second)
and take the rest, at least one.
"""

import os

import psutil
import torch

BUSY_PERCENT = 50  # a core this busy over the sample is another process's


def free_cores(sample_seconds: float = 0.2) -> int:
    """The cores this process may run on that are not busy with other work now (at least 1)."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = psutil.cpu_percent(interval=sample_seconds, percpu=True)
    if allowed is not None:
        load = [load[core] for core in allowed if core < len(load)] or load
    return max(1, sum(percent < BUSY_PERCENT for percent in load))


def use_threads(requested: int = 0) -> int:
    """Set torch's thread count: `requested`, or (0) the idle cores; returns it."""
    if requested < 0:
        raise ValueError(f"threads must be 0 (the idle cores) or more; got {requested}.")
    threads = requested or free_cores()
    torch.set_num_threads(threads)
    return threads

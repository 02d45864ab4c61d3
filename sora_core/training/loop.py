"""The training loop every stage shares: warm-up and cosine learning rate, resumable accelerate state, the loss
log, the weights' moving average, and the bfloat16 check before the first step."""

import json
import math
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from tqdm import tqdm

from ..engine import precision
from .config import TrainConfig
from .ema import WeightAverage

STATE = "state"  # a stage's resumable state, in its run folder


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def stream_seed(config: TrainConfig, process: int, folder: Path) -> list[int]:
    """The seed of a process's data and random draws: the run's seed, the process and the step the run starts at, so
    that a resumed run goes on to draws it has not made instead of replaying those it began with."""
    progress = folder / STATE / "progress.json"
    step = json.loads(progress.read_text())["step"] if progress.exists() else 0
    return [config.seed, process, step]


class Run:
    """Step counter, loss log (accelerate's trackers, `loss_log.py`) and resumable accelerate state of one stage."""

    def __init__(self, accelerator: Accelerator, folder: Path):
        self.accelerator, self.folder = accelerator, folder
        self.state_dir = folder / STATE
        self.step, self.seconds = 0, 0.0
        if (self.state_dir / "progress.json").exists():
            accelerator.load_state(str(self.state_dir))
            saved = json.loads((self.state_dir / "progress.json").read_text())
            self.step, self.seconds = saved["step"], saved["seconds"]
            accelerator.print(f"resumed {folder.name} at step {self.step}")
            if accelerator.is_main_process:
                accelerator.get_tracker("csv", unwrap=False).forget_after(self.step)

    def log(self, **values):
        self.accelerator.log({"seconds": self.seconds, **values}, step=self.step)

    def save(self):
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(self.state_dir))
        if self.accelerator.is_main_process:
            (self.state_dir / "progress.json").write_text(json.dumps({"step": self.step, "seconds": self.seconds}))


def train_loop(config: TrainConfig, accelerator: Accelerator, module, params, folder: Path, batch_loss):
    """Train `params` of `module` to config.steps (or its time limit), saving as it goes. Returns the module, with the
    weights' moving average in it where --ema-decay asks for one, and the run."""
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    module, optimizer = accelerator.prepare(module, optimizer)
    run = Run(accelerator, folder)
    unwrapped = accelerator.unwrap_model(module)
    average = WeightAverage(unwrapped, config.ema_decay, run.state_dir, run.step) if config.ema_decay else None

    def save():
        run.save()
        if average is not None and accelerator.is_main_process:
            average.save(run.state_dir)

    bar = tqdm(total=config.steps, initial=run.step, disable=not accelerator.is_main_process, desc=config.stage)
    deadline = time.time() + 60 * config.max_minutes if config.max_minutes else float("inf")
    while run.step < config.steps and time.time() < deadline:
        started = time.time()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(run.step, config)
        losses = batch_loss(module, run.step)
        accelerator.backward(losses["loss"])
        grad_norm = accelerator.clip_grad_norm_(module.parameters(), config.clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if average is not None:
            average.step()
        run.step += 1
        run.seconds += time.time() - started
        bar.update(1)
        bar.set_postfix(loss=f"{losses['loss'].item():.4f}")
        if run.step % config.log_every == 0:
            run.log(**{k: v.item() for k, v in losses.items()}, grad_norm=float(grad_norm), lr=lr_at(run.step, config))
        if run.step % config.save_every == 0 or run.step == config.steps:
            save()
    if run.step < config.steps:  # out of time: saved, so that the same command goes on from here
        save()
    bar.close()
    if average is not None:  # after the last save: a resumed run starts from the last step's weights
        average.copy_to_module()
    write_checksum(accelerator, unwrapped, folder)
    return unwrapped, run


def write_checksum(accelerator: Accelerator, module, folder: Path):
    """Each process records a checksum of its weights: data-parallel copies must end identical."""
    total = sum(float(p.detach().double().abs().sum()) for p in module.parameters())
    (folder / f"checksum-rank{accelerator.process_index}.txt").write_text(f"{total:.10e}\n")


def check_bfloat16(config: TrainConfig, model, inputs: dict | None = None):
    """--precision bf16: `model`'s layers under autocast checked against float32 on this machine before the first
    step (engine/precision.py); a faulty layer runs in float32, and a model still off refuses to train."""
    if config.precision != "bf16":
        return
    _, check = precision.check_bfloat16(model, run_layer=precision.under_autocast, inputs=inputs)
    if not check.usable:
        raise SystemExit(
            f"--precision bf16: bfloat16 is {check.error:.0%} off float32 on this machine (engine/precision.py); "
            "train with --precision fp32."
        )

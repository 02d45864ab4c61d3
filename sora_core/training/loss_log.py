"""The training log, as an accelerate tracker: every stage writes `loss.csv` in its folder through
`accelerator.log`, beside any tracker `--log-with` adds (tensorboard, wandb, ... where installed)."""

from pathlib import Path

from accelerate.tracking import GeneralTracker


class CSVTracker(GeneralTracker):
    """One row a logged step: step, seconds of training so far, then the logged values in their first order."""

    name = "csv"
    requires_logging_directory = False

    def __init__(self, folder: Path):
        super().__init__()
        self.path = Path(folder) / "loss.csv"

    @property
    def tracker(self):
        return self.path

    def store_init_configuration(self, values: dict):
        pass  # the run's configuration is its command line; the checkpoint's sora.json records it

    def log(self, values: dict, step: int | None = None, **kwargs):
        values = dict(values)
        seconds = values.pop("seconds")
        if not self.path.exists():
            self.path.write_text(",".join(["step", "seconds", *values]) + "\n")
        row = [str(step), f"{seconds:.1f}", *(f"{value:.6g}" for value in values.values())]
        with self.path.open("a") as f:
            f.write(",".join(row) + "\n")

    def forget_after(self, step: int):
        """On resuming at `step`: the rows logged after the last save are redone, so they go."""
        if self.path.exists():
            header, *rows = self.path.read_text().splitlines()
            kept = [row for row in rows if int(row.split(",")[0]) <= step]
            self.path.write_text("\n".join([header, *kept]) + "\n")

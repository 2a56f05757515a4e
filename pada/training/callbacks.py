"""Per-batch training log (loss, lr, tokens/s, MFU) kept in resume checkpoints and sent to the tracker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import lightning as L

from pada import progress
from pada.models.memory import trim_heap
from pada.training.flops import FlopModel, mfu


class TrimHeap(L.Callback):
    """After every micro-batch, return the heap's free pages to the OS: on CPU, glibc otherwise keeps more
    of the freed activations each step (pada/models/memory.py). Changes no number, only resident memory."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        trim_heap()


class TrainLog(L.Callback):
    """One row per micro-batch; the rows travel in resume checkpoints, so a resumed curve is complete."""

    def __init__(
        self, sink: Callable[[dict[str, float]], None] | None, flops: FlopModel, peak_flops: float | None
    ):
        self.rows: list[dict[str, Any]] = []
        self.sink = sink
        self.flops = flops
        self.peak_flops = peak_flops
        self._last_end: float | None = None
        self._lr = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._lr = trainer.optimizers[0].param_groups[0]["lr"]  # the lr this batch's update will use
        if self._last_end is None:
            self._last_end = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = float(outputs["batch_loss"])  # a host sync on GPU: this batch's forward has run
        # end to end between batches, so each interval holds one batch's kernels (up to the queue the sync
        # drains), data loading and Lightning's overhead: the throughput a run actually gets
        now = time.perf_counter()
        seconds, self._last_end = now - self._last_end, now
        flops = self.flops.batch_flops(batch["seq_lens"])
        tokens = int(batch["seq_lens"].sum())
        row = {
            "batch": len(self.rows),
            "step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "loss": loss,
            "lr": self._lr,
            "tokens": tokens,
            "tokens_per_s": tokens / seconds if seconds > 0 else None,
            "mfu": mfu(flops, seconds, self.peak_flops),
        }
        self.rows.append(row)
        if trainer.progress_bar_callback is not None:
            pl_module.log("train/tok_s", row["tokens_per_s"] or 0.0, prog_bar=True, on_step=True)
        if self.sink is not None:
            self.sink({f"train/{k}": v for k, v in row.items() if v is not None})

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict["rows"])


class StepBar(L.Callback):
    """A bar over optimizer steps with the last loss (``pada.progress``, terminals only). Lightning's own
    bar (``trainer.progress_bar: true``) leaves a line per fit: dozens in a sweep."""

    def __init__(self) -> None:
        self.bar = None

    def on_train_start(self, trainer, pl_module):
        self.bar = progress.bar(total=trainer.max_steps, desc="train", unit="step")
        self.bar.update(trainer.global_step)  # a resumed fit starts part-way

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.bar.set_postfix(loss=f"{float(outputs['batch_loss']):.3f}", refresh=False)
        self.bar.update(trainer.global_step - self.bar.n)

    def on_train_end(self, trainer, pl_module):
        self.bar.close()

    def on_exception(self, trainer, pl_module, exception):
        if self.bar is not None:
            self.bar.close()

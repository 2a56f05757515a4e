"""Where mid-training resume checkpoints live, and which one to resume from.

They go in a directory *beside* the stage's partial dir (the runner passes ``<run>/.train_i.ckpt``),
because the stage machinery wipes the partial dir when it restarts a stage. A fingerprint of everything
that determines training guards against resuming a run whose data or config has since changed; the
directory is deleted once the adapter or model is saved.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.environments import SLURMEnvironment

from pada.io import read_json, write_json

FINGERPRINT = "fingerprint.json"


def prepare(ckpt_dir: Path, fingerprint: str) -> str | None:
    """Make ``ckpt_dir`` ready; return the checkpoint to resume from, if a matching one exists."""
    marker = ckpt_dir / FINGERPRINT
    if ckpt_dir.exists() and (not marker.is_file() or read_json(marker)["fingerprint"] != fingerprint):
        shutil.rmtree(ckpt_dir)  # stale: another config or data set wrote it
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    write_json(marker, {"fingerprint": fingerprint})
    candidates = sorted(ckpt_dir.glob("*.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    return str(candidates[-1]) if candidates else None  # the newest: periodic 'last' or a SLURM 'hpc_ckpt_N'


def periodic_checkpoint(ckpt_dir: Path, every_n_steps: int | None) -> list[ModelCheckpoint]:
    if not every_n_steps:
        return []
    # save_top_k=0 + save_last: one rolling last.ckpt, overwritten atomically by Lightning's filesystem write
    return [
        ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=every_n_steps, save_top_k=0, save_last=True)
    ]


def slurm_plugins(cfg: Any) -> list[SLURMEnvironment]:
    """Under SLURM, Lightning's environment without its own requeue handler (``auto_requeue=False``).

    Lightning's default would take over SIGUSR1 and requeue from inside the handler, mid-step; pada's one
    signal story is :class:`CheckpointOnSignal` + submitit's requeue (docs/slurm.md)."""
    if not SLURMEnvironment.detect():
        return []
    return [SLURMEnvironment(auto_requeue=False)]


def preemption_signal() -> signal.Signals:
    """The signal SLURM sends ``signal_delay_s`` before the time limit: submitit's (USR2 unless
    ``SUBMITIT_PREEMPT_SIGNAL`` says otherwise), so one handler chain serves both."""
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))


class CheckpointOnSignal(L.Callback):
    """On SLURM's warning signal or SIGTERM (requeue, preemption, scancel) during training: save a resume
    checkpoint at the next optimizer-step boundary, then hand the signal to the handler that was there
    before training (submitit's: requeue the job and exit; Lightning's SIGTERM one: stop). With none (a
    plain ``sbatch`` job), requeue with ``scontrol requeue $SLURM_JOB_ID`` and exit.

    Saving at a step boundary, not inside the handler, makes the resumed run bit-identical."""

    def __init__(self, ckpt_dir: Path, signals: tuple[signal.Signals, ...]):
        self.path = Path(ckpt_dir) / "signal.ckpt"
        self.signals = signals
        self.previous: dict[int, Any] = {}
        self.pending: tuple[int, Any] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for signum in self.signals:
            self.previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._note)

    def _note(self, signum: int, frame: Any) -> None:
        self.pending = self.pending or (signum, frame)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if self.pending and not trainer.fit_loop.epoch_loop._should_accumulate():
            self._checkpoint_and_hand_on(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.pending:
            self._checkpoint_and_hand_on(trainer)
        self._restore()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self.previous = {}

    def _checkpoint_and_hand_on(self, trainer: L.Trainer) -> None:
        (signum, frame), self.pending = self.pending, None
        trainer.save_checkpoint(self.path)
        handler = self.previous.get(signum)
        self._restore()
        if callable(handler):
            handler(signum, frame)  # submitit: checkpoint the job and requeue it, then sys.exit
            return
        if signum != signal.SIGTERM:  # a plain sbatch job: requeue it ourselves
            subprocess.run(["scontrol", "requeue", os.environ["SLURM_JOB_ID"]], check=False, timeout=60)
        sys.exit(128 + signum)


def signal_checkpoint(cfg: Any, ckpt_dir: Path) -> list[L.Callback]:
    """The checkpoint-on-signal callback, inside a SLURM job when ``trainer.slurm_requeue`` is on."""
    if not cfg.get("slurm_requeue") or "SLURM_JOB_ID" not in os.environ:
        return []
    return [CheckpointOnSignal(ckpt_dir, (preemption_signal(), signal.SIGTERM))]

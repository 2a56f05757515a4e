"""Where mid-training resume checkpoints live, and which one to resume from.

They go in a directory *beside* the stage's partial dir (the runner passes ``<run>/.train_i.ckpt``),
because the stage machinery wipes the partial dir when it restarts a stage. A fingerprint of everything
that determines training guards against resuming a run whose data or config has since changed; the
directory is deleted once the adapter or model is saved.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

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
    """Under SLURM, Lightning saves ``hpc_ckpt_N.ckpt`` into the trainer's root dir and requeues the job on
    the signal (submit with ``--signal=USR1@90``); the requeued job re-runs the cell and resumes here."""
    if not SLURMEnvironment.detect():
        return []
    return [SLURMEnvironment(auto_requeue=bool(cfg.slurm_requeue), requeue_signal=signal.SIGUSR1)]

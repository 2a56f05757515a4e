"""wandb for one cell: offline unless configured otherwise, and closed on every exit path."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Tracker:
    def __init__(self, run: Any | None):
        self.run = run

    def log(self, metrics: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.log(metrics)

    def summary(self, metrics: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.summary.update(metrics)


@contextlib.contextmanager
def tracking(cfg: Any, run_dir: Path, name: str, config: dict[str, Any]) -> Iterator[Tracker]:
    """Yield a Tracker; ``wandb.mode=disabled`` gives a no-op one without importing wandb."""
    if cfg.mode == "disabled":
        yield Tracker(None)
        return
    import wandb

    wandb_dir = Path(cfg.dir) if cfg.dir else Path(run_dir)
    wandb_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(
        project=cfg.project,
        entity=cfg.entity,
        mode=cfg.mode,
        dir=str(wandb_dir),
        name=name,
        group=cfg.group,
        config=config,  # the resolved config: credentials are never in it (they come from the environment)
        reinit="finish_previous",
    )
    exit_code = 1
    try:
        yield Tracker(run)
        exit_code = 0
    finally:
        run.finish(exit_code=exit_code)

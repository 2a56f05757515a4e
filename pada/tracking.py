"""wandb for one cell: offline unless configured otherwise, closed on every exit path, and never fatal.

Tracking is a side channel: a wandb failure (its service process killed by SLURM's SIGTERM on requeue or
preemption, a full disk, a network error in online mode) is logged once as a warning, recorded in
``Tracker.error`` (results.json ``tracking``), and the cell goes on untracked with the same result.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pada.io import stable_hash

log = logging.getLogger(__name__)


class Tracker:
    """Forwards metrics to a wandb run; ``run=None`` (disabled, or after a failure) makes every call a no-op."""

    def __init__(self, run: Any | None, error: str | None = None):
        self.run = run
        self.error = error  # the first wandb failure, "<call>: <Type>: <message>"; None while all is well

    def log(self, metrics: dict[str, Any]) -> None:
        self._call("log", lambda run: run.log(metrics))

    def summary(self, metrics: dict[str, Any]) -> None:
        self._call("summary", lambda run: run.summary.update(metrics))

    def finish(self, exit_code: int) -> None:
        self._call("finish", lambda run: run.finish(exit_code=exit_code))
        self.run = None

    def _call(self, what: str, call: Any) -> None:
        if self.run is None:
            return
        try:
            call(self.run)
        except Exception as error:  # any wandb failure: the cell must not fail for its side channel
            self.error = self.error or _describe(what, error)
            log.warning("wandb %s failed; the cell goes on without tracking (%s)", what, self.error)
            self.run = None
            _abandon_wandb()


def _abandon_wandb() -> None:
    """Drop wandb's broken service connection and its global run, so a later ``wandb.init`` (the next cell
    in this process) starts a fresh service instead of failing on the dead one."""
    wandb = sys.modules.get("wandb")
    if wandb is None:
        return
    with contextlib.suppress(Exception):  # it tells the dead service goodbye first, which fails
        wandb.teardown()
    with contextlib.suppress(Exception):
        from wandb.sdk.lib import module

        module.unset_globals()


def _describe(what: str, error: BaseException) -> str:
    return f"{what}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip()


def log_to_current_run(metrics: dict[str, Any]) -> None:
    """Log to the run the runner opened, if any (wandb already imported); a failure is a warning only."""
    wandb = sys.modules.get("wandb")
    if wandb is None or getattr(wandb, "run", None) is None:
        return
    try:
        wandb.run.log(metrics)
    except Exception as error:  # same rule as Tracker: never fail the cell
        log.warning("wandb log failed; not tracked (%s)", _describe("log", error))
        _abandon_wandb()


# The wandb config key holding the cell's component versions and data hashes: with the resolved config, what
# `pada analyze --wandb-project` groups cells by (pada.run.identity.configuration_of), as a runs dir's results.json.
COMPONENTS_KEY = "cell_components"


def tracked_config(config: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The config a cell logs to wandb: the resolved config plus ``COMPONENTS_KEY``: ``{"versions": {...},
    "data": {file: sha256}}`` (``Cell.components``)."""
    return {**config, COMPONENTS_KEY: components}


# What a run id may hold: wandb refuses ``:;,#?/'`` in run ids (wandb_settings.validate_run_id) and its
# server its own set; letters, digits and ``_.-`` pass everywhere. Anything else becomes ``-``.
_UNSAFE_IN_RUN_ID = re.compile(r"[^A-Za-z0-9_.-]")


def run_id(run_dir: Path, name: str) -> str:
    """The cell's wandb run id: its dir name plus a hash of where it lives (two runs dirs holding the same
    cell, e.g. a test and a real sweep, stay two runs). Offline, each invocation writes its own
    ``offline-run-*-<id>`` dir, and ``wandb sync`` appends them all to this one run.

    A name with characters wandb refuses in an id (a task named ``qa:v2``; Metta-AI/metta#2490: wandb.init
    failed and the cell ran untracked) has each replaced by ``-``, and the hash then covers the name too,
    so ``qa:v2`` and ``qa-v2`` stay two runs. The run's display name is the cell name as it is."""
    where = str(Path(run_dir).resolve())
    safe = _UNSAFE_IN_RUN_ID.sub("-", name)
    return f"{safe}-{stable_hash(where if safe == name else f'{where}|{name}')[:8]}"


@contextlib.contextmanager
def tracking(cfg: Any, run_dir: Path, name: str, config: dict[str, Any]) -> Iterator[Tracker]:
    """Yield a Tracker; ``wandb.mode=disabled`` gives a no-op one without importing wandb."""
    if cfg.mode == "disabled":
        yield Tracker(None)
        return
    tracker = _start(cfg, run_dir, name, config)
    exit_code = 1
    try:
        yield tracker
        exit_code = 0
    finally:
        tracker.finish(exit_code)


def _start(cfg: Any, run_dir: Path, name: str, config: dict[str, Any]) -> Tracker:
    import wandb

    wandb_dir = Path(cfg.dir) if cfg.dir else Path(run_dir)
    wandb_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    try:
        run = wandb.init(
            project=cfg.project,
            entity=cfg.entity,
            mode=cfg.mode,
            dir=str(wandb_dir),
            name=name,
            id=run_id(run_dir, name),  # a resumed cell continues its own run instead of starting another
            resume="allow",
            group=cfg.group,
            config=config,  # the resolved config: credentials are never in it (they come from the environment)
            reinit="finish_previous",
        )
    except Exception as error:  # e.g. online mode without a network: the cell runs untracked
        tracker = Tracker(None, _describe("init", error))
        log.warning("wandb init failed; the cell runs without tracking (%s)", tracker.error)
        return tracker
    _drop_import_hooks()
    return Tracker(run)


def _drop_import_hooks() -> None:
    """wandb's import hooks report each framework imported later to its service; once that service is dead
    (SIGTERM on requeue), any such import (``import lightning`` at the first train stage) raises
    ConnectionResetError inside the cell. Import telemetry is not worth that risk."""
    with contextlib.suppress(Exception):
        from wandb.sdk.lib import import_hooks

        import_hooks.unregister_all_post_import_hooks()

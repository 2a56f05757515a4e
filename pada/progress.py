"""Progress for whoever watches a run: bars for long stages, and one line per finished cell of a sweep.

- ``bar``: a tqdm bar (student pre-training, training steps, evaluation batches, teacher calls). Bars are
  drawn only when ``enabled()``: ``run.progress=auto`` (the default) means stderr is an interactive
  terminal, so SLURM and redirected logs get none; ``true`` / ``false`` force them on or off.
- ``SweepProgress``: a Hydra callback (conf/config.yaml ``hydra.callbacks``) that logs, for each finished
  cell of a ``-m`` sweep, ``[k/N] <cell> <result> in <time> · elapsed · ETA``. The ETA is the sweep's
  elapsed wall time per finished cell times the cells left, so parallel launchers are accounted for.
  Finished cells are appended to ``<sweep dir>/.pada_progress.jsonl``, which joblib workers share.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from tqdm.auto import tqdm

from pada.errors import PadaError

log = logging.getLogger("pada")
_mode: bool | str = "auto"
_finished: dict[str, Any] = {}  # the name of the cell this process just finished (set by the job)
STATE = ".pada_progress.json"  # {"total": N or null, "started": unix time}, written at sweep start
FINISHED = ".pada_progress.jsonl"  # one line per finished cell
# Hydra launchers that log every job's overrides before it starts: the per-cell line replaces them.
LAUNCHER_LOGGERS = ("hydra._internal.core_plugins.basic_launcher", "hydra_plugins.hydra_joblib_launcher")


def configure(mode: bool | str) -> None:
    """``mode``: True / False, or "auto" (bars only when stderr is a terminal)."""
    global _mode
    if mode not in (True, False, "auto"):
        raise PadaError(f"run.progress={mode!r} is not one of auto, true, false; fix the override")
    _mode = mode


def enabled() -> bool:
    return sys.stderr.isatty() if _mode == "auto" else bool(_mode)


def bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str,
    unit: str = "it",
    force: bool = False,
) -> tqdm:
    """A tqdm bar that erases itself when done (``leave=False``); a no-op unless ``enabled()`` or ``force``
    (a component's own ``progress_bar: true`` setting)."""
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        leave=False,
        dynamic_ncols=True,
        disable=not (force or enabled()),
    )


def duration(seconds: float) -> str:
    """``75.2`` -> ``"1m15s"``; ``3725`` -> ``"1h02m"``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def count_cells(config: DictConfig) -> int | None:
    """How many jobs the basic sweeper will launch (its own expansion of params + overrides); None when
    another sweeper is configured or the overrides do not parse."""
    if not str(config.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return None
    try:  # the same expansion BasicSweeper.sweep does (hydra 1.3): params first, command line wins
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
        overrides = OverridesParser.create().parse_overrides([*params, *config.hydra.overrides.task])
        return sum(len(batch) for batch in BasicSweeper.split_arguments(overrides, None))
    except Exception:  # noqa: BLE001  (a count is a nicety; the sweep itself reports bad overrides)
        return None


def cell_line(
    done: int, total: int | None, name: str, outcome: str, seconds: float, elapsed: float, setup: float = 0.0
) -> str:
    """``[4/15] <cell> <outcome> in 27s · elapsed 1m52s · ETA 5m01s`` (no ETA when N is unknown).

    ``setup``: seconds the finished cells spent on one-time work (the simulated student's pre-training,
    ``one_time_setup``) that later cells will not repeat; the ETA's rate per cell leaves it out."""
    line = f"[{done}/{total or '?'}] {name} {outcome} in {duration(seconds)} · elapsed {duration(elapsed)}"
    if total and done < total:
        per_cell = max(elapsed - setup, 0.0) / done
        line += f" · ETA {duration(per_cell * (total - done))}"
    return line


def one_time_setup(seconds: float) -> None:
    """Record that this process spent ``seconds`` on work done once per cache dir (the sweep's ETA excludes
    it: a 14-min pre-training in the first cell must not predict 14 min for every cell)."""
    _finished["setup"] = _finished.get("setup", 0.0) + seconds


class StepLog:
    """Progress lines for a long loop when no bar is drawn (a redirected log, CI): ``<desc>: 40% (1600/4000
    steps) · elapsed 55s · ETA 1m22s`` at every ``every`` fraction of the steps (10% by default)."""

    def __init__(self, desc: str, total: int, every: float = 0.1):
        self.desc, self.total, self.started = desc, total, time.time()
        self.marks = {max(1, round(total * every * k)) for k in range(1, round(1 / every))}

    def step(self, done: int) -> None:
        if enabled() or done not in self.marks:
            return
        elapsed = time.time() - self.started
        eta = elapsed / done * (self.total - done)
        log.info(
            "%s: %d%% (%d/%d steps) · elapsed %s · ETA %s",
            self.desc,
            round(100 * done / self.total),
            done,
            self.total,
            duration(elapsed),
            duration(eta),
        )


def _outcome(job_return: Any) -> str:
    from hydra.core.utils import JobStatus

    if job_return.status == JobStatus.FAILED:
        error = job_return._return_value  # the property re-raises; the stored exception is what we report
        return f"FAILED ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
    value = job_return.return_value
    if value is None:
        return "stopped (run.stop_after)"
    sim = " [SIMULATION]" if job_return.cfg.get("simulation") else ""
    return f"test accuracy {percent(value)}{sim}"


def percent(fraction: float) -> str:
    """``0.2617`` -> ``"26.2%"``: the one format of an accuracy on the console (sweep, single run, status),
    as the tables print it."""
    return f"{fraction * 100:.1f}%"


def finished_cell(name: str) -> None:
    """Called by the job (pada.run.app) with its cell's name: the name's hash covers code versions and data
    hashes that only the runner computes, so the callback does not recompute it."""
    _finished["name"] = name


def _cell_name(job_return: Any) -> str:
    """The finished cell's name; for a cell that stopped or failed first, ``<task>-b<budget>-<method>-s<seed>``
    (no hash), or the job's overrides when even those do not resolve."""
    if name := _finished.pop("name", None):
        return name
    try:
        cfg = job_return.cfg
        return f"{cfg.task.name}-b{cfg.budget}-{cfg.method.name}-s{cfg.seed}"
    except Exception:  # noqa: BLE001  (a config that does not resolve)
        return " ".join(job_return.overrides or [])


def _is_multirun(config: DictConfig) -> bool:
    from hydra.types import RunMode

    return config.hydra.get("mode") == RunMode.MULTIRUN


class SweepProgress(Callback):
    """Hydra callback: the sweep's size at the start, a line per finished cell, a summary at the end."""

    def __init__(self) -> None:
        self._job_started = time.time()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        total = count_cells(config)
        (sweep_dir / STATE).write_text(json.dumps({"total": total, "started": time.time()}))
        from pada.logs import use_console_format

        use_console_format()  # Hydra's own logging is in place here (the sweep's first and last line)
        if not config.get("run", {}).get("verbose"):
            for name in LAUNCHER_LOGGERS:
                logging.getLogger(name).setLevel(logging.WARNING)
        log.info("sweep of %s cells; a line as each finishes; Hydra's logs: %s", total or "?", sweep_dir)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._job_started = time.time()
        _finished.clear()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if not _is_multirun(config):
            return  # a single cell says its result itself (pada.run.app)
        seconds = time.time() - self._job_started
        sweep_dir = Path(config.hydra.sweep.dir)
        state = _read_state(sweep_dir, self._job_started)
        name, outcome = _cell_name(job_return), _outcome(job_return)
        setup = _finished.pop("setup", 0.0)
        failed = outcome.startswith("FAILED")
        record = json.dumps({"cell": name, "seconds": seconds, "setup": setup, "failed": failed})
        fd = os.open(sweep_dir / FINISHED, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:  # one short O_APPEND write: concurrent joblib workers never interleave within a line
            os.write(fd, (record + "\n").encode())
        finally:
            os.close(fd)
        rows = [json.loads(line) for line in (sweep_dir / FINISHED).read_text().splitlines()]
        elapsed = time.time() - state["started"]
        setups = sum(row.get("setup", 0.0) for row in rows)
        log.info(cell_line(len(rows), state["total"], name, outcome, seconds, elapsed, setups))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from pada.logs import use_console_format

        use_console_format()  # the launcher may have put Hydra's own logging back in place
        sweep_dir = Path(config.hydra.sweep.dir)
        state = _read_state(sweep_dir, time.time())
        finished = sweep_dir / FINISHED
        rows = [json.loads(line) for line in finished.read_text().splitlines()] if finished.is_file() else []
        failed = sum(r["failed"] for r in rows)
        log.info(
            "sweep done: %d cells in %s%s",
            len(rows),
            duration(time.time() - state["started"]),
            f", {failed} FAILED" if failed else "",
        )


def _read_state(sweep_dir: Path, default_start: float) -> dict[str, Any]:
    try:
        return json.loads((sweep_dir / STATE).read_text())
    except (OSError, ValueError):  # a launcher that skipped on_multirun_start here (remote jobs)
        return {"total": None, "started": default_start}

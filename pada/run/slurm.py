"""``launcher=slurm``: hydra-submitit's SLURM launcher, with what a sweep on a real cluster needs.

- One job per cell, named after the cell (``squeue`` shows ``sim_arith-b16-sft-s0-<hash>``, not ``app``).
- A refused submission (resources the cluster does not have, a bad partition) is one ``pada: error:`` line.
- Inside the job: the cell dir gets ``logs/<job>.out|.err`` links to the job's logs, and a failed cell's
  traceback goes to the job's stderr log.
- The wait is bounded without accounting: a job that ``squeue`` no longer lists as alive and that left no
  result for ``lost_after_s`` seconds has died; each failed or dead cell is one line naming the cell, the
  job, its last error line and its log, then ``pada run`` exits 1. A requeued job stays listed, so the
  launcher keeps waiting for it.
- The sweep's cells and jobs go to ``<runs_dir>/_sweeps/<time>-<job>.json`` for ``pada status``.

Signals: submitit asks SLURM for ``--signal=USR2@<signal_delay_s>`` and, on USR2, requeues the job (a
timeout counts against ``max_num_timeout``); during training pada's checkpoint-on-signal callback saves a
resume checkpoint at the next step first (pada/training/resume.py). Do not pass ``--signal`` yourself.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as _SubmititSlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

from pada.errors import PadaError
from pada.run import cluster

# Settings of this launcher that submitit does not know.
OWN_KEYS = ("poll_s", "lost_after_s")


@dataclass
class PadaSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.pada_launcher.SlurmLauncher"
    poll_s: float = 5.0  # how often the launcher looks for results and asks squeue
    lost_after_s: float = 60.0  # a job gone from squeue with no result for this long has died (NFS lag)


ConfigStore.instance().store(group="hydra/launcher", name="pada_slurm", node=PadaSlurmConf, provider="pada")


def task_config(sweep_config: DictConfig) -> DictConfig:
    """The cell's config as the task function sees it (Hydra's own node removed)."""
    cfg = sweep_config.copy()
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return cfg


@functools.cache
def _data_files(task_yaml: str, data_dir: str | None) -> dict[str, str]:
    """The data files' sha256 (part of the cell's identity), once per task setting in a sweep."""
    from pada.tasks import build_task

    return build_task(OmegaConf.create(task_yaml)).load(Path(data_dir) if data_dir else None).files


def cell_dir(cfg: DictConfig) -> Path:
    """The run dir the cell's runner will use (pada.run.naming.cell_location); raises PadaError on bad data."""
    from pada.methods.base import build_method
    from pada.run.naming import cell_location, data_dir
    from pada.tasks import build_task

    directory = data_dir(cfg)
    files = _data_files(OmegaConf.to_yaml(cfg.task, resolve=True), str(directory) if directory else None)
    return cell_location(cfg, build_task(cfg.task), build_method(cfg.method), files)[1]


@dataclass
class Submitted:
    num: int
    overrides: list[str]
    name: str
    run_dir: str
    job: Any  # submitit.slurm.slurm.SlurmJob

    def line(self) -> dict[str, Any]:
        return {
            "num": self.num,
            "name": self.name,
            "run_dir": self.run_dir,
            "overrides": self.overrides,
            "job_id": self.job.job_id,
            "stdout": str(self.job.paths.stdout),
            "stderr": str(self.job.paths.stderr),
        }


class PadaSlurmLauncher(_SubmititSlurmLauncher):
    # -- inside the job -----------------------------------------------------------------------------
    def __call__(self, sweep_overrides, job_dir_key, job_num, job_id, singleton_state) -> JobReturn:
        link_job_logs(sweep_overrides, self)
        result = super().__call__(sweep_overrides, job_dir_key, job_num, job_id, singleton_state)
        if result.status == JobStatus.FAILED:  # Hydra keeps the exception in the result: log it too
            error = result._return_value
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
            sys.stderr.flush()
        return result

    # -- on the submitting host -------------------------------------------------------------------
    def launch(self, job_overrides, initial_job_idx) -> list[JobReturn]:
        import submitit

        params = {k: v for k, v in self.params.items() if k not in OWN_KEYS}
        if "signal" in (params.get("additional_parameters") or {}):
            print(
                "pada: error: hydra.launcher.additional_parameters.signal replaces submitit's USR2 handling "
                "(no requeue on timeout); remove it and set hydra.launcher.signal_delay_s",
                file=sys.stderr,
            )
            sys.exit(2)
        executor = submitit.AutoExecutor(
            cluster="slurm",
            folder=params.pop("submitit_folder"),
            slurm_max_num_timeout=params.pop("max_num_timeout"),
        )
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        cells: list[Submitted] = []
        for i, overrides in enumerate(job_overrides):
            cells.append(self._submit(executor, initial_job_idx + i, list(overrides), cells))
        manifest = self._write_manifest(cells)
        print(
            f"submitted {len(cells)} SLURM job(s), one per cell; `pada status "
            f"{self.config.paths.runs_dir}` shows them (sweep: {manifest})",
            file=sys.stderr,
        )
        return wait(cells, float(self.params.get("poll_s", 5)), float(self.params.get("lost_after_s", 60)))

    def _submit(self, executor, num: int, overrides: list[str], earlier: list[Submitted]) -> Submitted:
        cfg = task_config(self.hydra_context.config_loader.load_sweep_config(self.config, overrides))
        try:
            run_dir = cell_dir(cfg)
        except PadaError as error:  # the job would fail the same way: say it before submitting anything
            print(f"pada: error: {error}", file=sys.stderr)
            sys.exit(2)
        executor.update_parameters(name=run_dir.name)
        args = (overrides, "hydra.sweep.dir", num, f"job_id_for_{num}", Singleton.get_state())
        refused = io.StringIO()
        try:
            with contextlib.redirect_stderr(refused):  # submitit prints sbatch's stderr: we say it once
                job = executor.submit(self, *args)
        except Exception as error:
            message = cluster.last_error_line(f"{refused.getvalue()}\n{error}") or str(error)
            message = message.removeprefix("sbatch: error: ")
            running = f"; {len(earlier)} earlier cell(s) were submitted and keep running" if earlier else ""
            print(
                f"pada: error: sbatch refused cell {run_dir.name}: {message} (`pada preflight` with the same "
                f"overrides checks the request against sinfo){running}",
                file=sys.stderr,
            )
            sys.exit(2)
        return Submitted(num, overrides, run_dir.name, str(run_dir), job)

    def _write_manifest(self, cells: list[Submitted]) -> Path:
        folder = Path(str(self.config.paths.runs_dir)).expanduser().resolve() / "_sweeps"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{cells[0].job.job_id}.json"
        sweep = {
            "sweep_dir": str(Path(str(self.config.hydra.sweep.dir)).resolve()),
            "cells": [c.line() for c in cells],
        }
        path.write_text(json.dumps(sweep, indent=1))
        return path


def link_job_logs(sweep_overrides: list[str], launcher: PadaSlurmLauncher) -> None:
    """In the job: ``<cell>/logs/<job>.out`` and ``.err`` point at submitit's log files."""
    info = cluster.job_environment()
    if "stdout" not in info:
        return
    with contextlib.suppress(Exception):  # a link is a convenience: never fail the cell for it
        config = launcher.hydra_context.config_loader.load_sweep_config(
            launcher.config, list(sweep_overrides)
        )
        logs = cell_dir(task_config(config)) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for kind in ("stdout", "stderr"):
            link = logs / f"{info['job_id']}.{'out' if kind == 'stdout' else 'err'}"
            link.unlink(missing_ok=True)
            link.symlink_to(info[kind])


def wait(cells: list[Submitted], poll_s: float, lost_after_s: float) -> list[JobReturn]:
    """Wait for every cell; each failed or dead one is a line on stderr, then exit 1. Returns the results."""
    results: dict[int, JobReturn] = {}
    problems: dict[int, str] = {}
    gone_since: dict[int, float] = {}
    while len(results) + len(problems) < len(cells):
        states = cluster.job_states([c.job.job_id for c in cells])
        for i, cell in enumerate(cells):
            if i in results or i in problems:
                continue
            state = None if states is None else states.get(cell.job.job_id)
            if cell.job.paths.result_pickle.exists():
                outcome = _outcome(cell)
                failed = not isinstance(outcome, JobReturn) or outcome.status == JobStatus.FAILED
                if failed and state in cluster.ALIVE_STATES:
                    continue  # SLURM runs it again (requeue): that attempt's result is the one
                results[i] = None if failed else outcome
                if failed:
                    problems[i] = _failure_line(cell, outcome)
                print(
                    f"[{len(results)}/{len(cells)}] {cell.name}: {'failed' if failed else 'done'} "
                    f"(job {cell.job.job_id})",
                    file=sys.stderr,
                )
                continue
            if states is None or state in cluster.ALIVE_STATES:
                gone_since.pop(i, None)  # squeue did not answer, or the job (maybe requeued) is alive
                continue
            if time.monotonic() - gone_since.setdefault(i, time.monotonic()) >= lost_after_s:
                problems[i] = _dead_line(cell, state)
        if len(results) + len(problems) < len(cells):
            time.sleep(poll_s)
    if problems:
        for i in sorted(problems):
            print(f"pada: error: {problems[i]}", file=sys.stderr)
        print(
            f"pada: {len(problems)} of {len(cells)} cell(s) failed; finished cells are kept, and a re-run "
            "resumes the others",
            file=sys.stderr,
        )
        sys.exit(1)
    return [results[i] for i in range(len(cells))]


def _outcome(cell: Submitted) -> JobReturn | str:
    try:
        return cell.job.result()
    except Exception as error:  # submitit's own failure (e.g. the job raised outside Hydra's run_job)
        return cluster.last_error_line(str(error)) or type(error).__name__


def _failure_line(cell: Submitted, outcome: JobReturn | str) -> str:
    if isinstance(outcome, JobReturn):
        error = outcome._return_value
        outcome = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return f"cell {cell.name} (job {cell.job.job_id}) failed: {outcome}; log: {cell.job.paths.stderr}"


def _dead_line(cell: Submitted, squeue_state: str | None) -> str:
    state = (
        squeue_state or cluster.accounting_state(cell.job.job_id) or "unknown: not in squeue, no accounting"
    )
    log = cell.job.paths.stderr
    last = cluster.last_error_line(log.read_text(errors="replace")) if log.is_file() else None
    detail = f"; last log line: {last}" if last else ""
    return f"cell {cell.name} (job {cell.job.job_id}, {state}) ended without a result{detail}; log: {log}"

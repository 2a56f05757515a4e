"""launcher=slurm against fake SLURM tools on PATH (the real cluster: tests/real/test_slurm_cluster.py).

Preflight checks the request against sinfo; a refused sbatch is one error line; jobs are named after their
cells; a job that vanishes without a result ends the wait (no accounting) naming the cell and its log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SWEEP = [
    "experiment=sim",
    "launcher=slurm",
    "method=sft",
    "budget=16",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "wandb.mode=disabled",
]


def _tools(tmp_path: Path, **scripts: str) -> dict[str, str]:
    """Executable shell scripts named after SLURM tools, first on PATH; returns the environment."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in {"srun": "exit 0", **scripts}.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def _pada(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pada.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_sinfo_formats():
    from pada.run import cluster

    assert cluster._minutes("infinite") is None and cluster._minutes("30") == 30
    assert cluster._minutes("1:30:00") == 90 and cluster._minutes("2-00:00:00") == 2880
    assert cluster._minutes("1-12") == 2160 and cluster._minutes("10:30") == 10.5
    assert cluster._gpus("(null)") == 0 and cluster._gpus("gpu:4") == 4
    assert cluster._gpus("gpu:a100:8(S:0-1),shard:16") == 8


def test_preflight_checks_the_request_against_sinfo(tmp_path, monkeypatch):
    """Default launcher=slurm (1 GPU, 8 CPUs, 64 GB, 240 min) on a 2-CPU, 3.9 GB, 1 h, GPU-less partition."""
    from pada.preflight import main as preflight_main

    sinfo = 'echo "debug*|up|2|3900|(null)|1:00:00"; echo "big|up|64|512000|gpu:h100:8|2-00:00:00"'
    env = _tools(tmp_path, sbatch="exit 1", sinfo=sinfo)
    monkeypatch.setenv("PATH", env["PATH"])
    problems = _preflight_problems(preflight_main, ["experiment=sim", "launcher=slurm"])
    assert problems == [
        "launcher asks 1 GPUs per node but partition 'debug' has at most 0; set hydra.launcher.gpus_per_node=<= 0",
        "launcher asks 8 CPUs per node but partition 'debug' has at most 2; set hydra.launcher.cpus_per_task=<= 2",
        "launcher asks 64 GB memory per node but partition 'debug' has at most 3.80859; "
        "set hydra.launcher.mem_gb=<= 3.80859",
        "launcher asks 240 min but partition 'debug' allows 60; set hydra.launcher.timeout_min=<= 60",
    ]
    assert (
        _preflight_problems(
            preflight_main, ["experiment=sim", "launcher=slurm", "hydra.launcher.partition=big"]
        )
        == []
    )
    assert _preflight_problems(
        preflight_main, ["experiment=sim", "launcher=slurm", "hydra.launcher.partition=gpu"]
    ) == [
        "SLURM partition 'gpu' does not exist (partitions: debug, big); set hydra.launcher.partition=<name>"
    ]
    signal = [
        "experiment=sim",
        "launcher=slurm",
        "hydra.launcher.partition=big",
        "+hydra.launcher.additional_parameters.signal=USR1@90",
    ]
    assert _preflight_problems(preflight_main, signal)[0].startswith(
        "hydra.launcher.additional_parameters.signal replaces submitit's USR2 handling"
    )


def _preflight_problems(preflight_main, overrides: list[str]) -> list[str]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        preflight_main(overrides)
    return [line.removeprefix("  - ") for line in out.getvalue().splitlines() if line.startswith("  - ")]


def test_refused_submission_is_one_error_line(tmp_path):
    refuse = 'echo "sbatch: error: Batch job submission failed: Invalid generic resource (gres) specification" >&2; exit 1'
    env = _tools(tmp_path, sbatch=refuse)
    proc = _pada(env, "run", "-m", *SWEEP, "seed=0", f"paths.runs_dir={tmp_path}/runs")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("pada: error: sbatch refused cell sim_arith-b16-sft-s0-")
    assert "Batch job submission failed: Invalid generic resource (gres) specification" in lines[0]


def test_jobs_named_after_cells_and_a_vanished_job_ends_the_wait(tmp_path):
    """No accounting (sacct fails) and squeue no longer lists the job: the launcher stops waiting after
    lost_after_s and names each cell, its job and its log, instead of polling forever."""
    sbatch = (
        f"n=$(($(cat {tmp_path}/n 2>/dev/null || echo 76) + 1)); echo $n > {tmp_path}/n; "
        f'grep -h "job-name" "$1" >> {tmp_path}/names; echo "Submitted batch job $n"'
    )
    env = _tools(
        tmp_path,
        sbatch=sbatch,
        squeue="exit 0",
        sacct='echo "sacct: error: Slurm accounting storage is disabled" >&2; exit 1',
    )
    proc = _pada(
        env,
        "run",
        "-m",
        *SWEEP,
        "seed=0,1",
        f"paths.runs_dir={tmp_path}/runs",
        "hydra.launcher.poll_s=0.2",
        "hydra.launcher.lost_after_s=1",
        timeout=90,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    names = [line.split("=", 1)[1] for line in (tmp_path / "names").read_text().splitlines()]
    assert len(names) == 2 and all(n.startswith("sim_arith-b16-sft-s") for n in names)
    assert len({n.split("-s")[-1][:1] for n in names}) == 2  # s0 and s1: one job per cell
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pada: error:")]
    assert len(errors) == 2
    for job, name in zip(("77", "78"), names, strict=True):
        assert any(
            f"cell {name} (job {job}, unknown: not in squeue, no accounting) ended without a result; log: "
            in e
            and e.endswith(f"/.submitit/{job}/{job}_0_log.err")
            for e in errors
        )
    assert "2 of 2 cell(s) failed" in proc.stderr


@pytest.mark.parametrize("make_args", ["ARGS=hydra.launcher.partition=gpu seed=0"])
def test_make_reproduce_table2_passes_args(make_args):
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        ["make", "-n", "-C", str(root), "reproduce-table2", make_args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands = [line for line in out.splitlines() if "pada preflight" in line or "pada run" in line]
    assert len(commands) == 2 and all(
        line.endswith("hydra.launcher.partition=gpu seed=0") for line in commands
    )


def test_status_lists_done_running_failed_and_not_started(tmp_path, monkeypatch, capsys):
    """`pada status RUNS_DIR` from the launcher's sweep record, squeue, and the failed job's log."""
    from pada.cli import main

    runs = tmp_path / "runs"
    cells = []
    for n, name in enumerate(["done", "running", "pending", "failed"]):
        log = tmp_path / f"{n}.err"
        cells.append(
            {
                "num": n,
                "name": f"cell-{name}",
                "run_dir": str(runs / f"cell-{name}"),
                "overrides": [],
                "job_id": str(10 + n),
                "stdout": str(tmp_path / f"{n}.out"),
                "stderr": str(log),
            }
        )
    (runs / "cell-done").mkdir(parents=True)
    (runs / "cell-done" / "results.json").write_text('{"metrics": {"test": {"accuracy": 0.5}}}')
    (tmp_path / "3.err").write_text("Traceback (most recent call last):\n  ...\nValueError: boom\nexiting\n")
    (runs / "_sweeps").mkdir()
    (runs / "_sweeps" / "20260101-000000-10.json").write_text(json.dumps({"cells": cells}))
    squeue = 'echo "11|RUNNING"; echo "12|PENDING"; echo "99|RUNNING"'
    env = _tools(tmp_path, squeue=squeue, sacct="exit 1")
    monkeypatch.setenv("PATH", env["PATH"])
    assert main(["status", str(runs)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "done         cell-done  test accuracy 50.0%",
        f"running      cell-running  job 11 (RUNNING); log {tmp_path / '1.err'}",
        "not started  cell-pending  job 12 PENDING",
        f"failed       cell-failed  job 13 not in squeue: ValueError: boom; log {tmp_path / '3.err'}",
        "1 done, 1 running, 1 not started, 1 failed",
    ]

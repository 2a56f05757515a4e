"""A sim sweep on a real SLURM cluster (scripts/slurm-local.sh start): requeue, timeout signal, cancel, resume.

One sweep of four cells (method=sft,pada x seed=0,1) with launcher=slurm and wandb offline, while it runs:
  - sft-s0: `scontrol requeue` (SLURM's SIGTERM kills wandb's service; the cell must not fail),
  - sft-s1: `scancel --signal=USR2` (submitit's timeout warning: checkpoint, then submitit requeues),
  - pada-s0: `scancel` (the launcher must stop waiting and name the cell, its state and its log),
  - pada-s1: left alone.
The launcher exits 1 naming only the cancelled cell; `pada status` shows it failed; resubmitting the same
sweep finishes it; every cell's numbers equal a launcher=local run of the same sweep. Skipped where `sinfo`
does not answer. CI (.ci/run) starts the cluster first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

SWEEP = [
    "experiment=sim",
    "method=sft,pada",
    "seed=0,1",
    "budget=32",
    "task.val_size=20",
    "task.test_size=20",
    "trainer.epochs=4",
    "model.pretrain.steps=30",
]
SLURM = [
    "launcher=slurm",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=2",
    "hydra.launcher.timeout_min=30",
    "hydra.launcher.poll_s=1",
    "hydra.launcher.lost_after_s=15",
    "wandb.mode=offline",
]


def _cluster_answers() -> bool:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(state.startswith(("idle", "mixed", "allocated")) for state in out.split())


if not _cluster_answers():
    pytest.skip(
        "no SLURM cluster answers (start one: sudo scripts/slurm-local.sh start)", allow_module_level=True
    )


def _pada(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pada.cli", *args], capture_output=True, text=True, **kwargs)


def _until(what: str, check, timeout: float = 300, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _squeue() -> dict[str, tuple[str, str]]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i|%T|%j"], capture_output=True, text=True, timeout=30
    ).stdout
    return {i: (state, name) for i, state, name in (line.split("|") for line in out.splitlines())}


def _numbers(results: dict) -> dict:
    untimed = [
        {k: v for k, v in row.items() if "seconds" not in k and "per_s" not in k and k != "resumed"}
        for row in results["iterations"]
    ]
    return {"metrics": results["metrics"], "iterations": untimed, "data": results["data"]}


def test_sweep_survives_requeue_timeout_signal_and_cancel(tmp_path):
    cache = f"paths.cache_dir={tmp_path}/cache"
    local = _pada(
        "run", "-m", *SWEEP, cache, f"paths.runs_dir={tmp_path}/local", "wandb.mode=disabled", timeout=1200
    )
    assert local.returncode == 0, local.stderr[-3000:]

    runs = tmp_path / "slurm"
    args = ["run", "-m", *SWEEP, *SLURM, cache, f"paths.runs_dir={runs}", f"hydra.sweep.dir={tmp_path}/sweep"]
    launcher = subprocess.Popen(
        [sys.executable, "-m", "pada.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    cells = _submitted_cells(runs)
    _cancel_requeue_and_warn(cells)
    _only_the_cancelled_cell_failed(launcher, runs, cells["sim_arith-b32-pada-s0"])
    _requeued_cells_restarted_once(cells)

    again = _pada("run", "-m", *[a for a in args if a not in ("run", "-m")], timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    status = _pada("status", str(runs), timeout=120)
    assert status.returncode == 0 and status.stdout.splitlines()[-1] == "4 done", status.stdout
    for name in (c["name"] for c in cells.values()):
        ours = json.loads((runs / name / "results.json").read_text())
        reference = json.loads((tmp_path / "local" / name / "results.json").read_text())
        assert _numbers(ours) == _numbers(reference), name


def _submitted_cells(runs: Path) -> dict[str, dict]:
    """The sweep record's four cells by name without the hash; their jobs are named after them."""
    record = _until("the sweep record", lambda: next(iter((runs / "_sweeps").glob("*.json")), None), 120)
    cells = {c["name"].rsplit("-", 1)[0]: c for c in json.loads(record.read_text())["cells"]}
    assert sorted(cells) == [
        "sim_arith-b32-pada-s0",
        "sim_arith-b32-pada-s1",
        "sim_arith-b32-sft-s0",
        "sim_arith-b32-sft-s1",
    ]
    queue = _squeue()
    assert {queue[c["job_id"]][1] for c in cells.values() if c["job_id"] in queue} <= {
        c["name"] for c in cells.values()
    }  # jobs are named after their cells
    return cells


def _cancel_requeue_and_warn(cells: dict[str, dict]) -> None:
    """scancel pada-s0 once it runs; scontrol requeue sft-s0 and send sft-s1 USR2 once their stages began."""

    def started(cell: dict) -> bool:  # the job runs and the cell has begun its stages
        return (
            _squeue().get(cell["job_id"], ("",))[0] == "RUNNING" and (Path(cell["run_dir"]) / "seed").exists()
        )

    requeued, warned, cancelled = (
        cells["sim_arith-b32-sft-s0"],
        cells["sim_arith-b32-sft-s1"],
        cells["sim_arith-b32-pada-s0"],
    )
    _until("pada-s0 running", lambda: _squeue().get(cancelled["job_id"], ("",))[0] == "RUNNING", 300, 0.2)
    subprocess.run(["scancel", cancelled["job_id"]], check=True)
    _until("sft-s0 started", lambda: started(requeued), 300, 0.2)
    subprocess.run(["scontrol", "requeue", requeued["job_id"]], check=True)
    _until("sft-s1 started", lambda: started(warned), 300, 0.2)
    subprocess.run(["scancel", "--signal=USR2", warned["job_id"]], check=True)


def _only_the_cancelled_cell_failed(launcher: subprocess.Popen, runs: Path, cancelled: dict) -> None:
    """The launcher exits 1 with one error line naming the cancelled cell, its job and its log; `pada status`
    shows that cell failed."""
    out, err = launcher.communicate(timeout=900)
    assert launcher.returncode == 1, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("pada: error:")]
    assert len(errors) == 1, err[-3000:]
    assert errors[0].startswith(
        f"pada: error: cell {cancelled['name']} (job {cancelled['job_id']}, CANCELLED"
    )
    assert errors[0].endswith(f"log: {cancelled['stderr']}")

    status = _pada("status", str(runs), timeout=120)
    lines = {line.split()[1]: line.split()[0] for line in status.stdout.splitlines()[1:-1]}
    assert lines[cancelled["name"]] == "failed" and status.returncode == 1, status.stdout
    assert cancelled["stderr"] in status.stdout


def _requeued_cells_restarted_once(cells: dict[str, dict]) -> None:
    """After every job left the queue, the requeued and the warned cell each record one restart of the same
    job, and the cell's log link points at the job's stderr."""
    _until(
        "the requeued jobs to finish", lambda: not set(_squeue()) & {c["job_id"] for c in cells.values()}, 600
    )
    restarts = {}
    for key in ("sim_arith-b32-sft-s0", "sim_arith-b32-sft-s1"):
        job = json.loads((Path(cells[key]["run_dir"]) / "results.json").read_text())["provenance"]["job"]
        assert job["job_id"] == cells[key]["job_id"] and job["job_name"] == cells[key]["name"]
        restarts[key] = job["restarts"]
        assert os.path.realpath(
            Path(cells[key]["run_dir"]) / "logs" / f"{job['job_id']}.err"
        ) == os.path.realpath(cells[key]["stderr"])
    assert restarts == {"sim_arith-b32-sft-s0": 1, "sim_arith-b32-sft-s1": 1}


def test_failed_cell_names_itself_and_its_traceback_is_in_the_job_log(tmp_path):
    """A cell that raises inside its job (training breaks with a TypeError, injected through a sitecustomize
    the job inherits: a bad config value is refused before submission since configs are validated): one error
    line naming the cell, job and log; the traceback in that log; the cell dir links to it; `pada status`
    shows the error line."""
    runs, inject = tmp_path / "runs", tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(BREAK_TRAINING)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(inject), os.environ.get("PYTHONPATH")])),
    }
    proc = _pada(
        "run",
        "-m",
        "experiment=sim",
        "method=sft",
        "seed=0",
        "budget=16",
        "model.pretrain.steps=30",
        *SLURM,
        f"paths.runs_dir={runs}",
        f"paths.cache_dir={tmp_path}/c",
        timeout=600,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    (error,) = [line for line in proc.stderr.splitlines() if line.startswith("pada: error:")]
    assert error.startswith("pada: error: cell sim_arith-b16-sft-s0-") and " failed: TypeError: " in error
    log = Path(error.rsplit("; log: ", 1)[1])
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "TypeError: '<=' not supported" in text
    (cell,) = [p for p in runs.iterdir() if p.name.startswith("sim_arith")]
    assert os.path.realpath(next((cell / "logs").glob("*.err"))) == os.path.realpath(log)
    status = _pada("status", str(runs), timeout=120)
    assert (
        status.returncode == 1
        and "TypeError: '<=' not supported" in status.stdout
        and str(log) in status.stdout
    )


BREAK_TRAINING = """
import os
import sys

if "submitit" in " ".join(sys.argv) or os.environ.get("SLURM_JOB_ID"):  # only inside the cell's job
    import pada.training.train as train

    def fit(*args, **kwargs):
        raise TypeError("'<=' not supported between instances of 'str' and 'float' (injected by the test)")

    train.fit = fit
"""


def test_preflight_and_a_refused_submission_on_the_real_cluster(tmp_path):
    """99 GPUs and 4096 GB per node: preflight names both against sinfo; sbatch's refusal is one line."""
    too_big = [a for a in SLURM if "gpus_per_node" not in a and "mem_gb" not in a]
    too_big += ["hydra.launcher.gpus_per_node=99", "hydra.launcher.mem_gb=4096"]
    pre = _pada("preflight", "experiment=sim", *too_big, timeout=300)
    assert pre.returncode == 1
    assert "launcher asks 99 GPUs per node but partition" in pre.stdout
    assert "launcher asks 4096 GB memory per node but partition" in pre.stdout
    ok = _pada("preflight", "experiment=sim", *SLURM, timeout=300)
    assert ok.returncode == 0, ok.stdout
    run = _pada(
        "run", "-m", "experiment=sim", "method=sft", *too_big, f"paths.runs_dir={tmp_path}", timeout=300
    )
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .startswith("pada: error: sbatch refused cell sim_arith-b128-sft-s0-")
    )
    assert [
        line for line in run.stderr.splitlines() if "error" in line.lower()
    ] == run.stderr.strip().splitlines()[-1:]

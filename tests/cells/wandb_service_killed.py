"""Scenarios that SIGTERM wandb's service process, run only in their own pytest process (test_tracking.py).

wandb's threads outlive the kill and go on logging from inside whatever test runs next in the same process
(on a fresh-clone CI run that crashed pytest's report with INTERNALERROR, CPython 3.11's "AST constructor
recursion depth mismatch"), so these never run in the suite's process: the name is not ``test_*.py``, so
pytest collects this file only when it is named on the command line, as test_tracking.py does.
"""

from __future__ import annotations

import contextlib
import signal
import time

import psutil
from conftest import compose_config

from pada.io import read_json
from pada.run import runner
from pada.tracking import tracking

SIM_CELL = [
    "experiment=sim",
    "method=sft",
    "budget=16",
    "task.val_size=10",
    "task.test_size=10",
    "trainer.epochs=1",
    "model.pretrain.steps=20",
]


def _kill_wandb_service() -> int:
    """SIGTERM every wandb-core child of this process, as SLURM does to every process of a requeued job."""
    children = [p for p in psutil.Process().children(recursive=True) if "wandb" in " ".join(p.cmdline())]
    assert children, "no wandb service process to kill"
    for child in children:
        child.send_signal(signal.SIGTERM)
    psutil.wait_procs(children, timeout=30)
    time.sleep(0.5)  # let the socket notice
    return len(children)


def test_tracker_survives_its_service_being_killed(tmp_path):
    cfg = compose_config(["wandb.mode=offline"]).wandb
    with tracking(cfg, tmp_path, "killed", {"a": 1}) as tracker:
        tracker.log({"x": 1})
        _kill_wandb_service()
        for step in range(3):
            tracker.log({"x": step})  # before the fix: ConnectionResetError / BrokenPipeError
        tracker.summary({"test/accuracy": 0.5})
    assert tracker.error and tracker.error.startswith(("log:", "summary:", "finish:"))


def test_an_import_after_the_service_died_does_not_fail(tmp_path):
    """wandb's import hooks publish to the service: `import lightning` after SLURM's SIGTERM must not raise."""
    import types

    from wandb.sdk.lib import import_hooks, telemetry

    cfg = compose_config(["wandb.mode=offline"]).wandb
    with tracking(cfg, tmp_path, "imports", {}) as tracker:
        _kill_wandb_service()
        for name in sorted(telemetry.list_telemetry_imports()):
            import_hooks.notify_module_loaded(types.ModuleType(name))  # what `import <name>` does
        tracker.log({"x": 1})
    assert tracker.error


def _untimed(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if "seconds" not in k and "per_s" not in k} for row in rows]


def test_sim_cell_finishes_with_the_same_result_when_wandb_dies(tmp_path, monkeypatch):
    """`kill -TERM` of the wandb-core child during a sim cell: same results.json numbers, error recorded."""
    base = [*SIM_CELL, f"paths.cache_dir={tmp_path}/cache"]
    untracked = runner.run_cell(
        compose_config([*base, f"paths.runs_dir={tmp_path}/a", "wandb.mode=disabled"])
    )

    @contextlib.contextmanager
    def killed_after_start(*args):
        with tracking(*args) as tracker:
            _kill_wandb_service()
            yield tracker

    monkeypatch.setattr(runner, "tracking", killed_after_start)
    tracked = runner.run_cell(compose_config([*base, f"paths.runs_dir={tmp_path}/b", "wandb.mode=offline"]))
    assert tracked["metrics"] == untracked["metrics"]
    assert _untimed(tracked["iterations"]) == _untimed(untracked["iterations"])
    on_disk = read_json(tmp_path / "b" / tracked["cell"]["name"] / "results.json")
    assert on_disk["tracking"]["error"].split(":")[0] in ("log", "summary", "finish")
    assert "tracking" not in untracked

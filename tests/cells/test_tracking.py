"""The tracker never fails a cell: wandb's service process killed mid-cell (SLURM's SIGTERM on requeue)."""

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


def test_init_failure_leaves_the_cell_untracked(tmp_path, monkeypatch):
    import wandb

    def refuse(**_):
        raise wandb.errors.CommError("network is unreachable")

    monkeypatch.setattr(wandb, "init", refuse)
    cfg = compose_config(["wandb.mode=online"]).wandb
    with tracking(cfg, tmp_path, "offline-host", {}) as tracker:
        tracker.log({"x": 1})
    assert tracker.error == "init: CommError: network is unreachable"


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


def test_report_table_logging_never_fails(monkeypatch):
    import sys
    import types

    from pada.tracking import log_to_current_run

    class Dead:
        def log(self, _):
            raise ConnectionResetError("Connection lost")

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(run=Dead()))
    log_to_current_run({"x": 1})  # a warning, not an exception


def test_the_wandb_config_carries_what_analysis_groups_by(tmp_path, monkeypatch):
    """The config logged to wandb holds the cell's component versions and data hashes, so `pada analyze
    --wandb-project` groups its cells by the same identity as results.json (analysis/wandb_source.py)."""
    from types import SimpleNamespace

    from analysis.wandb_source import _as_results
    from pada.run.identity import configuration_of
    from pada.tracking import COMPONENTS_KEY, Tracker

    logged = {}

    @contextlib.contextmanager
    def recording(cfg, run_dir, name, config):
        logged.update(config)
        yield Tracker(None)  # a no-op tracker: this test needs no wandb

    monkeypatch.setattr(runner, "tracking", recording)
    results = runner.run_cell(
        compose_config([*SIM_CELL, f"paths.cache_dir={tmp_path}/cache", f"paths.runs_dir={tmp_path}/r"])
    )
    assert logged[COMPONENTS_KEY]["versions"] == results["versions"]
    run = SimpleNamespace(config=logged)
    assert configuration_of(_as_results(run)) == configuration_of(results)


# ---------------------------------------------------------------- names wandb refuses (issue 29.13)
def test_every_cell_name_gives_a_run_id_wandb_accepts(tmp_path):
    """A task named ``qa:v2`` made wandb refuse the run id (Metta-AI/metta#2490): every cell ran untracked."""
    import wandb

    from pada.tracking import run_id

    names = ["qa:v2-b8-sft-s0-0123456789", "a;b,c#d?e/f'g-s0-x", "tâche ünï-b8", "plain-b8-sft-s0-abc"]
    ids = [run_id(tmp_path, name) for name in names]
    for value in ids:
        wandb.Settings(run_id=value)  # wandb's own validator: raises UsageError on a refused id
    assert len(set(ids)) == len(ids)
    assert run_id(tmp_path, "qa:v2") != run_id(tmp_path, "qa-v2")  # sanitised names stay apart
    assert ids[3].startswith("plain-b8-sft-s0-abc-")  # a valid name keeps its id (resumed runs continue)


def test_a_cell_of_a_task_named_with_a_colon_is_tracked(tmp_path):
    cfg = compose_config(["wandb.mode=offline"]).wandb
    with tracking(cfg, tmp_path, "qa:v2-b8-sft-s0-abc", {"a": 1}) as tracker:
        tracker.log({"x": 1})
        assert tracker.run is not None and tracker.error is None
    assert list(tmp_path.glob("wandb/offline-run-*"))

"""The tracker never fails a cell: wandb's service process killed mid-cell (SLURM's SIGTERM on requeue)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT, compose_config
from wandb_service_killed import SIM_CELL

from pada.run import runner
from pada.tracking import tracking

# The scenarios that SIGTERM wandb's service run in a pytest process of their own: wandb's threads outlive
# the kill and log from inside later tests (a fresh-clone CI run's INTERNALERROR), so none may run here.
KILLED_SERVICE = Path(__file__).with_name("wandb_service_killed.py")
KILLED_SERVICE_SCENARIOS = [
    "test_tracker_survives_its_service_being_killed",
    "test_an_import_after_the_service_died_does_not_fail",
    "test_sim_cell_finishes_with_the_same_result_when_wandb_dies",
]


@pytest.fixture(scope="module")
def killed_service_run(tmp_path_factory) -> tuple[dict[str, str], str]:
    """Run every scenario of wandb_service_killed.py in one child pytest; ``({test name: outcome}, output)``,
    an outcome being ``passed``, ``skipped: ...``, ``failure: ...`` or ``error: ...`` (its JUnit XML report)."""
    folder = tmp_path_factory.mktemp("wandb_service_killed")
    report = folder / "junit.xml"
    command = [sys.executable, "-m", "pytest", "-q", str(KILLED_SERVICE), f"--junitxml={report}"]
    # Without WANDB_SERVICE: a service this process started in an earlier test would be inherited and
    # shared, and the child would find no wandb-core of its own to kill.
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    child = subprocess.run(
        [*command, f"--basetemp={folder / 'tmp'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    output = child.stdout + child.stderr
    assert report.exists(), f"the child pytest wrote no report (exit {child.returncode}):\n{output}"
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        problems = [
            f"{e.tag}: {e.get('message', '')}" for e in case if e.tag in ("failure", "error", "skipped")
        ]
        outcomes[case.get("name")] = "; ".join(problems) or "passed"
    return outcomes, output


@pytest.mark.parametrize("scenario", KILLED_SERVICE_SCENARIOS)
def test_a_killed_wandb_service_in_its_own_process(killed_service_run, scenario):
    outcomes, output = killed_service_run
    assert outcomes.get(scenario) == "passed", f"{scenario}: {outcomes.get(scenario, 'not run')}\n{output}"


def test_the_child_runs_exactly_the_listed_scenarios(killed_service_run):
    outcomes, _ = killed_service_run
    assert sorted(outcomes) == sorted(KILLED_SERVICE_SCENARIOS)  # a scenario added there is run here


def test_init_failure_leaves_the_cell_untracked(tmp_path, monkeypatch):
    import wandb

    def refuse(**_):
        raise wandb.errors.CommError("network is unreachable")

    monkeypatch.setattr(wandb, "init", refuse)
    cfg = compose_config(["wandb.mode=online"]).wandb
    with tracking(cfg, tmp_path, "offline-host", {}) as tracker:
        tracker.log({"x": 1})
    assert tracker.error == "init: CommError: network is unreachable"


def test_report_table_logging_never_fails(monkeypatch):
    import sys
    import types

    from pada.tracking import log_to_current_run

    class Dead:
        def log(self, _):
            raise ConnectionResetError("Connection lost")

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(run=Dead()))
    log_to_current_run({"x": 1})  # a warning, not an exception


def test_the_wandb_config_carries_what_analysis_groups_by(tmp_path, own_cache, monkeypatch):
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
        compose_config([*SIM_CELL, f"paths.cache_dir={own_cache}", f"paths.runs_dir={tmp_path}/r"])
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

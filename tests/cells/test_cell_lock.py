"""One writer per cell: two processes on one cell end with one consistent result, identical to a single run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, compose_config

from pada.io import read_json
from pada.run.runner import run_cell
from pada.run.stages import DONE, Stages, mismatch

TESTS = Path(__file__).resolve().parents[1]


def _probe_overrides(tiny_cell_overrides: list[str]) -> list[str]:
    return [
        *tiny_cell_overrides,
        "method=base",
        "method.name=peer_probe",
        "method._target_=peer_probe_method.PeerProbe",
        "method.loop.iterations=1",
        "method.train=true",
        "trainer.max_steps=2",
    ]


def _comparable(results: dict) -> dict:
    """What a cell computed: everything but timings, cache flags and the per-run provenance."""
    iterations = [
        {k: v for k, v in row.items() if k not in ("train_seconds", "tokens_per_s", "mfu")}
        for row in results["iterations"]
    ]
    return {"metrics": results["metrics"], "data": results["data"], "iterations": iterations}


def _stage_dirs_match_markers(cell: Path) -> None:
    for marker in cell.glob(f"*/{DONE}"):
        assert mismatch(marker.parent, read_json(marker)["files"]) is None, marker.parent.name
    assert not list(cell.glob(".*.partial*")), "a finished cell keeps no temporary stage dir"


@pytest.mark.slow  # two `pada run` processes plus a single run: about a minute on 2 busy cores
def test_two_processes_on_one_cell_give_the_single_run_result(tiny_cell_overrides, tmp_path, monkeypatch):
    overrides = _probe_overrides(tiny_cell_overrides)
    (tmp_path / "alone").mkdir()
    monkeypatch.setenv("PADA_TEST_PEERS", str(tmp_path / "alone"))  # the single run waits for no one
    single = run_cell(compose_config([*overrides, f"paths.runs_dir={tmp_path / 'single'}"]))
    peers = tmp_path / "peers"
    peers.mkdir()
    env = {**os.environ, "PADA_TEST_PEERS": str(peers), "PYTHONPATH": str(TESTS)}
    command = [sys.executable, "-m", "pada.cli", "run", *overrides]
    procs = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    (cell,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("_")]
    results = read_json(cell / "results.json")
    assert _comparable(results) == _comparable(single)
    assert results["data"]["synthetic"] == 2
    _stage_dirs_match_markers(cell)


def test_a_stage_whose_files_do_not_match_its_marker_runs_again(tmp_path):
    calls = []

    def work(out: Path) -> dict:
        calls.append(out)
        (out / "a.jsonl").write_text("1\n")
        (out / "b.jsonl").write_text("2\n")
        return {"n": 2}

    assert not Stages(tmp_path).run("s", {"x": 1}, work).cached
    assert Stages(tmp_path).run("s", {"x": 1}, work).cached
    (tmp_path / "s" / "b.jsonl").unlink()  # what a second writer's rename used to leave behind
    again = Stages(tmp_path).run("s", {"x": 1}, work)
    assert not again.cached and len(calls) == 2 and (tmp_path / "s" / "b.jsonl").is_file()
    (tmp_path / "s" / "a.jsonl").write_text("3\n")  # same size, other content
    assert not Stages(tmp_path).run("s", {"x": 1}, work).cached and len(calls) == 3


def test_result_files_honour_the_umask(tiny_cell_overrides, tmp_path):
    old = os.umask(0o022)
    try:
        run_cell(compose_config(tiny_cell_overrides))
    finally:
        os.umask(old)
    (cell,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("_")]
    assert (cell / "results.json").stat().st_mode & 0o777 == 0o644
    assert (cell / "test" / "test.jsonl").stat().st_mode & 0o777 == 0o644
    assert (cell / "test").stat().st_mode & 0o777 == 0o755


def test_a_second_process_gives_up_after_the_lock_timeout_with_one_line(tmp_path):
    from filelock import FileLock

    from pada.errors import PadaError
    from pada.run.stages import LOCK, cell_lock

    with cell_lock(tmp_path):  # writes the owner file, as the first process would
        pass
    holder = FileLock(tmp_path / LOCK)
    with holder, pytest.raises(PadaError) as error, cell_lock(tmp_path, timeout=0.2):
        pass
    message = str(error.value)
    assert "\n" not in message and f"pid {os.getpid()}" in message and "run.lock_timeout" in message
    with cell_lock(tmp_path, timeout=0.2):  # released: the next process gets it at once
        pass

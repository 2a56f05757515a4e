"""Where a run's bookkeeping goes: Hydra's output dir per run, one wandb run per cell across resumes."""

from __future__ import annotations

import datetime as real_datetime

import hydra.core.utils
import pytest
from conftest import compose_config

from pada.cli import main
from pada.io import read_json
from pada.run.runner import run_cell
from pada.run.stages import StopRequested


class _FrozenClock(real_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2026, 1, 2, 3, 4, 5)


def test_two_runs_started_in_the_same_second_get_separate_hydra_dirs(
    tiny_cell_overrides, tmp_path, monkeypatch
):
    monkeypatch.setattr(hydra.core.utils, "datetime", _FrozenClock)  # Hydra's ${now:} resolver
    for seed in (0, 1):  # two cells, so neither is a cached re-run of the other
        with _no_exit():
            main(["run", *tiny_cell_overrides, f"seed={seed}", "run.stop_after=seed"])
    dirs = sorted((tmp_path / "runs" / "_hydra").iterdir())
    assert len(dirs) == 2 and all(d.name.startswith("2026-01-02_03-04-05-") for d in dirs), dirs
    seeds = sorted(int(_override(d, "seed")) for d in dirs)
    assert seeds == [0, 1]  # each dir's config names its own run, not the last writer


def _override(hydra_dir, key: str) -> str:
    overrides = (hydra_dir / ".hydra" / "overrides.yaml").read_text().split("\n")
    (line,) = [o for o in overrides if o.startswith(f"- {key}=")]
    return line.split("=", 1)[1]


class _no_exit:  # noqa: N801  (a context manager that tolerates the Hydra app's normal return)
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is SystemExit and exc[1].code in (0, None)


def test_a_resumed_cell_continues_its_wandb_run(tiny_cell_overrides, tmp_path):
    overrides = [*tiny_cell_overrides, "wandb.mode=offline", "trainer.max_steps=2"]
    with pytest.raises(StopRequested):
        run_cell(compose_config([*overrides, "run.stop_after=train_0"]))
    results = run_cell(compose_config(overrides))
    cell = tmp_path / "runs" / results["cell"]["name"]
    runs = sorted((cell / "wandb").glob("offline-run-*"))
    assert len(runs) == 2  # one per invocation; `wandb sync` appends both to one run
    # The id from each dir's run-<id>.wandb file: two invocations in one second get dir names that wandb
    # de-duplicates with a "-1" suffix, so the dir name is not the id.
    ids = {next(r.glob("run-*.wandb")).name.removeprefix("run-").removesuffix(".wandb") for r in runs}
    assert len(ids) == 1 and ids.pop().startswith(results["cell"]["name"]), [r.name for r in runs]
    assert read_json(cell / "results.json") == results

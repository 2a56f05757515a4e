"""Hydra's sweep syntax (choice, range, glob, sort, shuffle, comma lists) in `pada run -m` and `pada preflight`
alike: pada's up-front checks read each job's values with Hydra's own override parser (hydra#2919, #393),
never by splitting at commas."""

from __future__ import annotations

import sys

import pytest

import pada.run.app
from pada import cli
from pada.preflight import expand_sweep
from pada.preflight import main as preflight_main

# (override, the values of its key across the jobs, in Hydra's order; None: any order)
FORMS = [
    ("method=sft,auggpt", ["sft", "auggpt"]),
    ("method=choice(sft,auggpt)", ["sft", "auggpt"]),
    ("seed=range(0,3)", ["0", "1", "2"]),
    ("seed=range(1,10,4)", ["1", "5", "9"]),
    ("seed=sort(3,1,2)", ["1", "2", "3"]),
    ("seed=sort(3,1,2,reverse=true)", ["3", "2", "1"]),
    ("seed=shuffle(1,2,3)", None),
    ("method=glob(sft*)", ["sft", "sft_val"]),
    ("method=glob(pada*,exclude=[pada_no_*])", ["pada", "pada_fixed_k"]),
]


@pytest.fixture
def handed_to_hydra(monkeypatch):
    """What `pada run` hands Hydra after its checks (Hydra itself is not started)."""
    seen: list[list[str]] = []
    monkeypatch.setattr(pada.run.app, "hydra_main", lambda: seen.append(sys.argv[1:]))
    return seen


def _values(cells: list[list[str]], key: str) -> list[str]:
    return [o.partition("=")[2] for cell in cells for o in cell if o.startswith(f"{key}=")]


@pytest.mark.parametrize(("override", "values"), FORMS)
def test_preflight_expands_every_sweep_form(override, values):
    key = override.partition("=")[0]
    got = _values(expand_sweep(["experiment=smoke_gsm8k", override]), key)
    assert got == values if values else sorted(got) == ["1", "2", "3"]


@pytest.mark.parametrize(("override", "values"), FORMS)
def test_run_m_accepts_every_sweep_form(override, values, handed_to_hydra, tmp_path, capsys):
    argv = ["-m", "experiment=smoke_gsm8k", override, f"paths.runs_dir={tmp_path}"]
    assert cli.main(["run", *argv]) == 0, capsys.readouterr().err
    assert handed_to_hydra == [argv]  # Hydra's basic sweeper expands it as preflight did


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("method=choice(sft,nope)", "unknown method 'nope'"),
        ("method=sft,nope", "unknown method 'nope'"),
        ("method=glob(nope*)", "method=glob(nope*) matches no method"),
        ("seed=interval(0,1)", "seed=interval(0,1): Hydra's basic sweeper runs discrete sweeps only"),
        ("seed=range(0,2", "cannot parse the override 'seed=range(0,2'"),
    ],
)
def test_a_bad_sweep_is_one_line_in_run_and_preflight(override, message, handed_to_hydra, tmp_path, capsys):
    assert cli.main(["run", "-m", "experiment=smoke_gsm8k", override, f"paths.runs_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and message in err
    assert cli.main(["preflight", "experiment=smoke_gsm8k", override]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and message in err
    assert handed_to_hydra == []


def test_a_sweep_without_m_says_to_add_it(handed_to_hydra, tmp_path, capsys):
    assert cli.main(["run", "experiment=smoke_gsm8k", "seed=range(0,2)", f"paths.runs_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "pada: error: seed=range(0,2) is a sweep: add -m (--multirun) to run every job of it"
    assert handed_to_hydra == []


def test_preflight_counts_the_jobs_of_a_sweep_function(capsys):
    assert preflight_main(["experiment=demo", "seed=range(0,2)", "method=choice(sft,auggpt)"]) == 0
    assert "jobs=4," in capsys.readouterr().out

"""Adding a method as a new user would (issue 20's traps): the toy method that duplicates every seed is one
module (this one, via method.module) and config overrides; it runs through the runner and appears in
``pada analyze``'s Table 2. An unregistered name says how to register; a method YAML without
``iterations`` and an augmenting method with 0 iterations are errors before any stage, not silent no-ops."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import compose_config
from omegaconf import OmegaConf

from analysis.tables import other_methods
from pada.cli import main
from pada.errors import PadaError
from pada.io import read_jsonl
from pada.methods.base import IterationState, Method, build_method, register_method
from pada.run.loop import check_augments, loop_config
from pada.run.runner import run_cell
from pada.types import Example


@register_method("dup_seeds")
class DuplicateSeeds(Method):
    """The toy method: every seed example once more, as a new training item."""

    name = "dup_seeds"
    augments = True  # without a teacher, say so: iterations 0 is then an error

    def propose(self, state: IterationState) -> list[Example]:
        return [
            replace(e, id=f"{e.id}/dup{state.iteration}", source="synthetic:dup_seeds")
            for e in state.seed_data
        ]


TOY = ["method=sft", "method.name=dup_seeds", "+method.module=test_extending"]


def test_the_toy_method_runs_and_appears_in_the_table(tiny_cell_overrides, tmp_path, capsys):
    cfg = compose_config([*tiny_cell_overrides, *TOY, "method.loop.iterations=1"])
    results = run_cell(cfg)
    run_dir = Path(cfg.paths.runs_dir) / results["cell"]["name"]
    new = read_jsonl(run_dir / "augment_0" / "new.jsonl")
    data = results["data"]
    assert data["proposed_per_iteration"] == [16] and results["versions"]["method"] == "unversioned"
    # the fixture's templated questions overlap held-out ones: the runner's decontamination drops those
    assert len(new) == data["synthetic"] == 16 - sum(data["rejected"].values()) > 0
    capsys.readouterr()
    assert main(["analyze", str(cfg.paths.runs_dir), "--out", str(tmp_path / "a"), "--resamples", "500"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("dup_seeds") or "| dup_seeds" in line)
    assert "%" in row or "." in row, table  # a number, not an empty row


def test_other_methods_are_rows_never_dropped():
    found = {"sft", "pada", "pada_no_qc", "dup_seeds", "mine [trainer.max_steps=5]", "sft_val"}
    assert other_methods(found) == ["dup_seeds", "mine"]


def test_an_unregistered_method_says_how_to_register():
    with pytest.raises(
        PadaError, match=r"unknown method 'dup_sedes'.*@register_method\('dup_sedes'\).*module:"
    ):
        build_method(OmegaConf.create({"name": "dup_sedes", "iterations": 1}))
    with pytest.raises(PadaError, match=r"method.module='no_such_module' cannot be imported"):
        build_method(OmegaConf.create({"name": "dup_seeds", "module": "no_such_module", "iterations": 1}))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([*TOY, "~method.loop.iterations"], "method dup_seeds: set loop.iterations in its YAML"),
        ([*TOY, "method.loop.iterations=0"], "method dup_seeds augments .* but method.loop.iterations=0"),
        (["method=pada"], "method pada augments .* but method.loop.iterations=0"),
    ],
)
def test_a_loop_that_never_runs_is_an_error_before_any_stage(
    overrides, message, tiny_cell_overrides, tmp_path
):
    if overrides == ["method=pada"]:
        overrides = [
            "method=pada",
            "method.loop.iterations=0",
            "method.patterns.embedder=bundled:all-MiniLM-L6-v2",
            "teacher=scripted",
            "teacher.model=agent_test",
            "teacher.script_module=agent_support",
        ]
    cfg = compose_config([*tiny_cell_overrides, *overrides])
    with pytest.raises(PadaError, match=message):
        run_cell(cfg)
    assert not any(Path(cfg.paths.runs_dir).glob("*/seed"))  # nothing ran


def test_sft_and_base_run_zero_iterations():
    for name in ("sft", "base"):
        cfg = compose_config([f"method={name}"]).method
        check_augments(build_method(cfg), loop_config(cfg))

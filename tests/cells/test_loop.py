"""The loop settings live in one node, ``method.loop``, with defaults declared once (pada/run/loop.py).

A misspelt or moved loop key used to pass silently (``+method.iteratons=3`` composed and the cell ran the
YAML's 3 rounds); now each is one ``pada: error:`` line naming the key to write."""

from __future__ import annotations

import re

import pytest
from conftest import compose_config
from omegaconf import OmegaConf

from pada.cli import main
from pada.errors import PadaError
from pada.run.loop import LoopConfig, loop_config, loop_override
from pada.run.naming import identity


def test_every_method_yaml_sets_iterations_and_gets_the_declared_defaults():
    assert loop_config(compose_config(["method=pada"]).method) == LoopConfig(3, "last", None)
    assert loop_config(compose_config(["method=llm2llm"]).method).iterations == 9
    assert loop_config(compose_config(["method=sft"]).method).iterations == 0


@pytest.mark.parametrize(
    ("method", "message"),
    [
        (
            {"name": "x", "loop": {"iteratons": 3}},
            "'method.loop.iteratons'; did you mean 'method.loop.iterations'",
        ),
        ({"name": "x", "loop": {"iterations": 3, "selct": "last"}}, "did you mean 'method.loop.select'"),
        ({"name": "x", "iterations": 3}, "method.iterations moved to method.loop.iterations"),
        (
            {"name": "x", "loop": {"iterations": 3}, "select": "best_val"},
            "method.select moved to method.loop",
        ),
        ({"name": "x", "early_stop_patience": 2}, "method.early_stop_patience moved to method.loop"),
        ({"name": "x"}, "method x: set loop.iterations in its YAML"),
        ({"name": "x", "loop": {"iterations": -1}}, "method.loop.iterations=-1 must be an integer >= 0"),
        ({"name": "x", "loop": {"iterations": 1, "select": "best"}}, "select='best'; choose one of: last"),
        ({"name": "x", "loop": {"iterations": 1, "early_stop_patience": 0}}, "early_stop_patience=0 must be"),
    ],
)
def test_a_bad_loop_node_is_one_error_naming_the_key(method, message):
    with pytest.raises(PadaError, match=re.escape(message)):
        loop_config(OmegaConf.create(method))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("method.iterations=2", "method.iterations moved to method.loop.iterations"),
        ("+method.select=best_val", "method.select moved to method.loop.select"),
        (
            "method.loop.iteratons=2",
            "unknown config key 'method.loop.iteratons'; did you mean 'method.loop.iterations'",
        ),
    ],
)
def test_an_old_or_misspelt_loop_override_is_one_error_line(override, message, capsys, tmp_path):
    assert main(["run", "method=pada", override, f"paths.runs_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pada: error: ") and message in err[0], err
    assert not any(tmp_path.iterdir())  # nothing ran


def test_best_val_without_validation_scores_fails_before_any_stage():
    from pada.run.loop import cell_loop

    cfg = compose_config(["method=pada", "++method.loop.select=best_val", "run.eval_val=false"])
    with pytest.raises(PadaError, match="best_val needs run.eval_val=true"):
        cell_loop(cfg)


def test_a_default_is_overridden_without_a_plus_and_writing_it_out_is_the_same_cell():
    assert loop_override("method.loop.select=best_val") == "++method.loop.select=best_val"
    assert loop_override("method.loop.iterations=2") == "++method.loop.iterations=2"
    assert loop_override("trainer.lr=0.1") == "trainer.lr=0.1"
    chosen = compose_config(["method=pada", loop_override("method.loop.select=best_val")])
    assert loop_config(chosen.method).select == "best_val"
    written = compose_config(["method=pada", loop_override("method.loop.select=last")])
    assert identity(written) == identity(compose_config(["method=pada"]))
    assert identity(chosen) != identity(compose_config(["method=pada"]))

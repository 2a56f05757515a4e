"""Runner options the pada method uses: final checkpoint selection and early stop; the wandb patterns table."""

from __future__ import annotations

import sys
import types

import pytest
from agent_support import empty_correction

from pada.agent.report import TABLE_COLUMNS, write_report
from pada.errors import PadaError
from pada.io import read_json
from pada.run.loop import selected as _select
from pada.run.loop import stalled as _stalled


def _rows(*scores):
    return [{"iteration": i, "val_accuracy": s} for i, s in enumerate(scores)]


def test_select_last_or_best_on_validation():
    assert _select(_rows(0.2, 0.5, 0.4), "last") == 2
    assert _select(_rows(0.2, 0.5, 0.4), "best_val") == 1
    assert _select(_rows(0.5, 0.3, 0.5), "best_val") == 0  # ties go to the earlier (cheaper) checkpoint
    with pytest.raises(PadaError, match="run.eval_val=true"):
        _select(_rows(None, None), "best_val")


def test_early_stop_after_patience_iterations_without_gain():
    assert not _stalled(_rows(0.2, 0.3), 1)
    assert _stalled(_rows(0.2, 0.3, 0.3), 1)
    assert not _stalled(_rows(0.2, 0.3, 0.25), 2) and _stalled(_rows(0.3, 0.2, 0.25), 2)
    assert not _stalled(_rows(0.5, 0.1, 0.1), None)  # no patience: never stop early


def test_report_is_logged_as_a_wandb_table_when_a_run_is_open(tmp_path, monkeypatch):
    logged = {}
    fake = types.SimpleNamespace(
        Table=lambda columns, data: (columns, data), run=types.SimpleNamespace(log=logged.update)
    )
    monkeypatch.setitem(sys.modules, "wandb", fake)
    row = {
        "name": "carrying",
        "size": 3,
        "item_ids": ["v/1"],
        "representative_ids": ["v/1"],
        "description": "d",
        "strategy": "s",
        "requested": 4,
        "generated": 4,
        "accepted": 2,
        "rejected": {"format": 2},
    }
    report = {
        "iteration": 1,
        "failures": {"val": 3, "analysed": 3, "train": 0},
        "grouping": {"how": "single", "k": 1, "chosen_by": None},
        "patterns": [row],
        "error_correction": empty_correction(),
        "accepted": 2,
    }
    write_report(tmp_path, report)
    assert logged == {
        "pada/patterns_1": (
            TABLE_COLUMNS,
            [[1, "carrying", 3, 4, 4, 2, "format=2", "s"], [1, "error_correction", None, 0, 0, 0, "", ""]],
        )
    }
    assert read_json(tmp_path / "patterns.json") == report
    assert "| carrying | 3 | 4 | 2 | format 2 |" in (tmp_path / "patterns.md").read_text()

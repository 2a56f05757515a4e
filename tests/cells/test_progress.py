"""Progress: a line per finished cell of a -m sweep (k/N, cell, result, elapsed, ETA); bars only when asked."""

from __future__ import annotations

import re

import pytest
from omegaconf import OmegaConf

from pada import progress
from pada.cli import main
from pada.errors import PadaError
from pada.models.tiny import build_tiny_model

BASIC = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def test_count_cells_expands_params_and_the_command_line_the_way_the_sweeper_does():
    config = OmegaConf.create(
        {
            "hydra": {
                "sweeper": {"_target_": BASIC, "params": {"method": "a,b,c", "seed": "0,1"}},
                "overrides": {"task": ["seed=0,1,2,3", "budget=8"]},  # the command line wins over params
            }
        }
    )
    assert progress.count_cells(config) == 12
    config.hydra.sweeper._target_ = "hydra_plugins.optuna.OptunaSweeper"
    assert progress.count_cells(config) is None  # another sweeper: no guess


def test_cell_line_has_place_result_elapsed_and_eta():
    line = progress.cell_line(4, 15, "sim-b8-pada-s0-abc", "test accuracy 41.0%", 27.2, 120.0)
    assert line == "[4/15] sim-b8-pada-s0-abc test accuracy 41.0% in 27s · elapsed 2m00s · ETA 5m30s"
    assert progress.cell_line(15, 15, "c", "ok", 1, 3725).endswith("elapsed 1h02m")  # done: no ETA
    assert progress.cell_line(2, None, "c", "ok", 1, 10).startswith("[2/?] c ok")


def test_the_eta_leaves_out_one_time_setup():
    """Issue 31: a 14-min pre-training in the first of 15 cells predicted 3h55m for a 16-min sweep."""
    first = progress.cell_line(1, 15, "c", "ok", 860, 860, setup=830)
    assert first.endswith("ETA 7m00s")  # (860 - 830) s per cell x 14 cells
    assert progress.cell_line(1, 15, "c", "ok", 860, 860).endswith("ETA 3h20m")  # the old estimate


def test_pretraining_logs_progress_lines_without_a_bar_and_records_its_time(tmp_path, caplog):
    cfg = OmegaConf.load("conf/model/tiny.yaml")
    cfg.pretrain = {"corpus": "pada.sim.world:pretraining_corpus", "steps": 20, "batch_size": 2}
    cfg.pretrain.update({"lr": 1e-3, "seed": 0})
    progress._finished.clear()
    with caplog.at_level("INFO", logger="pada"):
        build_tiny_model(tmp_path / "m", cfg)  # pytest's stderr is not a terminal: no bar, lines instead
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("pre-train student: ")]
    assert [line.split(" · ")[0] for line in lines] == [
        f"pre-train student: {10 * k}% ({2 * k}/20 steps)" for k in range(1, 10)
    ]
    assert all(" · elapsed " in line and " · ETA " in line for line in lines)
    assert progress._finished.pop("setup") > 0  # the sweep's next cell line leaves it out of the ETA


def test_sweep_logs_one_line_per_cell_and_no_launcher_lines(capsys, tiny_cell_overrides, tmp_path):
    assert main(["run", "-m", *tiny_cell_overrides, "seed=0,1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    cells = [line for line in lines if re.search(r"\[\d/2\] gsm8k-b16-sft-s\d-\w+ test accuracy", line)]
    assert len(cells) == 2 and "ETA" in cells[0] and "ETA" not in cells[1], lines
    run_dirs = sorted(p.name for p in (tmp_path / "runs").glob("gsm8k-b16-sft-s*"))  # the names are the dirs
    assert len(run_dirs) == 2 and all(any(f" {d} " in line for line in cells) for d in run_dirs), (
        run_dirs,
        cells,
    )
    assert any("sweep of 2 cells" in line for line in lines)
    assert any(re.fullmatch(r"\[\d\d:\d\d:\d\d\] sweep done: 2 cells in \d+s", line) for line in lines), lines
    assert not [line for line in lines if re.search(r"#\d+ : |^results: ", line)], lines


def test_bars_follow_run_progress(tmp_path, capsys, caplog):
    """The cold pre-training of the SIMULATION student draws a bar when bars are on, and none when off."""
    caplog.set_level("INFO", logger="pada")
    cfg = OmegaConf.load("conf/model/tiny.yaml")
    cfg.pretrain = {
        "corpus": "pada.sim.world:pretraining_corpus",
        "steps": 3,
        "batch_size": 2,
        "lr": 1e-3,
        "seed": 0,
    }
    try:
        progress.configure(True)
        build_tiny_model(tmp_path / "on", cfg)
        assert "pre-train student:" in capsys.readouterr().err and "steps) · elapsed" not in caplog.text
        progress.configure("auto")  # pytest's stderr is not a terminal: no bar (progress lines instead)
        build_tiny_model(tmp_path / "auto", cfg)
        assert not re.search(r"pre-train student:\s+\d+%\|", capsys.readouterr().err)
        assert "(3/3 steps) · elapsed" in caplog.text
    finally:
        progress.configure("auto")
    with pytest.raises(PadaError, match="run.progress='sometimes' is not one of auto, true, false"):
        progress.configure("sometimes")


def test_teacher_bar_counts_calls_and_cache_hits(tmp_path, monkeypatch):
    import io

    import teacher_support  # noqa: F401 - registers the test scripts
    from teacher_support import teacher_cfg
    from tqdm import tqdm

    from pada.teacher import Request, Teacher

    bars = []

    def spy(iterable=None, *, total=None, desc, unit="it", force=False):
        bars.append(tqdm(iterable, total=total, desc=desc, unit=unit, file=io.StringIO(), mininterval=0))
        return bars[-1]

    monkeypatch.setattr(progress, "bar", spy)
    cfg = teacher_cfg("scripted", tmp_path, model="test_counter")
    requests = [Request("generation", [{"role": "user", "content": "2+2?"}], i) for i in range(3)]
    for _ in range(2):  # the second time every answer comes from the cache
        with Teacher(cfg, cfg.client.cache.path) as teacher:
            teacher.complete_many(requests)
    assert [(b.desc, b.n, b.total) for b in bars] == [("teacher generation", 3, 3)] * 2
    assert [b.postfix for b in bars] == ["cached=0, failed=0", "cached=3, failed=0"]

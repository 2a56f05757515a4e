"""Bad input: one clear line on stderr, exit status 2, nothing marked done."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pada.cli import main
from pada.run.stages import DONE


def _run_cli(capsys, args: list[str]) -> tuple[int, str]:
    try:
        code = main(["run", *args])
    except SystemExit as exit_:  # raised from inside the Hydra app
        code = exit_.code
    return code, capsys.readouterr().err.strip()


def _nothing_done(runs) -> bool:
    return not runs.exists() or not list(runs.rglob(DONE))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("task=gsm9k", "pada: error: unknown task 'gsm9k'; choose one of: "),
        ("method=pada_typo", "pada: error: unknown method 'pada_typo'; choose one of: "),
        ("model=llama", "pada: error: unknown model 'llama'; choose one of: "),
        ("budget=51", "pada: error: budget=51 is larger than the seed pool (50 items); choose budget<=50"),
        ("paths.data_dir=/nonexistent/data", "pada: error: data dir /nonexistent/data does not exist"),
        (
            "model=llama32_1b_instruct model.path=/no/such/model",
            "pada: error: model dir /no/such/model does not exist",
        ),
        (
            "run.malloc_mmap_threshold_kib=0",
            "pada: error: run.malloc_mmap_threshold_kib=0 is outside 1..32768 (glibc's range)",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tiny_cell_overrides, tmp_path, override, message):
    code, err = _run_cli(capsys, [*tiny_cell_overrides, *override.split()])
    assert code == 2
    assert err.startswith(message) and "\n" not in err, err
    assert _nothing_done(tmp_path / "runs")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "task=mbpp",
            "pada: error: task mbpp executes model-written code; rerun with task.confirm_run_unsafe_code",
        ),
        (
            "task=humaneval allow_code_execution=true method=pada teacher=sim_oracle method.patterns.embedder=bundled:all-MiniLM-L6-v2",
            "pada: error: task 'humaneval' is evaluation-only: it cannot take generated training items",
        ),
    ],
)
def test_a_task_method_pair_that_would_fail_mid_run_fails_first(capsys, tmp_path, override, message):
    code, err = _run_cli(
        capsys,
        [
            f"paths.runs_dir={tmp_path / 'runs'}",
            f"paths.data_dir={tmp_path}",
            "wandb.mode=disabled",
            *override.split(),
        ],
    )
    assert code == 2 and err.startswith(message) and "\n" not in err, err
    assert _nothing_done(tmp_path / "runs")  # checked before any data is read or stage runs


def test_model_dir_without_config_is_rejected(capsys, tiny_cell_overrides, tmp_path):
    empty = tmp_path / "empty_model"
    empty.mkdir()
    code, err = _run_cli(capsys, [*tiny_cell_overrides, "model=llama32_1b_instruct", f"model.path={empty}"])
    assert (
        code == 2
        and err
        == f"pada: error: model dir {empty} has no config.json; set model.path to a saved HF model dir"
    )


def test_missing_task_files_name_the_fix(capsys, tiny_cell_overrides, tmp_path):
    code, err = _run_cli(capsys, [*tiny_cell_overrides, f"paths.data_dir={tmp_path}"])
    assert (
        code == 2 and "GSM8K files ['train.jsonl', 'test.jsonl'] not found" in err and "PADA_DATA_DIR" in err
    )


def test_real_process_exit_status(tmp_path):
    """The installed entry point, in its own process, exits 2 with a single stderr line."""
    proc = subprocess.run(
        [sys.executable, "-m", "pada.cli", "run", "task=nope", f"paths.runs_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "unknown task 'nope'" in proc.stderr

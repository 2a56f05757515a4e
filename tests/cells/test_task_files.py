"""A task YAML outside conf/task (``task=/path/to/my_task.yaml``): ``pada run`` end to end and in a -m sweep,
``pada preflight``, ``pada data check`` and ``pada analyze``; a bad path is one line and exit 2 in all three."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf
from test_tasks_user import numeric_task, write_yaml
from test_tasks_user_run import CELL

from pada.cli import main
from pada.io import read_json
from pada.run.stages import DONE
from pada.tasks.user import UserTask


@pytest.fixture(autouse=True)
def _forget_registered_tasks():
    """Each test registers its own files: a stale ConfigStore entry must not make a test pass."""
    yield
    ConfigStore.instance().repo.get("task", {}).pop("my_apples.yaml", None)


def _user_task(tmp_path: Path, **extra) -> tuple[Path, Path]:
    """The user's repo (YAML) and data folder, both outside the project; the YAML names its data absolutely."""
    data = tmp_path / "data"
    cfg = numeric_task(data, **extra)
    cfg["local_subdir"] = str(data / "mine")
    repo = tmp_path / "my_repo"
    repo.mkdir()
    return write_yaml(repo, cfg), data


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # raised from inside the Hydra app
        return exit_.code


def test_pada_run_task_path_end_to_end_and_in_analyze(tmp_path, model_cache, capsys):
    path, data = _user_task(tmp_path)
    runs = tmp_path / "runs"
    overrides = [
        *CELL,
        f"task={path}",
        f"paths.runs_dir={runs}",
        f"paths.data_dir={data}",
        f"paths.cache_dir={model_cache}",
        "teacher.model=agent_test",
        "teacher.script_module=agent_support",
    ]
    assert _run(["run", *overrides]) == 0
    (results,) = [read_json(p) for p in runs.glob("my_apples-b8-pada-s0-*/results.json")]
    assert results["data"]["synthetic"] > 0 and results["versions"]["task"] == UserTask.version
    capsys.readouterr()
    assert main(["analyze", str(runs), "--out", str(tmp_path / "analysis"), "--resamples", "200"]) == 0
    table = capsys.readouterr().out
    assert "my_apples b8" in table and "PaDA-Agent" in table


def test_a_sweep_mixes_a_task_path_and_a_shipped_task(tmp_path, tiny_cell_overrides, capsys):
    path, _ = _user_task(
        tmp_path, files={"train": "train.jsonl", "val": None}, val_size=4
    )  # task.val_size=10
    argv = ["run", "-m", *tiny_cell_overrides, f"task={path},gsm8k", "run.stop_after=seed"]
    assert _run(argv) == 0, capsys.readouterr().err
    runs = tmp_path / "runs"
    assert sorted(p.parent.parent.name.split("-")[0] for p in runs.glob("*/seed/" + DONE)) == [
        "gsm8k",
        "my_apples",
    ]


def test_preflight_and_data_check_take_the_same_path(tmp_path, capsys, monkeypatch):
    path, data = _user_task(tmp_path)
    code = main(["preflight", f"task={path}", "method=pada", "budget=8", f"paths.data_dir={data}"])
    out = capsys.readouterr().out
    assert code in (0, 1) and "pada on my_apples budget=8" in out, out  # 1: this host may lack a teacher key
    assert "unknown task" not in out and "data" not in out.partition("problem(s)")[2].lower()
    assert main(["data", "check", str(path), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "my_apples: pool 32, val 6, test 8" in out and "gold outputs scored correct: 46/46" in out
    monkeypatch.delenv("PADA_DATA_DIR", raising=False)  # the YAML's absolute local_subdir needs no data dir
    assert main(["data", "check", str(path)]) == 0, capsys.readouterr().err
    assert main(["data", "check", f"task={path}"]) == 0, capsys.readouterr().err  # as `pada run task=...`


def _bad_files(tmp_path: Path) -> dict[str, tuple[str, str]]:
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    (tmp_path / "gsm8k.yaml").write_text("name: mine\n")
    (tmp_path / "notes.txt").write_text("name: mine\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    return {
        "missing": (f"{tmp_path}/nope.yaml", f"task file {tmp_path}/nope.yaml does not exist"),
        "not yaml": (f"{tmp_path}/notes.txt", "is not a YAML file"),
        "shipped name": (
            f"{tmp_path}/gsm8k.yaml",
            "has the name of the shipped task 'gsm8k'; rename the file",
        ),
        "bad yaml": (f"{tmp_path}/broken.yaml", "is not valid YAML"),
        "not a mapping": (f"{tmp_path}/list.yaml", "does not hold a mapping"),
    }


@pytest.mark.parametrize("case", ["missing", "not yaml", "shipped name", "bad yaml", "not a mapping"])
@pytest.mark.parametrize("command", ["run", "preflight", "data check"])
def test_a_bad_task_path_is_one_line_and_exit_2(tmp_path, capsys, command, case):
    value, message = _bad_files(tmp_path)[case]
    runs = tmp_path / "runs"
    argv = {
        "run": ["run", f"task={value}", f"paths.runs_dir={runs}"],
        "preflight": ["preflight", f"task={value}"],
        "data check": ["data", "check", value],
    }[command]
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pada: error: ") and message in err and err.count("\n") == 1, err
    assert not runs.exists()


@pytest.mark.slow  # a submitit subprocess per cell: ~30 s on a shared 2-core host
def test_a_task_path_reaches_submitit_workers(tmp_path, tiny_cell_overrides):
    """submitit's workers are other processes: they see the task only through the ConfigStore the launcher
    pickles with Hydra's singleton state (what SLURM jobs get too)."""
    import subprocess
    import sys

    path, _ = _user_task(tmp_path, files={"train": "train.jsonl", "val": None}, val_size=4)
    overrides = [*tiny_cell_overrides, f"task={path}", "run.stop_after=seed", "launcher=submitit_local"]
    overrides += [f"hydra.sweep.dir={tmp_path}/sweep", "hydra.launcher.timeout_min=10"]
    proc = subprocess.run(
        [sys.executable, "-m", "pada.cli", "run", "-m", *overrides],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.parent.parent.name.split("-")[0] for p in (tmp_path / "runs").glob("*/seed/" + DONE)] == [
        "my_apples"
    ]
    assert list((tmp_path / "sweep").rglob("*_submitted.pkl"))  # submitit really launched the job


def test_a_task_file_extending_a_shipped_task_composes_alike_in_run_and_data_check(tmp_path, capsys):
    """A user's YAML may extend a shipped task through Hydra's defaults list (pure YAML, as ablations do):
    `pada data check` sees the same composed task as `pada run`, not the raw file."""
    child = tmp_path / "my_sim.yaml"
    child.write_text("defaults:\n  - sim_arith\n  - _self_\nname: my_sim\nval_size: 7\n")
    assert _run(["run", f"task={child}", "--cfg", "job"]) == 0
    shown = capsys.readouterr().out
    assert "name: my_sim" in shown and "val_size: 7" in shown and "pool_size: 4000" in shown
    assert main(["data", "check", str(child)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith("my_sim: pool 4000, val 7, test 500")


# ---------------------------------------------------------------- the documented YAML, as documented (issue 29.11)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "tasks.md"  # tests/cells/ -> the repository


def docs_task_yaml() -> dict:
    """The own-task YAML block of docs/tasks.md, exactly as a user copies it."""
    import re

    import yaml

    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    (block,) = [b for b in blocks if "_target_: pada.tasks.user.UserTask" in b]
    return yaml.safe_load(block)


def _docs_task(tmp_path: Path, drop: tuple[str, ...] = (), **changes) -> tuple[Path, Path]:
    """The documented YAML with only its data made this test's (the apples rows, in the user's field names)."""
    data = tmp_path / "data"
    numeric_task(data)  # writes mine/train.jsonl and mine/val.jsonl
    cfg = docs_task_yaml()
    cfg.update(
        name="my_apples",
        local_subdir=str(data / "mine"),
        files={**cfg["files"], "train": "train.jsonl", "val": "val.jsonl", "test": None},
        fields={**cfg["fields"], "id": "uid", "question": "problem", "answer": "result"},
        test_size=8,
    )
    cfg.update(changes)
    for key in drop:
        node, _, leaf = key.rpartition(".")
        (cfg[node] if node else cfg).pop(leaf)
    repo = tmp_path / "my_repo"
    repo.mkdir(exist_ok=True)
    path = repo / "my_apples.yaml"
    OmegaConf.save(OmegaConf.create(cfg), path)
    return path, data


def test_the_documented_task_yaml_runs_with_only_its_documented_keys(tmp_path, model_cache, capsys):
    """No limits, max_new_tokens, stop, ...: each optional key takes its documented default (before: a raw
    "Key 'limits' is not in struct", then a crash at max_new_tokens after train_0)."""
    path, data = _docs_task(tmp_path)
    assert "limits" not in docs_task_yaml() and "max_new_tokens" not in docs_task_yaml()
    runs = tmp_path / "runs"
    overrides = [
        f"task={path}",
        "method=sft",
        "budget=8",
        "trainer.max_steps=2",
        "eval.max_new_tokens=4",
        "wandb.mode=disabled",
        f"paths.runs_dir={runs}",
        f"paths.data_dir={data}",
        f"paths.cache_dir={model_cache}",
    ]
    assert _run(["run", *overrides]) == 0, capsys.readouterr().err
    (results,) = [read_json(p) for p in runs.glob("my_apples-b8-sft-s0-*/results.json")]
    assert results["metrics"]["test"]["n"] == 8
    task = results["provenance"]["config"]["task"]
    assert (task["limits"], task["max_new_tokens"], task["stop"]) == ({"val": None, "test": None}, 256, [])


REQUIRED = [
    ("name", (), {"name": None}, "task.name"),
    ("scorer", ("scorer",), {}, "scorer=None"),
    ("prompt_template", ("prompt_template",), {}, "task.prompt_template is required"),
    ("files.train", ("files.train",), {}, "task.files.train is required"),
    ("fields.question", ("fields.question",), {}, "task.fields.question must name"),
]


@pytest.mark.parametrize(("key", "drop", "changes", "message"), REQUIRED, ids=[r[0] for r in REQUIRED])
@pytest.mark.parametrize("command", ["run", "preflight", "data check"])
def test_a_required_task_key_left_out_is_one_line_in_every_command(
    tmp_path, capsys, command, key, drop, changes, message
):
    path, data = _docs_task(tmp_path, drop, **changes)
    runs = tmp_path / "runs"
    argv = {
        "run": ["run", f"task={path}", "method=sft", f"paths.runs_dir={runs}", f"paths.data_dir={data}"],
        "preflight": ["preflight", f"task={path}", "model=tiny", "method=sft", f"paths.data_dir={data}"],
        "data check": ["data", "check", str(path), "--data-dir", str(data)],
    }[command]
    code = _run(argv)
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    if command == "preflight":  # preflight lists every problem on stdout and exits 1
        assert code == 1 and message in captured.out, (code, err, captured.out)
    else:
        assert code == 2 and len(err) == 1 and err[0].startswith("pada: error: ") and message in err[0], err
    assert not any(runs.rglob(DONE)) if runs.exists() else True


@pytest.mark.parametrize("gold", ["nan", "inf", "-Infinity"])
def test_a_gold_answer_no_output_can_match_stops_run_as_data_check_does(tmp_path, capsys, gold):
    """``pada data check`` flagged a nan/inf gold while ``pada run`` loaded it (an item nothing scores)."""
    import json

    path, data = _docs_task(tmp_path)
    train = data / "mine" / "train.jsonl"
    lines = train.read_text().splitlines()
    lines.insert(2, json.dumps({"uid": "bad", "problem": "Tom?", "result": gold}))
    train.write_text("\n".join(lines) + "\n")
    runs = tmp_path / "runs"
    for argv in (
        ["run", f"task={path}", "method=sft", f"paths.runs_dir={runs}", f"paths.data_dir={data}"],
        ["data", "check", str(path), "--data-dir", str(data)],
    ):
        assert _run(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert (
            len(err) == 1 and err[0].startswith(f"pada: error: {train}:3: ") and "holds no number" in err[0]
        )
    assert not runs.exists() or not any(runs.rglob(DONE))


def test_a_default_written_out_names_the_same_cell():
    from pada.run.identity import identity_of
    from pada.tasks.user import with_defaults

    task = {**docs_task_yaml(), "_target_": "pada.tasks.user.UserTask"}
    written = {**task, "limits": {"val": None, "test": None}, "max_new_tokens": 256, "stop": []}
    assert identity_of({"task": task}) == identity_of({"task": written}) == {"task": with_defaults(task)}
    assert identity_of({"task": {**task, "max_new_tokens": 100}}) != identity_of({"task": task})

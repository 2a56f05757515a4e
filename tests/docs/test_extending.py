"""Extending pada as a new user would (issue 20): every plug-in point is a class named by ``_target_``.

The toy method is exactly the two files docs/extending.md shows (read from the page, so the docs cannot
drift): written into an empty folder put on the Python path and Hydra's search path, it runs through the
real runner and appears in ``pada analyze``'s Table 2 with no other edit. A user's own task, teacher provider
and backend named by ``_target_`` are the classes used. A wrong ``_target_`` and the keys it replaced are one
error line; a loop that never runs is an error before any stage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import compose_config
from omegaconf import OmegaConf

from analysis import rows
from baselines.sft import SFTOnly
from pada.cli import main
from pada.errors import PadaError
from pada.inference.base import build_backend
from pada.io import read_json, read_jsonl
from pada.methods.base import build_method
from pada.run.loop import check_augments, loop_config
from pada.run.runner import run_cell
from pada.tasks.base import Task, build_task
from pada.teacher.providers import build_provider

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```(?:python|yaml)\n# (\S+)\n(.*?)```", re.DOTALL)


def docs_files(doc: Path = ROOT / "docs" / "extending.md") -> dict[str, str]:
    """The files a docs page shows: each fenced block whose first line is ``# <path>``."""
    return {path: body for path, body in BLOCK.findall(doc.read_text(encoding="utf-8"))}


@pytest.fixture
def user_dir(tmp_path, monkeypatch) -> Path:
    """An empty folder of the user's own, on the Python path (as PYTHONPATH=. would put it)."""
    folder = tmp_path / "user"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_the_toy_method_from_the_docs_runs_and_appears_in_table2(
    user_dir, tiny_cell_overrides, tmp_path, capsys
):
    files = docs_files()
    assert sorted(files) == ["dup_seeds.py", "my_conf/method/dup_seeds.yaml"]  # one module, one YAML
    for relative, text in files.items():
        (user_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (user_dir / relative).write_text(text)
    search = f"hydra.searchpath=[file://{user_dir / 'my_conf'}]"
    assert main(["run", *tiny_cell_overrides, "method=dup_seeds", search]) == 0  # as the docs' command line
    cfg = compose_config([*tiny_cell_overrides, "method=dup_seeds", search])
    (run_dir,) = Path(cfg.paths.runs_dir).glob("gsm8k-b16-dup_seeds-s0-*")
    results = read_json(run_dir / "results.json")
    new = read_jsonl(run_dir / "augment_0" / "new.jsonl")
    data = results["data"]
    assert data["proposed_per_iteration"] == [16] and results["versions"]["method"] == "1.0"
    # the fixture's templated questions overlap held-out ones: the runner's decontamination drops those
    assert len(new) == data["synthetic"] == 16 - sum(data["rejected"].values()) > 0
    assert all(row["source"] == "synthetic:dup_seeds" for row in new)
    capsys.readouterr()
    assert main(["analyze", str(cfg.paths.runs_dir), "--out", str(tmp_path / "a"), "--resamples", "500"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("dup_seeds") or "| dup_seeds" in line)
    assert "%" in row or "." in row, table  # a number, not an empty row


def test_other_methods_are_rows_never_dropped():
    found = {"sft", "pada", "pada_no_qc", "dup_seeds", "mine [trainer.max_steps=5]", "sft_val"}
    shown = rows.table2_methods(rows.merged({}), found, "pada")
    assert shown[-4:] == ["sft_val", "dup_seeds", "mine", "pada"] and "pada_no_qc" not in shown


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"name": "x", "iterations": 1}, r"method has no _target_: name its class in its YAML"),
        ({"_target_": "no_such_module.Dup"}, r"'no_such_module.Dup' cannot be imported \(No module named "),
        (
            {"_target_": "no_such_module.Dup"},
            r"pip install -e. your package, or add its folder to PYTHONPATH",
        ),
        ({"_target_": "pada.types.NoSuchClass"}, r"module pada.types has no 'NoSuchClass'"),
        ({"_target_": "pada.types.Example"}, r"'pada.types.Example' is not a Method: subclass pada.methods"),
        ({"_target_": "pada.methods.base.Method"}, r"does not implement propose"),
        ({"_target_": "Method"}, r"is not a dotted path"),
        ({"module": "my.mod", "name": "x"}, r"method.module is no longer read: .*_target_: <your.module>"),
        (
            {"module": "my.mod", "_target_": "baselines.sft.SFTOnly"},  # beside a _target_: never ignored
            r"method.module is no longer read",
        ),
    ],
)
def test_a_wrong_method_target_is_one_error_line(node, message):
    with pytest.raises(PadaError, match=message) as error:
        build_method(OmegaConf.create(node))
    assert "\n" not in str(error.value)


def test_an_old_files_task_says_what_to_write():
    old = {"name": "mine", "type": "files", "scorer": "exact"}
    with pytest.raises(PadaError, match=r"task.type is no longer read: .*_target_: pada.tasks.user.UserTask"):
        build_task(OmegaConf.create(old))


def test_a_user_task_class_is_the_one_used(user_dir):
    (user_dir / "my_tasks.py").write_text(
        "from pada.tasks.gsm8k import GSM8K\n\n\nclass Shouted(GSM8K):\n"
        "    def user_prompt(self, question):\n        return question.upper()\n"
    )
    cfg = compose_config(["task._target_=my_tasks.Shouted"]).task
    task = build_task(cfg)
    assert type(task).__name__ == "Shouted" and isinstance(task, Task)
    assert task.user_prompt("two plus two") == "TWO PLUS TWO"


def test_a_user_provider_class_is_the_one_used(user_dir):
    (user_dir / "my_providers.py").write_text(
        "from pada.teacher.providers.scripted import Scripted\n\n\nclass Mine(Scripted):\n    pass\n"
    )
    cfg = compose_config(["teacher=scripted", "teacher._target_=my_providers.Mine"]).teacher
    assert type(build_provider(cfg)).__name__ == "Mine"
    with pytest.raises(PadaError, match=r"teacher._target_='pada.types.Example' is not a Provider"):
        build_provider(OmegaConf.merge(cfg, {"_target_": "pada.types.Example"}))


def test_a_user_backend_class_is_the_one_used(user_dir):
    (user_dir / "my_backends.py").write_text(
        "from pada.inference.base import Backend\nfrom pada.types import Completion\n\n\n"
        "class Echo(Backend):\n    def generate(self, chats, params, adapter=None):\n"
        "        return [Completion(str(c), 0, 0, 'stop') for c in chats]\n"
    )
    backend = build_backend("/no/model", compose_config(["eval._target_=my_backends.Echo"]).eval)
    assert type(backend).__name__ == "Echo" and backend.model_path == "/no/model"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["method.loop.iterations=1", "~method.loop.iterations"],
            "method sft: set loop.iterations in its YAML",
        ),
        (
            ["method._target_=test_extending.Augmenting", "method.loop.iterations=0"],
            "method sft augments .* but method.loop.iterations=0",
        ),
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


class Augmenting(SFTOnly):
    augments = True  # a method that adds items without a teacher: 0 iterations is an error


def test_sft_and_base_run_zero_iterations():
    for name in ("sft", "base"):
        cfg = compose_config([f"method={name}"]).method
        check_augments(build_method(cfg), loop_config(cfg))


def test_a_users_conf_folder_adds_choices_and_a_typo_is_still_one_line(user_dir, capsys):
    (user_dir / "my_conf" / "method").mkdir(parents=True)
    (user_dir / "my_conf" / "method" / "dup_seeds.yaml").write_text(
        docs_files()["my_conf/method/dup_seeds.yaml"]
    )
    search = f"hydra.searchpath=[file://{user_dir / 'my_conf'}]"
    assert main(["run", "method=dup_sedes", search]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("pada: error: unknown method 'dup_sedes'; choose one of: ") and "dup_seeds" in line


def test_the_target_is_part_of_the_cell_identity():
    from pada.run.naming import cell_name

    shipped = compose_config(["method=sft"])
    other = compose_config(["method=sft", "method._target_=test_extending.Augmenting"])
    assert cell_name(shipped) != cell_name(other)  # another class, another cell: never an overwrite
    assert cell_name(shipped) == cell_name(compose_config(["method=sft"]))

"""Identity follows what determines the output: versions, pinned source hashes, template edits, data hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import template_probe_method
from conftest import compose_config, write_tiny_gsm8k

from pada import versions
from pada.io import read_json
from pada.run.runner import run_cell


def test_every_versioned_component_matches_its_pinned_hash():
    """Fails when a task, method, the simulated world or a prompt template changed without a version bump."""
    problems = versions.check(read_json(versions.PINS))
    assert not problems, "\n".join(problems)


def test_a_scorer_change_without_a_version_bump_names_the_version_to_bump(tmp_path, monkeypatch):
    real = versions._module_file("pada.tasks.gsm8k")
    edited = tmp_path / "gsm8k.py"
    edited.write_text(real.read_text() + "\nSCORER_SHORTCUT = True  # a code change, however small\n")
    original = versions._module_file
    monkeypatch.setattr(
        versions, "_module_file", lambda m: edited if m == "pada.tasks.gsm8k" else original(m)
    )
    problems = versions.check(read_json(versions.PINS))
    assert any(
        p.startswith("task:gsm8k changed") and "bump GSM8K.version in pada.tasks.gsm8k" in p for p in problems
    ), problems
    # sim_arith borrows GSM8K's extraction: its version is named too
    assert any(p.startswith("task:sim_arith changed") for p in problems), problems


def test_formatting_comments_and_docstrings_are_not_changes(tmp_path, monkeypatch):
    real = versions._module_file("pada.tasks.gsm8k")
    edited = tmp_path / "gsm8k.py"
    text = real.read_text().replace("def is_correct(", "def is_correct(  # a comment\n", 1)
    edited.write_text(text.replace('"""', '"""An edited docstring. ', 1) + "\n\n# a trailing comment\n")
    original = versions._module_file
    monkeypatch.setattr(
        versions, "_module_file", lambda m: edited if m == "pada.tasks.gsm8k" else original(m)
    )
    assert versions.check(read_json(versions.PINS)) == []


def test_pin_keeps_an_existing_versions_hash_unless_repin():
    pins = {"task:gsm8k": {"1.0": "0" * 64}}
    assert versions.pin(pins)["task:gsm8k"]["1.0"] == "0" * 64  # --pin cannot hide an unbumped change
    assert versions.pin(pins, repin=True)["task:gsm8k"]["1.0"] != "0" * 64


def test_every_task_and_method_declares_its_own_version():
    kinds = {c.key.split(":")[0] for c in versions.components()}
    assert {"task", "method", "world", "prompt"} <= kinds
    assert all(c.version for c in versions.components())


def _probe_cell(tiny_cell_overrides, prompts: Path) -> list[str]:
    return [
        *tiny_cell_overrides,
        "method=base",
        "method.name=template_probe",
        "method._target_=template_probe_method.TemplateProbe",
        "method.loop.iterations=1",
        "method.train=true",
        "trainer.max_steps=2",
        f"+method.prompts_dir={prompts}",
    ]


def test_a_prompt_template_edit_reruns_the_stages_that_used_it(tiny_cell_overrides, tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    shutil.copy(versions.ROOT / "pada" / "prompts" / "paraphrase.v1.j2", prompts)
    overrides = _probe_cell(tiny_cell_overrides, prompts)
    first = run_cell(compose_config(overrides))
    assert not any(t["cached"] for t in first["timings"].values())
    assert all(t["cached"] for t in run_cell(compose_config(overrides))["timings"].values())

    template = prompts / "paraphrase.v1.j2"
    template.write_text(template.read_text().replace("{% block user -%}", "{% block user -%}Please. ", 1))
    edited = run_cell(compose_config(overrides))
    assert edited["cell"]["name"] == first["cell"]["name"]
    cached = {stage: t["cached"] for stage, t in edited["timings"].items()}
    # the augment stage rendered the template: it and everything trained on its data run again
    assert cached == {
        "seed": True,
        "train_0": True,
        "eval_0": True,
        "augment_0": False,
        "train_1": False,
        "eval_1": False,
        "test": False,
    }, cached
    run_dir = Path(compose_config(overrides).paths.runs_dir) / first["cell"]["name"]
    assert "Please. " in (run_dir / "augment_0" / "rendered.txt").read_text()


def test_a_changed_data_file_gives_a_new_cell_not_an_overwrite(tiny_cell_overrides, tmp_path):
    data = write_tiny_gsm8k(tmp_path / "data" / "gsm8k")
    overrides = [*tiny_cell_overrides, f"paths.data_dir={data}", "trainer.max_steps=2"]
    first = run_cell(compose_config(overrides))
    test_file = data / "gsm8k" / "test.jsonl"
    first_line = test_file.read_text().splitlines(keepends=True)[0]
    test_file.write_text(test_file.read_text() + first_line)  # one more test item, same config
    second = run_cell(compose_config(overrides))
    assert second["cell"]["name"] != first["cell"]["name"]
    assert read_json(Path(tmp_path / "runs" / first["cell"]["name"] / "results.json")) == first
    assert not any(t["cached"] for t in second["timings"].values())


def test_the_cell_records_its_component_versions(tiny_cell_overrides):
    import pada.training

    results = run_cell(compose_config([*tiny_cell_overrides, "trainer.max_steps=2"]))
    # the trainer's version too (sft trains; it has no augment stage, so no fairness version): the analysis
    # never pools cells trained by different trainer code, though the cell's name does not carry it
    assert results["versions"] == {"task": "1.0", "method": "1.0", "trainer": pada.training.VERSION}

    assert template_probe_method.TemplateProbe.version == "test"


def _edited(monkeypatch, tmp_path, module: str) -> None:
    """``module``'s source as seen by pada.versions gets one extra line of code."""
    real = versions._module_file(module)
    edited = tmp_path / real.name
    edited.write_text(real.read_text() + "\nBEHAVIOUR_CHANGED = True\n")
    original = versions._module_file
    monkeypatch.setattr(versions, "_module_file", lambda m: edited if m == module else original(m))


def test_the_trainer_and_the_fairness_code_are_pinned(tmp_path, monkeypatch):
    for module, key, holder in (
        ("pada.training.train", "trainer", "pada.training"),
        ("pada.training.data", "trainer", "pada.training"),
        ("pada.run.fairness", "fairness", "pada.run.fairness"),
        ("pada.agent.leakage", "fairness", "pada.run.fairness"),
        ("pada.run.execution", "fairness", "pada.run.fairness"),
        ("pada.teacher.structured", "structured", "pada.teacher.structured"),
    ):
        with monkeypatch.context() as patch:
            _edited(patch, tmp_path, module)
            problems = versions.check(read_json(versions.PINS))
        mine = [p for p in problems if p.startswith(f"{key} changed")]
        assert len(mine) == 1 and f"bump VERSION in {holder}" in mine[0], (module, problems)


def test_a_version_bump_changes_only_the_stages_it_determines(tmp_path, monkeypatch):
    import pada.run.fairness
    import pada.training
    from pada.run.stages import Stages

    ran: list[str] = []

    def work(name):
        return lambda out: ran.append(name) or {}

    def run_all() -> dict[str, str]:
        stages = Stages(tmp_path / "cell")
        return {n: stages.run(n, {"x": 1}, work(n)).key for n in ("seed", "train_0", "eval_0", "augment_0")}

    first = run_all()
    assert run_all() == first and len(ran) == 4  # all reused
    monkeypatch.setattr(pada.training, "VERSION", "1.0-bumped")
    after_trainer = run_all()
    assert ran[4:] == ["train_0"] and after_trainer["train_0"] != first["train_0"]
    assert {n: k for n, k in after_trainer.items() if n != "train_0"} == {
        n: k for n, k in first.items() if n != "train_0"
    }
    monkeypatch.setattr(pada.run.fairness, "VERSION", "1.0-bumped")
    assert run_all()["augment_0"] != first["augment_0"] and ran[5:] == ["augment_0"]
    import pada.teacher.structured  # the rules that turn teacher answers into items decide augment output

    monkeypatch.setattr(pada.teacher.structured, "VERSION", "1.0-bumped")
    assert run_all()["augment_0"] != first["augment_0"] and ran[6:] == ["augment_0"]


def test_runner_versions_follow_the_stages_a_cell_has():
    import pada.run.fairness
    import pada.teacher.structured
    import pada.training

    trainer, fairness = pada.training.VERSION, pada.run.fairness.VERSION
    assert versions.runner_versions(trains=True, augments=True) == {
        "trainer": trainer,
        "fairness": fairness,
        "structured": pada.teacher.structured.VERSION,
    }
    assert versions.runner_versions(trains=True, augments=False) == {"trainer": trainer}  # sft
    assert versions.runner_versions(trains=False, augments=False) == {}  # base: the untouched model

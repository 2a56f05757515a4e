"""The teacher inside a cell: built once, credentials checked first, usage in results.json, no key leaks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from pada.errors import PadaError
from pada.io import read_json, read_jsonl
from pada.run.naming import cell_name
from pada.run.runner import run_cell

CONF = Path(__file__).resolve().parents[2] / "conf"
DATA = os.environ.get("PADA_DATA_DIR")


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            "config",
            overrides=[
                f"paths.runs_dir={tmp_path / 'runs'}",
                f"paths.cache_dir={tmp_path / 'cache'}",
                f"paths.data_dir={DATA}",
                "wandb.mode=offline",
                *overrides,
            ],
        )


def test_missing_key_fails_before_any_work(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = _cfg(tmp_path, "teacher=openai", "paths.data_dir=/nonexistent")  # the data dir is never reached
    with pytest.raises(PadaError, match="^teacher 'openai' needs OPENAI_API_KEY in the environment"):
        run_cell(cfg)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()


def test_client_settings_do_not_change_the_cell_identity(tmp_path):
    base = _cfg(tmp_path, "teacher=scripted")
    tuned = _cfg(
        tmp_path, "teacher=scripted", "teacher.client.max_concurrency=3", "teacher.pricing.input_per_mtok=9"
    )
    other = _cfg(tmp_path, "teacher=scripted", "teacher.model=test_counter")
    assert cell_name(base) == cell_name(tuned) != cell_name(other)


@pytest.mark.slow  # two small cells: ~10 s on an idle 2-core host, 35-60 s when the host is shared
@pytest.mark.data
@pytest.mark.skipif(not DATA or not Path(DATA, "gsm8k").is_dir(), reason="needs PADA_DATA_DIR with gsm8k")
def test_cell_uses_the_teacher_then_replays_it_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-cell")
    monkeypatch.setenv("WANDB_MODE", "offline")
    small = [
        "experiment=smoke_gsm8k",
        "budget=6",
        "task.limits.val=2",
        "task.limits.test=2",
        "trainer.max_steps=1",
        "eval.max_new_tokens=4",
        "teacher=scripted",
        "method.name=teacher_probe",
        "method._target_=teacher_probe_method.TeacherProbe",
        "method.loop.iterations=1",
        "teacher.pricing.input_per_mtok=1e6",
    ]
    first = run_cell(_cfg(tmp_path, *small))
    usage = first["teacher_usage"]["roles"]["paraphrase"]
    assert (usage["requests"], usage["calls"], usage["cache_hits"]) == (6, 6, 0)
    assert usage["dollars"] == usage["tokens_in"] > 0  # $1 per token in, by the price set above
    run_dir = tmp_path / "runs" / first["cell"]["name"]
    new = read_jsonl(run_dir / "augment_0" / "new.jsonl")
    assert len(new) == 6 and first["data"]["synthetic"] == 6

    # Re-run only the augment stage (its done marker removed); later stages' keys match, so they are reused.
    shutil.rmtree(run_dir / "augment_0")
    again = run_cell(_cfg(tmp_path, *small))
    replay = again["teacher_usage"]["roles"]["paraphrase"]
    assert (replay["calls"], replay["cache_hits"]) == (0, 6)
    assert (replay["dollars"], replay["dollars_uncached"]) == (
        0.0,
        usage["dollars"],
    )  # spent vs intrinsic cost
    assert again["teacher_usage"]["this_process"]["cache"] == {"hits": 6, "misses": 0, "mode": "readwrite"}
    assert read_jsonl(run_dir / "augment_0" / "new.jsonl") == new
    assert (again["timings"]["augment_0"]["cached"], again["timings"]["train_1"]["cached"]) == (False, True)
    stage = again["teacher_usage"]["by_stage"]["augment_0"]["roles"]["paraphrase"]
    assert (stage["calls"], stage["cache_hits"], stage["requests"]) == (0, 6, 6)
    assert first["teacher_usage"]["by_stage"]["augment_0"]["total"]["calls"] == 6
    assert read_json(run_dir / "results.json")["teacher_usage"]["provider"] == "scripted"

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in files:
        assert b"SECRET" not in path.read_bytes(), path
    wandb_logs = [p.read_bytes() for p in run_dir.rglob("*.wandb")]
    assert wandb_logs and any(b"teacher/roles/paraphrase/calls" in log for log in wandb_logs)


@pytest.mark.slow  # one small cell: ~10 s on an idle 2-core host
@pytest.mark.data
@pytest.mark.skipif(not DATA or not Path(DATA, "gsm8k").is_dir(), reason="needs PADA_DATA_DIR with gsm8k")
def test_results_name_the_model_of_each_routed_role(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    small = [
        "experiment=smoke_gsm8k",
        "budget=4",
        "task.limits.val=2",
        "task.limits.test=2",
        "trainer.max_steps=1",
        "eval.max_new_tokens=4",
        "teacher=scripted",
        "method.name=teacher_probe_two_roles",
        "method._target_=teacher_probe_method.TeacherProbeTwoRoles",
        "method.loop.iterations=1",
        "teacher.pricing.input_per_mtok=1e6",
        "+teacher.routes.check.roles=[verification]",
        "+teacher.routes.check.teacher.model=test_counter",
        "+teacher.routes.check.teacher.script_module=teacher_support",
        "+teacher.routes.check.teacher.pricing.input_per_mtok=0",
    ]
    usage = run_cell(_cfg(tmp_path, *small))["teacher_usage"]
    assert usage["role_models"] == {"paraphrase": "scripted/echo", "verification": "scripted/test_counter"}
    assert (
        usage["by_model"]["scripted/echo"]["calls"]
        == usage["by_model"]["scripted/test_counter"]["calls"]
        == 4
    )
    assert usage["total"]["calls"] == 8  # both teachers, as cell_caps and teacher_budget count them
    roles = usage["roles"]
    assert roles["paraphrase"]["dollars"] == roles["paraphrase"]["tokens_in"] > 0  # the default's price
    assert roles["verification"]["dollars"] == 0.0  # the route's own (free) price
    assert usage["uncached"]["dollars"] == roles["paraphrase"]["dollars"]
    by_stage = usage["by_stage"]["augment_0"]["roles"]
    assert by_stage["verification"]["calls"] == 4

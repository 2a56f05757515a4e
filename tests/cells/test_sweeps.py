"""Sweeps: every Table 2 cell composes, preflight lists what is missing, a mini sweep runs via submitit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from omegaconf import open_dict

from pada.preflight import expand_sweep
from pada.preflight import main as preflight_main


@pytest.mark.parametrize("version,seeds,methods", [("table2_v1", 3, 9), ("table2_v2", 15, 10)])
def test_every_table2_cell_composes(version, seeds, methods):
    """Through preflight's path: each distinct setting composed once by Hydra, each cell its copy with its
    seed (pada.preflight.compose.compose_cells); Hydra on every v1 cell with its seed: the slow test below."""
    from pada.preflight.compose import compose_cell, compose_cells

    cells = expand_sweep([f"experiment={version}"])
    assert len(cells) == 3 * 2 * seeds * methods  # tasks x budgets x seeds x methods
    chosen = cells[:: 1 if version == "table2_v1" else 30]  # v2's pairs are all composed below
    composed = compose_cells([[f"experiment={version}", *o] for o in chosen])
    for overrides, cfg in zip(chosen, composed, strict=True):
        assert cfg.model.name == "llama32_1b_instruct" and cfg.task.name in {"gsm8k", "arc_challenge", "mbpp"}
        assert f"seed={cfg.seed}" in overrides
    assert compose_cell(["experiment=table2_v1", "task=mbpp"]).task.confirm_run_unsafe_code is True


@pytest.mark.slow
def test_every_table2_v1_cell_composes_through_hydra_with_its_seed():
    """Hydra's own composition of each of v1's 162 cells, seed included (~0.2 s each on 2 idle cores)."""
    from pada.preflight.compose import compose_cell

    for overrides in expand_sweep(["experiment=table2_v1"]):
        cfg = compose_cell(["experiment=table2_v1", *overrides])
        assert cfg.model.name == "llama32_1b_instruct" and cfg.task.name in {"gsm8k", "arc_challenge", "mbpp"}


def test_every_table2_method_runs_on_every_table2_task():
    """Each (task, method) pair passes the runner's check_cell: none would fail at its first augment stage."""
    from pada.preflight.checks import check_method
    from pada.preflight.compose import compose_cell

    pairs = {(o[1], o[4]) for o in expand_sweep(["experiment=table2_v2"])}
    assert len(pairs) == 3 * 10
    for task, method in sorted(pairs):
        offline = ["+embedder=bundled:all-MiniLM-L6-v2"]  # all-mpnet-base-v2 is not in this machine's cache
        assert check_method(compose_cell(["experiment=table2_v2", task, method, *offline])) is None, (
            task,
            method,
        )
    bad = compose_cell(["experiment=table2_v1", "task=mbpp", "method=auggpt", "method.verify=true"])
    assert check_method(bad).startswith("auggpt on mbpp: method.verify=true: a teacher re-solve cannot check")


def test_cli_sweep_values_cross_the_config_sweep():
    cells = expand_sweep(["experiment=demo", "seed=7,8"])
    assert len(cells) == 6 * 2  # the CLI's seeds replace the config's, methods stay
    assert {o for c in cells for o in c if o.startswith("seed=")} == {"seed=7", "seed=8"}


def test_preflight_lists_every_missing_prerequisite(capsys, tmp_path, monkeypatch):
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code = preflight_main(
        [
            "experiment=table2_v1",
            f"paths.data_dir={tmp_path}",
            f"paths.runs_dir={tmp_path}/runs",
            "task=gsm8k",
            "budget=100",
            "seed=0",
            "method=sft,pada",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "plan (estimates): jobs=2," in out and "nothing was submitted" in out
    assert "no CUDA GPU visible" in out
    assert "meta-llama/Llama-3.2-1B-Instruct is not in the local HF cache" in out
    assert "GSM8K files ['train.jsonl', 'test.jsonl'] not found" in out
    assert "teacher bedrock_claude:" in out


def test_preflight_passes_for_the_simulation(capsys):
    assert preflight_main(["experiment=demo"]) == 0
    assert "jobs=18" in capsys.readouterr().out


def test_table2_v2_is_matched_and_its_auggpt_estimate_counts_the_capped_paraphrases():
    from pada.preflight import plan
    from pada.preflight.compose import compose_cell

    cfg = compose_cell(["experiment=table2_v2", "task=gsm8k", "budget=300", "method=auggpt"])
    assert (cfg.budget_match, cfg.synthetic_per_seed, cfg.trainer.match_steps) == (True, 3, True)
    # 900k tokens per round per 100 seeds (300 paraphrases + 300 verifications), one round, budget 300
    assert plan([cfg])["teacher_tokens_estimate"] == 2_700_000


@pytest.mark.slow
def test_two_cell_sweep_through_submitit_local(tmp_path):
    overrides = [
        "experiment=sim",
        "launcher=submitit_local",
        "method=sft",
        "seed=0,1",
        "budget=16",
        "task.val_size=10",
        "task.test_size=10",
        "trainer.epochs=1",
        "model.pretrain.steps=20",
        f"paths.runs_dir={tmp_path}/runs",
        f"paths.cache_dir={tmp_path}/cache",
        "wandb.mode=disabled",
        f"hydra.sweep.dir={tmp_path}/sweep",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "pada.cli", "run", "-m", *overrides],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted((tmp_path / "runs").glob("*/results.json"))
    assert len(results) == 2
    seeds = set()
    for path in results:
        data = json.loads(path.read_text())
        assert data["simulation"] is True and data["metrics"]["test"]["n"] == 10
        seeds.add(data["cell"]["seed"])
    assert seeds == {0, 1}
    assert list((tmp_path / "sweep").rglob("*_submitted.pkl"))  # submitit really launched the jobs


def test_preflight_names_the_expected_teacher_calls_per_stage(capsys):
    from pada.preflight import expected_calls
    from pada.preflight.compose import compose_cell

    assert preflight_main(["experiment=demo", "method=sft,auggpt,pada", "seed=0"]) == 0
    out = capsys.readouterr().out
    # demo: budget 128, synthetic_budget 256 matched. AugGPT: one round, a paraphrase and a re-solve each;
    # budget_match's 3 top-ups may each ask that again (pada/run/topup.py): 256 x 4
    assert (
        "auggpt on sim_arith budget=128 synthetic_budget=256: augment_0 <= 2048 "
        "(paraphrase 1024 + verification 1024)"
    ) in out
    # PaDA: 3 rounds of ceil(256/3) = 86 slots, each tried up to 1 + 2 regenerations (258), x 4 with the
    # top-ups; 200 val analyses, summaries and strategies once (a top-up reuses them)
    assert (
        "pada on sim_arith budget=128 synthetic_budget=256: augment_0 <= 2284 (error_analysis 200 + "
        "pattern_summary 10 + strategy 10 + generation 1032 + verification 1032); augment_1 <= 2260"
    ) in out
    assert "sft on" not in out  # no teacher, no line
    assert "teacher_calls_at_most=8852," in out  # 2048 + 2284 + 2260 + 2260: the sweep's total
    # a per-round cap instead: each round asks at most its cap
    cfg = compose_cell(
        ["experiment=demo", "method=auggpt", "synthetic_budget=null", "synthetic_per_iteration=40"]
    )
    assert expected_calls(cfg) == {"augment_0": {"paraphrase": 40 * 4, "verification": 40 * 4}}  # + 3 top-ups
    per_round = ["experiment=demo", "method=auggpt", "synthetic_budget=null", "synthetic_per_iteration=40"]
    cfg = compose_cell([*per_round, "budget_match_rounds=0"])
    assert expected_calls(cfg) == {"augment_0": {"paraphrase": 40, "verification": 40}}  # no top-ups
    cfg = compose_cell(
        [
            "experiment=demo",
            "method=pada",
            "synthetic_budget=null",
            "budget_match=false",
            "method.qc.max_regenerations=0",
        ]
    )
    assert (
        expected_calls(cfg)["augment_2"]["generation"] == 128 + 128
    )  # strategy_examples + one per wrong seed


@pytest.mark.parametrize(
    "method, quota, rounds",
    [
        pytest.param("auggpt", "synthetic_budget=32", [], id="auggpt"),
        pytest.param("llm2llm", "synthetic_budget=32", ["method.loop.iterations=3"], id="llm2llm-3-rounds"),
        pytest.param(
            "llm2llm", "synthetic_budget=32", [], marks=pytest.mark.slow, id="llm2llm"
        ),  # 9: 3x the time
        pytest.param("pada", "synthetic_budget=32", [], id="pada"),
        pytest.param("pada_no_cluster", "synthetic_budget=32", [], id="pada_no_cluster"),
        pytest.param("llms_as_instructors", "synthetic_budget=null", [], id="llms_as_instructors"),
    ],
)
def test_the_expected_teacher_calls_bound_what_a_simulated_cell_asks(
    method, quota, rounds, tmp_path, own_cache
):
    from pada.preflight import expected_calls
    from pada.preflight.compose import compose_cell
    from pada.run.runner import run_cell

    cfg = compose_cell(
        [
            "experiment=sim",
            f"method={method}",
            "budget=16",
            "task.val_size=20",
            "task.test_size=10",
            "trainer.epochs=1",
            "model.pretrain.steps=20",
            f"paths.runs_dir={tmp_path}/runs",
            f"paths.cache_dir={own_cache}",
            "wandb.mode=disabled",
            quota,
            f"budget_match={quota != 'synthetic_budget=null'}",
            *rounds,
        ]
    )
    expected = expected_calls(cfg)
    stages = run_cell(cfg)["teacher_usage"]["by_stage"]
    assert sorted(stages) == sorted(expected)
    for stage, usage in stages.items():
        for role, row in usage["roles"].items():  # requests asked, answered by the provider or the cache
            assert row.get("calls", 0) + row.get("cache_hits", 0) <= expected[stage][role], (stage, role)


def test_preflight_says_an_estimate_is_unknown_without_a_plan_section():
    """A teacher or GPU estimate without a ``plan`` section to read it from is not 0: it says why it is unknown."""
    from pada.preflight import plan
    from pada.preflight.compose import compose_cell

    pada_cell = compose_cell(
        ["method=pada", "teacher=openai", "model=llama32_1b_instruct", "trainer=lora_gpu"]
    )
    sft_cell = compose_cell(["method=sft"])
    assert "plan" not in pada_cell
    summary = plan([pada_cell, sft_cell])
    assert summary["teacher_tokens_estimate"] == "unknown (no plan section)"
    assert summary["teacher_dollars_estimate"] == "unknown (no plan section)"
    assert summary["gpu_hours_estimate"] == "unknown (no plan section)"
    assert summary["teacher_calls_at_most"] > 0  # computed from the method's config: never unknown
    assert plan([sft_cell])["teacher_tokens_estimate"] == 0  # no teacher: truly zero tokens
    assert plan([sft_cell])["gpu_hours_estimate"] == 0  # the tiny student on CPU: truly no GPU hours
    table2 = compose_cell(["experiment=table2_v2", "method=pada", "task=gsm8k"])
    with open_dict(table2):
        del table2.plan.teacher_tokens_per_round.pada
    assert plan([table2])["teacher_tokens_estimate"] == "unknown (plan.teacher_tokens_per_round has no pada)"


def test_preflight_costs_per_distinct_setting_not_per_seed(monkeypatch, capsys):
    """24 cells (6 methods x 4 seeds): one composition and one config check per method, not per cell
    (issue 29.10: ~1 s a cell made a 1,000-cell sweep a 17-minute preflight)."""
    from pada.preflight import command, compose

    calls = {"composed": 0, "checked": 0}
    composed, checked = compose._composed, command.check_values
    monkeypatch.setattr(compose, "_COMPOSED", {})
    monkeypatch.setattr(
        compose, "_composed", lambda *a: calls.__setitem__("composed", calls["composed"] + 1) or composed(*a)
    )
    monkeypatch.setattr(
        command, "check_values", lambda c: calls.__setitem__("checked", calls["checked"] + 1) or checked(c)
    )
    assert preflight_main(["experiment=demo", "seed=range(0,4)"]) == 0
    assert "jobs=24," in capsys.readouterr().out
    assert calls == {"composed": 6 + 2, "checked": 6}  # + the sweeper's params and the launcher's config

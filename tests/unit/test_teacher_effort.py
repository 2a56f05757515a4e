"""Effort-matched comparisons (issue 28.2): a per-cell teacher budget the runner hands every method, the
client's hard limit (deterministic, cache-independent), and results.json's spent-vs-budget record."""

from __future__ import annotations

import random

import pytest
from conftest import CONF_DIR, compose_config
from omegaconf import OmegaConf
from teacher_support import teacher_cfg

from pada.errors import PadaError
from pada.io import read_json
from pada.methods.base import IterationState, build_method
from pada.run import fairness
from pada.run.identity import identity_of
from pada.tasks.base import build_task
from pada.teacher import Request, Teacher
from pada.types import EvalRecord, Example, Quota


def _requests(n: int) -> list[Request]:
    return [Request("generation", [{"role": "user", "content": f"problem {i}"}], 0) for i in range(n)]


def _answered(tmp_path, allowance: dict[str, int]) -> tuple[list, dict, dict]:
    with Teacher(teacher_cfg("scripted", tmp_path, model="test_counter"), tmp_path / "t.sqlite") as teacher:
        teacher.limit_effort(allowance)
        answers = teacher.complete_many(_requests(40))
        return answers, teacher.usage()["total"], teacher.effort_left()


def test_a_call_budget_answers_requests_in_order_and_refuses_the_rest(tmp_path):
    answers, total, left = _answered(tmp_path, {"calls": 20})
    assert [a is not None for a in answers] == [True] * 20 + [False] * 20
    assert (total["calls"], total["over_budget"], total["errors"]) == (20, 20, 0)
    assert left == {"calls": 0}
    # a warm cache changes nothing: cache hits count as effort (as from an empty cache)
    again, total, _ = _answered(tmp_path, {"calls": 20})
    assert again == answers and (total["calls"], total["cache_hits"], total["over_budget"]) == (0, 20, 20)


def test_a_token_budget_stops_after_the_chunk_that_reaches_it(tmp_path):
    """Tokens are known only once answered: requests go in fixed chunks of EFFORT_CHUNK (never the
    concurrency setting), and no chunk starts once the budget is spent, so the overshoot is at most one
    chunk and the same requests are answered on every run."""
    answers, total, left = _answered(tmp_path, {"tokens": 10})
    answered = sum(a is not None for a in answers)
    assert answered == fairness.EFFORT_CHUNK < 40 and total["over_budget"] == 40 - answered
    used = total["tokens_in"] + total["tokens_out"]
    assert used >= 10 and left == {"tokens": 10 - used}


def test_without_an_allowance_nothing_is_refused_and_nothing_is_chunked(tmp_path):
    answers, total, left = _answered(tmp_path, {})
    assert all(answers) and total["over_budget"] == 0 and left is None


def test_the_cell_budget_is_spread_over_the_rounds_left():
    cfg = compose_config(["teacher_budget.tokens=90000", "teacher_budget.calls=300"])
    assert fairness.effort_for(cfg, 0, 3, {"tokens": 0, "calls": 0}) == {"tokens": 30000, "calls": 100}
    # what a round left unspent goes to the rounds after it
    assert fairness.effort_for(cfg, 1, 3, {"tokens": 20000, "calls": 100}) == {"tokens": 35000, "calls": 100}
    assert fairness.effort_for(cfg, 2, 3, {"tokens": 95000, "calls": 10}) == {"tokens": 0, "calls": 290}
    assert fairness.effort_for(compose_config([]), 0, 3, {}) is None
    assert fairness.quota_for(cfg, 0, 3, 0) == Quota(None, None)  # the example quota is its own setting


def test_an_unset_teacher_budget_names_the_same_cell_as_before():
    cfg = OmegaConf.to_container(compose_config([]), resolve=True)
    assert cfg["teacher_budget"] == {"tokens": None, "calls": None}
    without = {k: v for k, v in cfg.items() if k != "teacher_budget"}
    assert identity_of(cfg) == identity_of(without)
    cfg["teacher_budget"]["tokens"] = 1000
    assert identity_of(cfg) != identity_of(without)


@pytest.mark.parametrize("value", ["-1", "1.5", "true"])
def test_a_bad_teacher_budget_is_one_error(value):
    from pada.methods.base import build_method

    cfg = compose_config([f"teacher_budget.tokens={value}"])
    with pytest.raises(PadaError, match="teacher_budget.tokens"):
        fairness.check_config(cfg, build_method(cfg.method))


# -- methods stop at their allowance with every kept item complete ----------------------------------------
@pytest.fixture
def baselines_teacher(tmp_path):
    import baselines_script  # noqa: F401  (registers the 'test_baselines' script)

    cfg = teacher_cfg("scripted", tmp_path, model="test_baselines")
    with Teacher(cfg, tmp_path / "b.sqlite") as teacher:
        yield teacher


def _state(tmp_path, teacher, wrong: set[str], quota: Quota) -> IterationState:
    """Three seeds of the scripted teacher's apples problems; ``wrong``: the seeds the student got wrong."""
    task = build_task(compose_config(["task=gsm8k"]).task)
    seeds = []
    for i, (a, b) in enumerate([(5, 7), (3, 4), (10, 2)]):
        q = f"Tom has {a} apples and buys {b} more. How many apples?"
        target = f"{a} + {b} = {a + b}\n#### {a + b}"
        seeds.append(Example(f"s{i}", task.user_prompt(q), target, str(a + b), meta={"question": q}))
    records = [EvalRecord(s.id, s.prompt, "#### 0", "0", s.answer, s.id not in wrong) for s in seeds]
    (tmp_path / "augment_0").mkdir()
    st = IterationState(0, task, seeds, seeds, records, [], teacher, random.Random(0), tmp_path / "augment_0")
    st.quota = quota
    teacher.limit_effort(quota.teacher_allowance())  # what the runner does around propose
    return st


def _method(name: str, **overrides):
    cfg = OmegaConf.load(CONF_DIR / "method" / f"{name}.yaml")
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return build_method(cfg)


def test_auggpt_serves_whole_seeds_until_its_allowance_would_run_out(tmp_path, baselines_teacher):
    """k=4 with verification: 8 calls per seed; 16 calls pay for two seeds, verified, and the third
    is not started (no paraphrase left unverified, no request refused)."""
    st = _state(tmp_path, baselines_teacher, set(), Quota(teacher_calls=16))
    new = _method("auggpt", k=4).propose(st)
    assert sorted({ex.meta["parent"] for ex in new}) == ["s0", "s1"] and len(new) == 4
    report = read_json(st.workdir / "baseline_report.json")
    assert report["unserved_teacher_budget"] == 1 and report["teacher_allowance"] == {"calls": 16}
    total = baselines_teacher.usage()["total"]
    assert total["over_budget"] == 0 and total["calls"] <= 16


def test_llm2llm_serves_the_wrong_seeds_its_allowance_pays_for(tmp_path, baselines_teacher):
    st = _state(tmp_path, baselines_teacher, {"s0", "s1", "s2"}, Quota(teacher_calls=2))
    _method("llm2llm").propose(st)
    report = read_json(st.workdir / "baseline_report.json")
    assert report["unserved_teacher_budget"] == 1  # two seeds asked once each, the third not at all
    assert report["attempts_cut_teacher_budget"] == 1  # no second attempt: nothing left to pay for it
    total = baselines_teacher.usage()["total"]
    assert (total["calls"], total["over_budget"]) == (2, 0)


def test_report_rows_of_slot_parts_add_up_to_the_rounds():
    from pada.agent.generation import merge_counts

    first = {
        "p": {
            "requested": 4,
            "generated": 3,
            "accepted": 2,
            "rejected": {"dup": 1},
            "judged": 2,
            "judge_mean": 8.0,
        }
    }
    second = {
        "p": {
            "requested": 2,
            "generated": 2,
            "accepted": 1,
            "rejected": {"dup": 1, "bad": 1},
            "judged": 1,
            "judge_mean": 5.0,
        },
        "q": {"requested": 1, "generated": 1, "accepted": 1, "rejected": {}, "judged": 0, "judge_mean": None},
    }
    merged = merge_counts(merge_counts({}, first), second)
    assert merged["p"] == {
        "requested": 6,
        "generated": 5,
        "accepted": 3,
        "rejected": {"bad": 1, "dup": 2},
        "judged": 3,
        "judge_mean": 7.0,
    }
    assert merged["q"]["accepted"] == 1 and first["p"]["rejected"] == {"dup": 1}  # inputs untouched

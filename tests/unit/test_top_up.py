"""budget_match top-ups (pada/run/topup.py): the runner's bounded loop and what AugGPT and PaDA-Agent give
when asked for more: fresh sample indices (never a cached answer again), nothing already proposed, and for
PaDA-Agent no new analyses."""

from __future__ import annotations

from collections import Counter

import baselines_script  # noqa: F401  (registers the 'test_baselines' script)
import pytest
from teacher_support import teacher_cfg
from test_agent_method import _method, _state
from test_baselines_methods import SEEDS, method, seed, state

from pada.errors import PadaError
from pada.io import read_json
from pada.run import topup
from pada.teacher import build_teacher
from pada.types import Example, Quota


class KeepAll:
    """A held-out check that rejects the questions it lists and keeps the rest."""

    def __init__(self, copies=()):
        self.copies = set(copies)

    def filter(self, examples):
        kept = [ex for ex in examples if ex.prompt not in self.copies]
        return (
            kept,
            Counter({"verbatim": len(examples) - len(kept)}) if len(kept) < len(examples) else Counter(),
            None,
        )


def _ex(i) -> Example:
    return Example(f"x{i}", f"question {i}", "#### 1", "1", "synthetic:t")


def _run(first, more, quota, rounds=3, copies=()):
    filled = topup.Filled(quota, rounds)
    run = topup.TopUp("t", KeepAll(copies), [], None, filled)
    run.add(first, quota, quota.target, None)
    return run.run(more)


def test_remainder_is_the_rest_of_the_target_and_the_room_under_the_limit():
    quota = Quota(limit=10, target=8, teacher_calls=50)
    assert topup.remainder(quota, 3) == Quota(limit=7, target=5, teacher_calls=50)
    assert topup.remainder(Quota(None, None), 3) == Quota(None, None)


def test_no_target_no_top_up():
    filled = _run([_ex(0)], lambda *a: pytest.fail("asked for more without a target"), Quota(5, None))
    assert (filled.stopped, len(filled.rounds), filled.short) == (None, 1, False)


def test_top_ups_stop_at_the_bound_when_the_method_only_repeats_copies():
    asked = []

    def more(quota, proposed, r):
        asked.append((quota.target, len(proposed), r))
        return [Example(f"y{r}", "copy", "#### 1", "1", "synthetic:t")]

    filled = _run([_ex(0)], more, Quota(3, 3), rounds=2, copies={"copy"})
    assert (filled.stopped, len(filled.kept), filled.record()["rounds_used"]) == ("rounds_used", 1, 2)
    assert asked == [(2, 1, 1), (2, 2, 2)]
    assert "budget_match_rounds=2" in filled.why()


def test_an_empty_top_up_without_teacher_effort_means_nothing_more():
    filled = _run([_ex(0)], lambda *a: [], Quota(3, 3))
    assert filled.stopped == "method_has_no_more" and filled.record()["rounds_used"] == 1


def test_a_top_up_over_the_remainder_or_reusing_an_id_is_an_error_not_trimmed():
    with pytest.raises(PadaError, match="over its quota of 2"):
        _run([_ex(0)], lambda *a: [_ex(1), _ex(2), _ex(3)], Quota(3, 3))
    with pytest.raises(PadaError, match="proposed the id 'x0'"):
        _run([_ex(0)], lambda *a: [_ex(0)], Quota(3, 3))


class Recording:
    """Wraps a teacher: every request's (role, sample index, prompt) in order, per call of complete_many."""

    def __init__(self, teacher):
        self.teacher, self.batches = teacher, []
        self.complete_many = self._complete_many

    def _complete_many(self, requests):
        self.batches.append([(r.role, r.sample_index, str(r.messages)) for r in requests])
        return self.teacher.complete_many(requests)

    def __getattr__(self, name):
        return getattr(self.teacher, name)


def test_auggpt_top_ups_ask_each_seed_at_fresh_sample_indices(task, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS[:3])]
    with build_teacher(teacher_cfg("scripted", tmp_path, model="test_baselines")) as teacher:
        recording = Recording(teacher)
        st = state(task, recording, tmp_path, seeds, set())
        st.quota = Quota(limit=3, target=3)
        auggpt = method("auggpt", k=1)
        first = auggpt.propose(st)  # sample 0 of every seed repeats its question: dropped
        st.quota = Quota(limit=3, target=3)
        more = auggpt.propose_more(st, first, 1)  # sample 1: a faithful rewrite
        third = auggpt.propose_more(st, first + more, 2)  # sample 2 changes a number: disagrees
        usage = teacher.usage()["total"]
    assert (len(first), len(more), len(third)) == (0, 3, 0)
    asked = [key for batch in recording.batches for key in batch if key[0] == "paraphrase"]
    assert len(asked) == len(set(asked)) == 9 and usage.get("cache_hits", 0) == 0
    assert sorted(i for _, i, _ in asked) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert [ex.id for ex in more] == [f"s{i}/auggpt/it0/1" for i in range(3)]
    report = read_json(st.workdir / "baseline_report.json")
    assert (report["duplicate"], report["kept"]) == (3, 0)
    assert [r["top_up"] for r in report["top_ups"]] == [1, 2]
    assert report["top_ups"][1]["answer_disagrees"] == 3


def test_auggpt_top_up_goes_to_the_seeds_with_fewest_first(task, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS[:3])]
    with build_teacher(teacher_cfg("scripted", tmp_path, model="test_baselines")) as teacher:
        st = state(task, teacher, tmp_path, seeds, set())
        st.quota = Quota(limit=3, target=3)
        auggpt = method("auggpt", k=1, verify=False, drop_duplicates=False)
        first = auggpt.propose(st)
        st.quota = Quota(limit=2, target=2)
        more = auggpt.propose_more(st, first[:1], 1)  # seeds s1, s2 have none proposed
    assert [ex.meta["parent"] for ex in more] == ["s1", "s2"]


def test_an_auggpt_top_up_without_its_round_has_nothing_more(task, tmp_path):
    with build_teacher(teacher_cfg("scripted", tmp_path, model="test_baselines")) as teacher:
        st = state(task, teacher, tmp_path, [seed(task, 0, 1, 2)], set())
        assert method("auggpt").propose_more(st, [], 1) is None


def test_llm2llm_top_ups_ask_the_wrong_seeds_in_their_own_sample_range(task, tmp_path):
    from baselines.llm2llm import TOP_UP_SAMPLES

    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS)]
    with build_teacher(teacher_cfg("scripted", tmp_path, model="test_baselines")) as teacher:
        recording = Recording(teacher)
        st = state(task, recording, tmp_path, seeds, wrong_ids={"s0", "s2", "s3"})
        st.quota = Quota(limit=3, target=3)
        llm2llm = method("llm2llm")
        first = llm2llm.propose(st)
        before = len(recording.batches)
        st.quota = Quota(limit=2, target=2)
        more = llm2llm.propose_more(st, first[:2], 1)  # as if the runner had rejected s3's problem
    assert sorted(ex.meta["parent"] for ex in more) == ["s0", "s3"]  # the fewest first, then seed order
    assert all("/t1/" in ex.id for ex in more) and not {ex.id for ex in more} & {ex.id for ex in first}
    fresh = [i for batch in recording.batches[before:] for role, i, _ in batch if role == "generation"]
    assert fresh and min(fresh) >= TOP_UP_SAMPLES
    questions = [ex.meta["question"] for ex in first + more]
    assert len(set(questions)) == len(questions)  # the round's ROUGE-L corpus holds the first problems
    report = read_json(st.workdir / "baseline_report.json")
    assert report["kept"] == 3 and report["top_ups"][0]["kept"] == 2


def test_llms_as_instructors_top_ups_reuse_the_analyses_at_the_next_sample_index(task, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS)]
    with build_teacher(teacher_cfg("scripted", tmp_path, model="test_baselines")) as teacher:
        recording = Recording(teacher)
        st = state(task, recording, tmp_path, seeds, wrong_ids={"s0", "s2"})
        st.quota = Quota(limit=2, target=2)
        lai = method("llms_as_instructors", similarity="rouge")
        first = lai.propose(st)
        before = len(recording.batches)
        st.quota = Quota(limit=3, target=3)
        more = lai.propose_more(st, first, 1)
    roles = [role for batch in recording.batches[before:] for role, _, _ in batch]
    assert set(roles) == {"generation"}  # the round's analyses, not new ones
    assert [ex.id for ex in first] == ["s0/llms_as_instructors/it0/0", "s2/llms_as_instructors/it0/0"]
    assert sorted(ex.id for ex in more) == [
        "s0/llms_as_instructors/it0/1",
        "s0/llms_as_instructors/it0/2",
        "s2/llms_as_instructors/it0/1",
    ]
    report = read_json(st.workdir / "baseline_report.json")
    assert report["kept"] == 2 and report["top_ups"] == [{"top_up": 1, "requested": 3, "kept": 3}]


def test_pada_top_up_reuses_its_patterns_and_asks_fresh_samples(tmp_path, task):
    pada = _method()
    with build_teacher(teacher_cfg("scripted", tmp_path, model="agent_test")) as teacher:
        recording = Recording(teacher)
        st = _state(tmp_path, recording, task)
        st.quota = Quota(limit=6, target=6)
        first = pada.propose(st)
        before = len(recording.batches)
        st.quota = Quota(limit=2, target=2)
        more = pada.propose_more(st, first, 1)
    roles = {role for batch in recording.batches[before:] for role, _, _ in batch}
    assert roles <= {"generation", "verification"}  # no analyses, summaries or strategies again
    samples = [(i, p) for batch in recording.batches for role, i, p in batch if role == "generation"]
    fresh = [i for batch in recording.batches[before:] for role, i, _ in batch if role == "generation"]
    assert len(samples) == len(set(samples)) and fresh and min(fresh) >= topup_samples()
    assert len(more) == 2 and [ex.id for ex in more] == [f"pada/i0/{i}" for i in (6, 7)]
    assert {ex.meta["pattern"] for ex in more} <= {"carrying", "multi-step", "error_correction"}
    report = read_json(tmp_path / "patterns.json")
    assert report["accepted"] == len(first) + 2
    assert report["top_ups"] == [{"top_up": 1, "requested": 2, "accepted": 2}]


def topup_samples() -> int:
    from pada.agent.method import TOP_UP_SAMPLES

    return TOP_UP_SAMPLES


@pytest.fixture
def task():
    from conftest import compose_config

    from pada.tasks.base import build_task

    return build_task(compose_config(["task=gsm8k"]).task)


def test_budget_match_rounds_names_a_cell_only_under_budget_match():
    from conftest import compose_config
    from omegaconf import OmegaConf

    from pada.run.identity import identity_of

    cfg = OmegaConf.to_container(compose_config([]), resolve=True)
    assert cfg["budget_match_rounds"] == 3 and not cfg["budget_match"]
    without = {k: v for k, v in cfg.items() if k != "budget_match_rounds"}
    assert identity_of(cfg) == identity_of(without)  # unmatched cells keep their names
    matched = {**cfg, "budget_match": True}
    assert identity_of(matched) != identity_of({**matched, "budget_match_rounds": 0})


@pytest.mark.parametrize("value", ["-1", "1.5"])
def test_a_bad_budget_match_rounds_is_one_error(value):
    from conftest import compose_config

    from pada.run import fairness

    cfg = compose_config([f"budget_match_rounds={value}"])
    with pytest.raises(PadaError, match="budget_match_rounds"):
        fairness.check_config(cfg, type("M", (), {"needs_val_eval": False})())

"""Each baseline's propose() on hand-made seeds and student records, with the deterministic scripted teacher
of baselines_script.py: exact data out, the selection rules, the budget caps and the per-stage report."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import baselines_script  # noqa: F401  (registers the 'test_baselines' script)
import pytest
from conftest import CONF_DIR, compose_config
from omegaconf import OmegaConf
from teacher_support import teacher_cfg

from baselines.common import rouge_l, rouge_tokens
from baselines.llm2llm import Deduplicator, parse_numbered
from pada.errors import PadaError
from pada.io import read_json
from pada.methods.base import IterationState, build_method
from pada.tasks.base import build_task
from pada.teacher import Teacher
from pada.types import EvalRecord, Example, Quota

SEEDS = [(5, 7), (3, 4), (10, 2), (8, 8)]  # (apples owned, apples bought) of seeds s0..s3


@pytest.fixture(scope="module")
def task():
    return build_task(compose_config(["task=gsm8k"]).task)


@pytest.fixture
def teacher(tmp_path):
    with Teacher(teacher_cfg("scripted", tmp_path, model="test_baselines"), tmp_path / "t.sqlite") as t:
        yield t


def question(a: int, b: int, name: str = "Tom", thing: str = "apples") -> str:
    return f"{name} has {a} {thing} and buys {b} more. How many {thing}?"


def seed(task, i: int, a: int, b: int, source: str = "seed") -> Example:
    q = question(a, b)
    return Example(
        f"s{i}",
        task.user_prompt(q),
        f"{a} + {b} = {a + b}\n#### {a + b}",
        str(a + b),
        source,
        {"question": q},
    )


def state(task, teacher, tmp_path, seeds, wrong_ids, iteration=0, extra=()) -> IterationState:
    train = [*seeds, *extra]
    records = [EvalRecord(ex.id, ex.prompt, "#### 0", "0", ex.answer, ex.id not in wrong_ids) for ex in train]
    workdir = tmp_path / f"augment_{iteration}"
    workdir.mkdir(exist_ok=True)
    return IterationState(iteration, task, seeds, train, records, [], teacher, random.Random(0), workdir)


def method(name: str, **overrides):
    cfg = OmegaConf.load(CONF_DIR / "method" / f"{name}.yaml")
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return build_method(cfg)


# -- AugGPT ------------------------------------------------------------------------------------------
def test_auggpt_k_paraphrases_per_seed_with_duplicates_and_disagreements_dropped(task, teacher, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS[:3])]
    st = state(task, teacher, tmp_path, seeds, wrong_ids=set())
    new = method("auggpt", k=4).propose(st)
    # sample 0 repeats the question (duplicate), sample 2 changes a number (verification disagrees)
    assert [ex.id for ex in new] == [f"s{i}/auggpt/it0/{j}" for i in range(3) for j in (1, 3)]
    first = new[0]
    assert (
        first.meta["question"] == "Tom buys 7 more apples, having 5 apples before. How many apples now (v1)?"
    )
    assert first.prompt == task.user_prompt(first.meta["question"])
    assert (first.target, first.answer, first.source, first.meta["parent"]) == (
        seeds[0].target,
        "12",
        "synthetic:auggpt",
        "s0",
    )
    report = read_json(st.workdir / "baseline_report.json")
    assert (report["requested"], report["duplicate"], report["answer_disagrees"], report["kept"]) == (
        12,
        3,
        3,
        6,
    )
    usage = teacher.usage()["roles"]
    assert (usage["paraphrase"]["requests"], usage["verification"]["requests"]) == (12, 9)


def test_auggpt_without_verification_keeps_every_non_duplicate(task, teacher, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS[:3])]
    new = method("auggpt", k=4, verify=False).propose(state(task, teacher, tmp_path, seeds, set()))
    assert len(new) == 3 * 3 and "verification" not in teacher.usage()["roles"]


def test_auggpt_budget_cap_spreads_requests_over_seeds(task, teacher, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS[:3])]
    st = state(task, teacher, tmp_path, seeds, set())
    st.quota = Quota(limit=5)  # the runner's synthetic_per_iteration / synthetic_budget
    new = method("auggpt", k=4, verify=False, drop_duplicates=False).propose(st)
    per_seed = sorted(sum(ex.meta["parent"] == s.id for ex in new) for s in seeds)
    assert len(new) == 5 and per_seed == [1, 2, 2]  # floor(5/3)=1 each, 2 more to a seeded random pair


def test_auggpt_budget_match_asks_more_paraphrases_per_seed(task, teacher, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS[:3])]
    st = state(task, teacher, tmp_path, seeds, set())
    st.quota = Quota(limit=20, target=10)  # budget_match: raised from k=2 to reach 10
    new = method("auggpt", k=2, verify=False, drop_duplicates=False).propose(st)
    assert len(new) == 10


# -- LLM2LLM -----------------------------------------------------------------------------------------
def test_llm2llm_only_wrong_seeds_one_new_problem_each(task, teacher, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS)]
    synthetic = Example(
        "x0", "p", "t", "1", "synthetic:llm2llm", {"question": question(1, 2, "Ann", "pears")}
    )
    st = state(task, teacher, tmp_path, seeds, wrong_ids={"s0", "s2", "s3", "x0"}, extra=[synthetic])
    new = method("llm2llm").propose(st)
    # attempt 0 (1 sample) copies the seed and fails ROUGE-L; attempt 1 (2 samples) keeps the first
    assert [ex.meta["parent"] for ex in new] == ["s0", "s2", "s3"]
    a, b = SEEDS[0]
    assert new[0].meta["question"] == question(a + 1100, b, "Ann", "pears")
    assert new[0].target == f"{a + 1100} + {b} = {a + 1100 + b}\n#### {a + 1100 + b}"
    assert (new[0].answer, new[0].id) == (str(a + 1100 + b), "s0/llm2llm/it0/a1/0")
    report = read_json(st.workdir / "baseline_report.json")
    assert (report["wrong_train"], report["wrong_used"], report["too_similar"], report["requests"]) == (
        4,
        3,
        3,
        9,
    )
    assert report["wrong_ids"] == ["s0", "s2", "s3"] and report["seeds_unfilled"] == 0


def test_llm2llm_next_step_asks_anew(task, teacher, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS)]
    first = method("llm2llm").propose(state(task, teacher, tmp_path, seeds, {"s0"}))
    second = method("llm2llm").propose(
        state(task, teacher, tmp_path, seeds, {"s0"}, iteration=1, extra=first)
    )
    a, b = SEEDS[0]
    assert second[0].meta["question"] == question(a + 100100, b, "Ann", "pears")  # step 1 samples afresh


def test_llm2llm_seeds_only_off_reaugments_synthetic_errors(task, teacher, tmp_path):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS)]
    synthetic = Example(
        "x0", "p", "t", "3", "synthetic:llm2llm", {"question": question(1, 2, "Ann", "pears")}
    )
    st = state(task, teacher, tmp_path, seeds, {"s1", "x0"}, extra=[synthetic])
    new = method("llm2llm", seeds_only=False).propose(st)
    assert [ex.meta["parent"] for ex in new] == ["s1", "x0"]


def test_llm2llm_rouge_threshold_and_blacklist():
    corpus = Deduplicator(0.95)
    corpus.add(question(5, 7))
    assert not corpus.novel(question(5, 7))
    assert corpus.novel(question(6, 7))  # 10 of 11 tokens shared: F1 0.909 < 0.95
    strict = Deduplicator(0.9)
    strict.add(question(5, 7))
    assert not strict.novel(question(6, 7))
    assert not method("llm2llm")._blacklisted("Look at the graph below.")  # official: defined, never applied
    blocked = method("llm2llm", apply_blacklist=True)
    assert blocked._blacklisted("Look at the graph below.") and not blocked._blacklisted(
        "Read the paragraph."
    )


def test_llm2llm_official_steps_are_ten_trainings():
    assert (
        compose_config(["method=llm2llm"]).method.loop.iterations == 9
    )  # + 1 = 10 trainings (official steps: 10)
    assert (
        compose_config(["experiment=table2_v1", "method=llm2llm"]).method.loop.iterations == 10
    )  # v1 as it ran


def test_llm2llm_numbered_response_format():
    text = "1. Question: Ann has 3 pears. How many?\nAnswer: 3\n#### 3\n2. Question: Q2?\nAnswer: 1 + 1 = 2\n#### 2\n"
    assert parse_numbered(text) == [
        ("Ann has 3 pears. How many?", "3\n#### 3", "3"),
        ("Q2?", "1 + 1 = 2\n#### 2", "2"),
    ]


@pytest.mark.parametrize(
    "text, finish_reason, expected",
    [
        # "Answer:" on the question's line and the preamble before block 1: split as the official code splits
        ("Sure!\n1. Question: Q1? Answer: 1 + 1 = 2 #### 2", "stop", [("Q1?", "1 + 1 = 2\n#### 2", "2")]),
        # the whole first line after '####' is the answer, units included
        (
            "1. Question: Q1?\nAnswer: 5 * 8 = 40\n#### 40 dollars\nThanks",
            "stop",
            [("Q1?", "5 * 8 = 40\n#### 40 dollars", "40 dollars")],
        ),
        # a block with two '####' or two 'Answer:' is skipped, the others kept
        (
            "1. Question: Q1?\nAnswer: 2\n#### 2\n#### 3\n2. Question: Q2?\nAnswer: 4\n#### 4",
            "stop",
            [("Q2?", "4\n#### 4", "4")],
        ),
        ("1. Question: Q1?\nAnswer: 2 Answer: 3\n#### 3", "stop", []),
        # 'N.Question:' without whitespace is no block boundary (official [0-9]{1,2}\.\s+Question:): the
        # whole reply is one block, whose question keeps the prefix
        ("1.Question: Q1?\nAnswer: 2\n#### 2", "stop", [("1.Question: Q1?", "2\n#### 2", "2")]),
        # a reply cut at max_tokens: its last block is dropped even when it parses
        (
            "1. Question: Q1?\nAnswer: 2\n#### 2\n2. Question: Q2?\nAnswer: 4\n#### 4",
            "length",
            [("Q1?", "2\n#### 2", "2")],
        ),
        # a block whose text starts with punctuation or a non-ASCII character, or 'Write a program', is dropped
        ('1. Question:"Q1?"\nAnswer: 2\n#### 2', "stop", []),
        ("1. Question:\u00bfQ1?\nAnswer: 2\n#### 2", "stop", []),
    ],
)
def test_llm2llm_numbered_parser_follows_the_official_post_process(text, finish_reason, expected):
    """SqueezeAILab/LLM2LLM GSM8K/generate_data.py post_process_gpt3_response, case by case."""
    assert parse_numbered(text, finish_reason) == expected


def test_llm2llm_dedups_against_this_rounds_wrong_seeds_and_new_problems(task, teacher, tmp_path):
    """Official generate_data.py: the ROUGE-L corpus is the step's seed file (its wrong seeds) plus the
    problems kept in this step, not the whole training set: an earlier round's item does not block."""
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS)]
    a, b = SEEDS[0]
    earlier = Example(
        "x0", "p", "t", "1", "synthetic:llm2llm", {"question": question(a + 1100, b, "Ann", "pears")}
    )
    st = state(task, teacher, tmp_path, seeds, {"s0"}, iteration=0, extra=[earlier])
    new = method("llm2llm").propose(st)
    assert [ex.id for ex in new] == ["s0/llm2llm/it0/a1/0"]  # the copy of x0 is kept, as officially
    assert new[0].meta["question"] == question(a + 1100, b, "Ann", "pears")
    report = read_json(st.workdir / "baseline_report.json")
    assert report["too_similar"] == 1  # attempt 0 copied the wrong seed itself: in the corpus, rejected
    cumulative = method("llm2llm", dedup_against="train_data").propose(st)  # pada 1.0's rule, a switch
    assert [ex.id for ex in cumulative] == ["s0/llm2llm/it0/a1/1"]


def test_llm2llm_keeps_a_problem_at_exactly_the_rouge_threshold():
    """Official: ``if max(rouge_scores) > rouge_score_threshold: continue``, so a tie is kept."""
    corpus = Deduplicator(0.5)
    corpus.add("a b")
    assert rouge_l(rouge_tokens("a c"), rouge_tokens("a b")) == 0.5
    assert corpus.novel("a c") and not corpus.novel("a b")


def test_llm2llm_asks_per_seed_plus_attempt_problems(task, teacher, tmp_path):
    """Official: attempt a asks min(instructions_per_seed_task + a, 10) problems (per_seed + a here)."""
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS)]
    st = state(task, teacher, tmp_path, seeds, {"s0"})
    method("llm2llm", per_seed=3, max_attempts=1).propose(st)
    report = read_json(st.workdir / "baseline_report.json")
    assert (report["problems_requested"], report["requests"]) == (3, 3)


def test_llm2llm_evaluates_the_training_set_at_the_official_length(task):
    """Official eval.py generates at most 100 new tokens on the training set; tasks with a shorter limit
    keep theirs, code tasks keep theirs (the official code has none); null = the task's own."""
    assert method("llm2llm").train_eval_max_new_tokens(task) == 100  # gsm8k: the task's own is 256
    sim = build_task(compose_config(["task=sim_arith"]).task)
    assert method("llm2llm").train_eval_max_new_tokens(sim) is None  # 24 < 100: its own
    assert method("llm2llm", train_eval_max_new_tokens=None).train_eval_max_new_tokens(task) is None
    mbpp = build_task(compose_config(["task=mbpp"]).task)
    assert method("llm2llm").train_eval_max_new_tokens(mbpp) is None


# -- LLMs-as-Instructors -----------------------------------------------------------------------------
@pytest.mark.parametrize("strategy, skill", [("le", "addition (0)"), ("lec", "addition (2)")])
def test_llms_as_instructors_analyses_each_error_then_generates(task, teacher, tmp_path, strategy, skill):
    seeds = [seed(task, i, a, b) for i, (a, b) in enumerate(SEEDS)]
    st = state(task, teacher, tmp_path, seeds, {"s0", "s2"})
    new = method("llms_as_instructors", strategy=strategy, similarity="rouge").propose(st)
    a, b = SEEDS[0]
    assert [ex.meta["parent"] for ex in new] == ["s0", "s2"]
    assert new[0].meta["question"] == question(a + 100, b, "Ann", "pears")
    report = read_json(st.workdir / "baseline_report.json")
    assert report["analyses"]["s0"] == {"error": f"added {a} and {b} wrongly", "missing_skill": skill}
    assert (report["wrong"], report["right"], report["kept"]) == (2, 2, 2)


def test_lec_neighbours_are_the_most_similar_right_answers(task):
    m = method("llms_as_instructors", similarity="rouge", contrast_k=1)
    wrong = [seed(task, 0, 5, 7)]
    right = [seed(task, 1, 30, 40), seed(task, 2, 5, 8)]
    assert [ex.id for ex in m._neighbours(wrong, right)[0]] == ["s2"]


def test_bad_strategy_is_one_clear_error():
    with pytest.raises(PadaError, match="method.strategy='x'; choose le"):
        method("llms_as_instructors", strategy="x")


def test_methods_need_a_teacher(task, tmp_path):
    st = state(task, None, tmp_path, [seed(task, 0, 1, 2)], {"s0"})
    with pytest.raises(PadaError, match="method 'llm2llm' needs a teacher"):
        method("llm2llm").propose(st)


def test_base_refuses_training():
    with pytest.raises(PadaError, match="method 'base' evaluates the untrained model"):
        method("base", train=True)


@pytest.mark.slow  # loads the bundled MiniLM sentence embedder (~15 s on the shared host)
def test_lec_embedding_neighbours_follow_meaning(task):
    m = method("llms_as_instructors", contrast_k=1)
    mk = lambda i, q: Example(i, q, "t", "1", meta={"question": q})  # noqa: E731
    right = [
        mk("geo", "What is the capital of France?"),
        mk("pears", "Ann owns 3 pears and gets 2 more; total?"),
    ]
    assert [ex.id for ex in m._neighbours([mk("w", question(5, 7))], right)[0]] == ["pears"]


def test_rouge_l_equals_rouge_score_scorer():
    """Checked in a subprocess: importing rouge_score.rouge_scorer here would load absl logging into pytest."""
    pairs = [(question(5, 7), question(6, 7)), ("a b c d", "d c b a"), ("The cat sat.", "the CAT sat on it")]
    code = (
        "import json, sys; from rouge_score import rouge_scorer as r; s = r.RougeScorer(['rougeL']); "
        "print(json.dumps([s.score(a, b)['rougeL'].fmeasure for a, b in json.loads(sys.argv[1])]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(pairs)], capture_output=True, text=True, check=True
    )
    ours = [rouge_l(rouge_tokens(a), rouge_tokens(b)) for a, b in pairs]
    assert ours == pytest.approx(json.loads(out.stdout)) and ours[0] == pytest.approx(10 / 11)

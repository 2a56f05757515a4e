"""The runner's fairness checks (pada/run/fairness.py): quotas for every method, held-out protection of
every method's output, validation needed but not scored, and results.json accounting."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import planted_method
import pytest
from conftest import compose_config

from analysis.collect import collect_runs
from pada.errors import PadaError
from pada.run import fairness
from pada.run.fairness import Decontaminator, Quota, fingerprint, near_copy, quota_for
from pada.run.runner import run_cell
from pada.types import Example

TEST_QUESTION = "Tom has 14 apples. He buys 7 bags with 3 apples each and gives 5 away. How many apples now?"
ONE_CHANGED = "Tom has 14 apples. He buys 9 bags with 3 apples each and gives 5 away. How many apples now?"
# one number changed, sentences reordered, a word dropped: n-gram overlap misses it, the near-copy test not
DISGUISED = "He buys 9 bags with 3 apples each, gives 5 away. Tom has 14 apples. How many apples now?"


def _held(*questions: str) -> list[Example]:
    return [Example(f"test/{i}", q, "#### 1", "1", meta={"question": q}) for i, q in enumerate(questions)]


def _ex(question: str) -> Example:
    return planted_method.planted(question, "x")


@pytest.mark.parametrize(
    "copy",
    [
        ONE_CHANGED,  # one number changed
        DISGUISED,
        "Tom has 14 apples. He buys 7 bags with 3 apples each and gives 5 away. How many apples now?",
        "He buys 7 bags with 3 apples each and gives 5 away. Tom has 14 apples. How many apples now?",  # reordered
        "TOM HAS 14 APPLES; he buys 7 bags with 3 apples each, and gives 5 away -- how many apples now",
    ],
)
def test_near_copies_of_a_test_item_are_rejected(copy):
    assert Decontaminator(_held(TEST_QUESTION)).reason(_ex(copy)) is not None


@pytest.mark.parametrize("copy", [ONE_CHANGED, DISGUISED, TEST_QUESTION + " Explain each step."])
@pytest.mark.parametrize("meta", [{"question": "stub"}, {}])
def test_surface_checks_read_the_rendered_prompt_not_meta(copy, meta):
    """A method that stubs meta['question'] (issue 28) does not get past the surface checks: they read the
    question slot of the rendered prompt the student trains on (the semantic check off, to see them alone)."""
    cfg = compose_config(["task=gsm8k", "decontamination.semantic.enabled=false"])
    render = cfg.task.prompt_template.format
    held = [
        Example("test/0", render(question=TEST_QUESTION), "#### 30", "30", meta={"question": TEST_QUESTION})
    ]
    stubbed = Example("p/0", render(question=copy), "It is 1.\n#### 1", "1", "synthetic:planted", meta)
    assert fairness.build_decontaminator(cfg, held).reason(stubbed) is not None


def test_a_held_out_question_restated_in_the_target_is_rejected():
    decon = Decontaminator(_held(TEST_QUESTION))
    reordered = "He buys 7 bags with 3 apples each, gives 5 away. Tom has 14 apples. How many apples now?"
    moved = Example("p/0", "Solve the problem below.", f"{reordered}\n#### 30", "30", meta={})
    assert decon.reason(moved) is not None


def test_unit_rewrites_are_near_copies():
    held = "Mia pays $12 for 3 pens and $4 for 2 pads at the shop. How much does she pay in all?"
    copy = (
        "Mia pays 12 dollars for 3 pens and 5 dollars for 2 pads at the shop. How much does she pay in all?"
    )
    assert near_copy(fingerprint(copy), fingerprint(held), 0.6)


def test_fresh_problems_pass():
    decon = Decontaminator(_held(TEST_QUESTION, "What is 5 plus 3?"))
    fresh = [
        "Ana has 20 cards. She buys 2 packs of 6 cards and loses 1. How many cards now?",
        "Tom has 30 apples. He buys 2 bags with 8 apples each and gives 4 away. How many apples now?",
        "What is 5 plus 4?",
    ]  # two-number template, one number changed: a fresh draw, not a copy
    assert [decon.reason(_ex(q)) for q in fresh] == [None, None, None]


def test_quota_spreads_a_matched_budget_over_the_rounds_left():
    cfg = compose_config(["synthetic_budget=256", "budget_match=true"])
    assert quota_for(cfg, 0, 3, 0) == Quota(256, 86)
    assert quota_for(cfg, 1, 3, 86) == Quota(170, 85)
    assert quota_for(compose_config(["synthetic_budget=10"]), 0, 3, 4) == Quota(6, None)
    assert quota_for(compose_config([]), 0, 3, 0) == Quota(None, None)
    per = compose_config(["synthetic_per_iteration=5", "budget_match=true"])
    assert quota_for(per, 2, 3, 10) == Quota(5, 5)


def test_over_quota_output_is_an_error_not_trimmed():
    with pytest.raises(PadaError, match="over its quota of 2"):
        fairness.check_quota("auggpt", [_ex("a"), _ex("b"), _ex("c")], Quota(2, None))
    fairness.check_quota("auggpt", [_ex("a")], Quota(2, None))


def test_moved_method_budget_keys_are_errors_not_ignored():
    from pada.methods.base import build_method

    cfg = compose_config(["method=pada", "+method.max_new_total=50", "+embedder=bundled:all-MiniLM-L6-v2"])
    with pytest.raises(PadaError, match="synthetic_budget=50"):
        fairness.check_config(cfg, build_method(cfg.method))


# -- through the runner ------------------------------------------------------------------------------
@pytest.fixture
def three_number_data(tmp_path) -> Path:
    """A GSM8K-format dataset whose test item 0 is TEST_QUESTION (items with three numbers or more)."""
    folder = tmp_path / "data" / "gsm8k"
    folder.mkdir(parents=True)
    rng = random.Random(1)
    rows = {
        "train.jsonl": [],
        "test.jsonl": [{"question": TEST_QUESTION, "answer": "14 + 21 - 5 = 30\n#### 30"}],
    }
    for name, n in (("train.jsonl", 40), ("test.jsonl", 7)):
        for _ in range(n):
            a, b, c = rng.randint(1, 20), rng.randint(2, 9), rng.randint(2, 9)
            rows[name].append(
                {
                    "question": f"Sam has {a} cards and buys {b} packs of {c} cards. How many cards?",
                    "answer": f"{a} + {b} * {c} = {a + b * c}\n#### {a + b * c}",
                }
            )
    for name, items in rows.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in items))
    return folder.parent


PLANTED = [
    "method=sft",
    "method._target_=planted_method.Planted",
    "method.name=planted",
    "method.loop.iterations=1",
]


def _overrides(tmp_path, data, model_cache, *extra):
    return [
        f"paths.runs_dir={tmp_path / 'runs'}",
        f"paths.data_dir={data}",
        f"paths.cache_dir={model_cache}",
        "budget=8",
        "task.val_size=6",
        "trainer.max_steps=2",
        "trainer.batch_size=4",
        "trainer.grad_accum=1",
        "eval.max_new_tokens=4",
        "wandb.mode=disabled",
        *extra,
    ]


def test_runner_rejects_a_planted_near_copy_and_counts_it(tmp_path, three_number_data, model_cache):
    fresh = "Lea has 40 stamps and buys 3 albums of 11 stamps, then sells 6. How many stamps?"
    cfg = compose_config(
        _overrides(
            tmp_path, three_number_data, model_cache, *PLANTED, f"+method.plant=['{DISGUISED}','{fresh}']"
        )
    )
    results = run_cell(cfg)
    assert results["data"]["synthetic"] == 1 and results["data"]["rejected"] == {"near_duplicate": 1}
    assert results["data"]["synthetic_per_iteration"] == [1]
    state = planted_method.SEEN[-1]
    assert state.val_records == [] and not hasattr(state, "heldout")  # no validation/test item reaches it
    steps = results["training"]["optimizer_steps"]
    assert steps == {"per_iteration": [2, 2], "total": 4, "tested": 2}


def test_runner_rejects_prompt_echoes_of_templates_and_of_the_method_s_own_text(
    tmp_path, three_number_data, model_cache
):
    """An item that repeats a shipped template's instructions, or the method's own ``instruction_texts``,
    is dropped and counted like a held-out copy (pada/run/echo.py); a fresh problem is kept."""
    template_echo = "The student was given this problem, shown with its correct answer: Tom has 3 apples."
    own_echo = "Make the student practise counting with a brand new problem about it. Tom has 2 cats."
    fresh = "Lea has 40 stamps and buys 3 albums of 11 stamps, then sells 6. How many stamps?"
    plant = f"+method.plant=['{template_echo}','{own_echo}','{fresh}']"
    guided = ["method._target_=planted_method.PlantedWithGuidance", "method.name=planted_guidance"]
    cfg = compose_config(_overrides(tmp_path, three_number_data, model_cache, *PLANTED, *guided, plant))
    results = run_cell(cfg)
    assert results["data"]["synthetic"] == 1 and results["data"]["rejected"] == {"prompt_echo": 2}


def test_runner_rejects_over_quota_output(tmp_path, three_number_data, model_cache):
    cfg = compose_config(
        _overrides(
            tmp_path,
            three_number_data,
            model_cache,
            *PLANTED,
            "synthetic_budget=1",
            "+method.plant=['Lea has 4 stamps and 9 more.','Sam has 2 cats and 3 dogs.']",
        )
    )
    with pytest.raises(PadaError, match="proposed 2 examples, over its quota of 1"):
        run_cell(cfg)
    assert not (Path(cfg.paths.runs_dir) / "results.json").exists()


def test_eval_val_false_with_pada_is_one_error_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pada.cli",
            "run",
            "experiment=sim",
            "method=pada",
            "run.eval_val=false",
            f"paths.runs_dir={tmp_path}",
            "wandb.mode=disabled",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "pada: error: method=pada reads validation failures, but run.eval_val=false; set run.eval_val=true "
        "(or choose a method that needs no validation)"
    ]
    assert not list(tmp_path.glob("*/.done.json")) and not list(tmp_path.glob("*/*/.done.json"))


def test_equal_information_control_trains_on_seed_plus_validation(tiny_cell_overrides):
    results = run_cell(compose_config([*tiny_cell_overrides, "method=sft_val"]))
    data = results["data"]
    assert (data["seed"], data["validation_trained"], data["final_train"], data["synthetic"]) == (
        16,
        10,
        26,
        0,
    )
    assert results["iterations"][0]["train_examples"] == 26


SFT = type("SFT", (), {"needs_val_eval": False})()
GENERATIVE = ["auggpt", "llm2llm", "llms_as_instructors", "pada", "pada_no_val"]


def test_budget_match_brings_every_generative_method_to_the_same_count(tmp_path, model_cache):
    """Every generative method of a sweep, one matched quota: each adds exactly 12 synthetic examples, or
    records by how much it fell short and why (nothing is silently different); match_steps gives every
    training round of every method the same optimizer steps."""
    base = [
        "task=sim_arith",
        "teacher=sim_oracle",
        "budget=8",
        "task.val_size=10",
        "task.test_size=6",
        "trainer.match_steps=true",
        "eval.max_new_tokens=4",
        f"paths.runs_dir={tmp_path}",
        f"paths.cache_dir={model_cache}",
        "wandb.mode=disabled",
        "+embedder=bundled:all-MiniLM-L6-v2",
        "synthetic_budget=12",
        "budget_match=true",
    ]
    counts = {}
    for name in GENERATIVE:
        extra = [] if name == "auggpt" else ["method.loop.iterations=2"]
        extra += ["method.similarity=rouge"] if name == "llms_as_instructors" else []
        results = run_cell(compose_config([*base, f"method={name}", *extra]))
        data, steps = results["data"], results["training"]["optimizer_steps"]
        assert set(steps["per_iteration"]) == {6} and steps["tested"] == 6  # 3 epochs x ceil((8 + 12) / 16)
        assert all(s["why"] and s["short_by"] > 0 for s in data["shortfall"].values())
        assert data["synthetic"] == sum(data["synthetic_per_iteration"]) <= 12
        assert data["synthetic"] == 12 or data["shortfall"]  # short of the quota only with a recorded reason
        counts[name] = data["synthetic"]
    assert min(counts.values()) >= 10, counts  # shortfalls are the exception, not the rule


def test_match_steps_is_the_steps_of_the_matched_dataset():
    cfg = compose_config(["experiment=sim", "synthetic_budget=256", "trainer.match_steps=true"])
    assert fairness.trainer_config(cfg).max_steps == 240  # 10 epochs x ceil((128 + 256) / 16)
    per_seed = compose_config(["experiment=sim", "synthetic_per_seed=2", "trainer.match_steps=true"])
    assert fairness.trainer_config(per_seed).max_steps == 240 and fairness.synthetic_total(per_seed) == 256
    with pytest.raises(PadaError, match="unset trainer.max_steps"):
        fairness.check_config(compose_config(["trainer.match_steps=true", "trainer.max_steps=5"]), SFT)


@pytest.mark.slow  # ~30 s: five cells; the probe-method test above covers the same runner path in the fast suite
@pytest.mark.parametrize("name", ["auggpt", "llm2llm", "llms_as_instructors", "pada", "sft_val"])
def test_every_method_s_planted_near_copy_is_rejected(
    name, tmp_path, three_number_data, model_cache, monkeypatch
):
    """Whatever the method (its class, its needs, a control that trains on validation), the runner drops a
    near-copy of a test item from its output: each method's propose is replaced by one that plants it."""
    from pada.methods.base import build_method

    cfg = compose_config(
        [
            *_overrides(tmp_path, three_number_data, model_cache),
            f"method={name}",
            "method.loop.iterations=1",
            "teacher=scripted",
            "+embedder=bundled:all-MiniLM-L6-v2",
            *(["method.similarity=rouge"] if name == "llms_as_instructors" else []),
        ]
    )
    cls = type(build_method(cfg.method))
    assert cls.__module__.startswith(("baselines.", "pada.agent."))  # the real method's class
    monkeypatch.setattr(cls, "propose", lambda self, state: [planted_method.planted(DISGUISED, "p/0")])
    monkeypatch.setattr(cls, "after_next_eval", lambda *args: None)  # pada scores a report it did not write
    results = run_cell(cfg)
    assert results["data"]["synthetic"] == 0 and results["data"]["rejected"] == {"near_duplicate": 1}


def test_preflight_reports_an_unfair_config_before_submission():
    from pada.preflight.checks import check_method

    cfg = compose_config(["experiment=sim", "method=pada", "run.eval_val=false"])
    assert check_method(cfg).startswith("pada on sim_arith: method=pada reads validation failures")


@pytest.mark.parametrize(
    ("ids", "sources", "message"),
    [
        (["n/0", "n/0"], ["synthetic:m"] * 2, r"method m proposed the id 'n/0' twice"),
        (["s/1"], ["synthetic:m"], r"method m proposed the id 's/1', already in the training data"),
        (["n/0"], ["seed"], r"method m proposed 'n/0' with source 'seed'; label it synthetic:<method>"),
        (["n/0"], [""], r"with source ''; label it synthetic:<method>"),
    ],
)
def test_new_ids_must_be_unique_and_labelled_synthetic(ids, sources, message):
    train = [Example("s/1", "q", "t", "1")]
    new = [Example(i, "q", "t", "1", source) for i, source in zip(ids, sources, strict=True)]
    with pytest.raises(PadaError, match=message):
        fairness.check_output("m", new, train)
    fairness.check_output("m", [Example("n/0", "q", "t", "1", "synthetic:m")], train)  # the right shape


def test_the_runner_checks_every_methods_ids(tmp_path, three_number_data, model_cache, monkeypatch):
    same = [planted_method.planted("Lea has 4 stamps and 9 more.", "p/0")] * 2
    monkeypatch.setattr(planted_method.Planted, "propose", lambda self, state: same)
    cfg = compose_config(_overrides(tmp_path, three_number_data, model_cache, *PLANTED, "+method.plant=[]"))
    with pytest.raises(PadaError, match="method planted proposed the id 'p/0' twice"):
        run_cell(cfg)
    assert not list(Path(cfg.paths.runs_dir).glob("*/augment_0/.done.json"))


# -- budget_match top-ups (pada/run/topup.py) -----------------------------------------------------------
MORE = [*PLANTED[:1], "method._target_=planted_method.PlantedMore", "method.name=planted_more", *PLANTED[3:]]
FRESH = "Lea has 40 stamps and buys 3 albums of 11 stamps, then sells 6. How many stamps?"
FRESH_2 = "Max has 25 coins and buys 4 rolls of 12 coins, then spends 9. How many coins?"


def test_the_runner_tops_a_short_round_up_with_what_the_method_gives_more(
    tmp_path, three_number_data, model_cache
):
    """The first proposal loses a held-out near-copy; the runner asks for the rest: a top-up that plants
    another near-copy is checked the same way, the next fresh item reaches the target."""
    plant = f"+method.plant=['{DISGUISED}','{FRESH}']"
    more = f"+method.more=[['{ONE_CHANGED}'],['{FRESH_2}']]"
    extra = ("synthetic_budget=2", "budget_match=true", plant, more)
    cfg = compose_config(_overrides(tmp_path, three_number_data, model_cache, *MORE, *extra))
    results = run_cell(cfg)
    data = results["data"]
    assert (data["synthetic"], data["shortfall"], sum(data["rejected"].values())) == (2, {}, 2)
    top_up = data["top_up"][0]
    assert (top_up["stopped"], top_up["rounds_used"], top_up["max_rounds"]) == ("target_reached", 2, 3)
    rows = [(r["asked"], r["proposed"], r["kept"], sum(r["rejected"].values())) for r in top_up["per_round"]]
    assert rows == [(2, 2, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0)]
    asked = [(s.quota.limit, s.quota.target) for s in planted_method.SEEN[-3:]]
    assert asked == [(2, 2), (1, 1), (1, 1)]  # each top-up is asked for the remainder only
    cells = collect_runs(Path(cfg.paths.runs_dir)).cells  # what pada analyze reads of the saved record
    counts = dict(zip(cells["metric"], cells["value"], strict=True))
    assert {k: v for k, v in counts.items() if k.startswith("top_up/")} == {
        "top_up/rounds": 1.0,
        "top_up/needed": 1.0,
        "top_up/used": 2.0,
        "top_up/added": 1.0,
        "top_up/stopped/target_reached": 1.0,
    }


def test_a_method_with_nothing_more_stops_the_top_up_with_the_shortfall_flag(
    tmp_path, three_number_data, model_cache
):
    extra = ("synthetic_budget=3", "budget_match=true", f"+method.plant=['{DISGUISED}','{FRESH}']")
    results = run_cell(compose_config(_overrides(tmp_path, three_number_data, model_cache, *PLANTED, *extra)))
    data = results["data"]
    assert data["synthetic"] == 1
    top_up = data["top_up"][0]
    assert (top_up["stopped"], top_up["rounds_used"]) == ("method_has_no_more", 0)
    shortfall = data["shortfall"][0]
    assert shortfall["short_by"] == 2 and "nothing more to give" in shortfall["why"]


def test_budget_match_rounds_bounds_the_top_ups(tmp_path, three_number_data, model_cache):
    """A method that only repeats held-out copies is asked budget_match_rounds times, then the shortfall
    stays; budget_match_rounds=0 asks no top-up at all."""
    copies = f"+method.more=[['{ONE_CHANGED}'],['{DISGUISED}'],['{ONE_CHANGED}']]"
    extra = ("synthetic_budget=2", "budget_match=true", f"+method.plant=['{FRESH}']", copies)
    overrides = _overrides(tmp_path, three_number_data, model_cache, *MORE, *extra)
    for rounds, used, stopped in ((2, 2, "rounds_used"), (0, 0, "rounds_used")):
        data = run_cell(compose_config([*overrides, f"budget_match_rounds={rounds}"]))["data"]
        top_up = data["top_up"][0]
        assert (top_up["rounds_used"], top_up["stopped"], data["synthetic"]) == (used, stopped, 1)
        assert data["shortfall"] and sum(data["rejected"].values()) == used

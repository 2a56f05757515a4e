"""PaDA-Agent's parts, each with the scripted teacher of tests/agent_support.py and exact expected outputs."""

from __future__ import annotations

import pytest
from agent_support import HELD_OUT_QUESTION, sara
from conftest import compose_config
from teacher_support import teacher_cfg

from pada.agent.generation import QualityControl, Slot, allocate, generate, shots_from_seeds, usable_seeds
from pada.agent.leakage import REDACTED, HeldOut, assert_no_leak
from pada.agent.patterns import Analysis, analyse, draft_strategies, group, subsample, summarise
from pada.agent.quality import Decontaminator, Deduplicator
from pada.errors import PadaError
from pada.methods.base import build_method
from pada.tasks.base import build_task
from pada.tasks.synthetic import MathFormat, synthetic_format
from pada.teacher import build_teacher, register_script
from pada.types import EvalRecord, Example

TOM = "Tom has {} apples and buys {} more. How many apples?"


@pytest.fixture
def teacher(tmp_path):
    with build_teacher(teacher_cfg("scripted", tmp_path, model="agent_test")) as client:
        yield client


@pytest.fixture
def task():
    return build_task(compose_config(["task=gsm8k"]).task)


def _record(i: int, a: int, b: int) -> EvalRecord:
    return EvalRecord(f"val/{i}", TOM.format(a, b), f"{a} apples", str(a), str(a + b), False)


def test_allocation_is_proportional_with_largest_remainders():
    assert allocate(10, [5, 3, 2]) == [5, 3, 2]
    assert allocate(7, [5, 3, 2]) == [4, 2, 1]  # exact 3.5, 2.1, 1.4: the largest remainders get the extra
    assert allocate(5, [1, 1, 1], "uniform") == [2, 2, 1]  # ties go to the earlier (larger) pattern
    assert allocate(0, [4]) == [0] and allocate(3, []) == []


def test_subsample_is_seeded_and_keeps_order():
    import random

    records = [_record(i, i, 1) for i in range(10)]
    assert subsample(records, None, random.Random(0)) == records
    picked = [r.item_id for r in subsample(records, 3, random.Random(0))]
    assert picked == [r.item_id for r in subsample(records, 3, random.Random(0))] and len(picked) == 3
    assert picked == sorted(picked, key=lambda x: int(x.split("/")[1]))


def test_error_analysis_shows_query_response_gold_and_verdict(teacher, tmp_path):
    seen = []

    @register_script("agent_spy")
    def spy(call):
        seen.append(call.messages[-1][1])
        return '{"error": "e", "missing_skill": "s"}'

    with build_teacher(teacher_cfg("scripted", tmp_path / "spy", model="agent_spy")) as client:
        out = analyse(client, [_record(0, 3, 4)], "grade-school math", "v2")
    assert [(a.item_id, a.text) for a in out] == [("val/0", "e Missing skill: s")]
    for part in (TOM.format(3, 4), "3 apples", "Gold answer: 7", "Evaluation result: incorrect"):
        assert part in seen[0]


def test_analyses_group_into_the_two_planted_patterns(teacher):
    records = [
        _record(i, a, b) for i, (a, b) in enumerate([(3, 4), (15, 9), (2, 5), (18, 7), (1, 1), (12, 19)])
    ]
    analyses = analyse(teacher, records, "grade-school math", "v2")
    assert analyses[1].text == "Lost the carry when adding 15 and 9 Missing skill: carrying"
    cfg = compose_config(
        [
            "method=pada",
            "method.patterns.embedder=bundled:all-MiniLM-L6-v2",
            "method.patterns.min_per_cluster=2",
        ]
    ).method.patterns
    groups, clustering = group(analyses, cfg, seed=0)
    assert sorted(map(sorted, groups)) == [[0, 2, 4], [1, 3, 5]]
    assert clustering.k == 2 and clustering.ks == [2, 3] and len(clustering.silhouettes) == 2
    patterns = summarise(teacher, analyses, groups, "grade-school math", max_members=20)
    draft_strategies(teacher, patterns, "grade-school math")
    assert sorted((p.name, p.description, p.strategy, sorted(p.item_ids)) for p in patterns) == [
        (
            "carrying",
            "Loses the carry in two-digit sums.",
            "STRATEGY[carrying]: vary the ones digits so sums cross ten.",
            ["val/1", "val/3", "val/5"],
        ),
        (
            "multi-step",
            "Stops after the first quantity.",
            "STRATEGY[multi-step]: vary the ones digits so sums cross ten.",
            ["val/0", "val/2", "val/4"],
        ),
    ]


def test_groupings_without_clustering():
    analyses = [Analysis(f"v{i}", f"text {i}") for i in range(4)]
    cfg = compose_config(["method=pada"]).method.patterns
    cfg.grouping = "single"
    assert group(analyses, cfg, 0) == ([[0, 1, 2, 3]], None)
    cfg.grouping = "per_failure"
    assert group(analyses, cfg, 0) == ([[0], [1], [2], [3]], None)
    assert group([], cfg, 0) == ([], None)


def test_held_out_text_is_found_token_wise_and_redacted():
    held = HeldOut(["What is 5 plus 3?", "Yes."])  # "Yes." is too short to count as a leak
    assert len(held) == 1
    assert held.found_in("so:  what is 5   PLUS 3 ? ok") == "what is 5 plus 3 ?"
    assert held.found_in("What is 5 plus 35?") is None
    assert held.redact("Pattern: the model missed What is 5 plus 3? twice.") == (
        f"Pattern: the model missed {REDACTED} twice.",
        1,
    )


def test_leak_check_fails_on_a_planted_prompt_or_example():
    held = HeldOut([HELD_OUT_QUESTION])
    assert_no_leak(held, ["Write a problem about kites."], [Example("x", "Q", "T", "1")])
    with pytest.raises(PadaError, match="^leakage: generation prompt 1 contains the held-out text"):
        assert_no_leak(held, ["fine", f"Strategy: like {HELD_OUT_QUESTION}"], [])
    planted = Example("pada/i0/4", HELD_OUT_QUESTION, "#### 2", "2", "synthetic:pada")
    with pytest.raises(PadaError, match="^leakage: new training example pada/i0/4 contains"):
        assert_no_leak(held, [], [planted])


def test_decontamination_by_verbatim_and_ngram_overlap():
    decon = Decontaminator(["Sara collects 101 shells at the beach and finds 31 more there today."], n=8)
    assert (
        decon.problem("Sara collects 101 shells at the beach and finds 31 more there today.")
        == "contamination"
    )
    # 14 tokens -> 7 8-grams; the 5 that end before "now" occur in the held-out item
    assert decon.overlap("Sara collects 101 shells at the beach and finds 31 more there now!") == 5 / 7
    assert decon.problem("Sara collects 101 shells at the beach and finds 99 more in a box.") is None


def test_deduplication_by_rouge_l():
    dedup = Deduplicator([TOM.format(3, 4)], threshold=0.95)
    assert dedup.problem(TOM.format(3, 4)) == "duplicate"
    assert dedup.problem(TOM.format(3, 5)) is None
    assert dedup.most_similar(TOM.format(3, 5)) == 0.0  # 10 of 11 tokens shared: F <= 10/11, LCS skipped
    assert Deduplicator([TOM.format(3, 4)], 0.85).most_similar(TOM.format(3, 5)) == pytest.approx(10 / 11)


def test_seed_shots_never_show_a_held_out_item():
    import random

    seeds = [Example(f"s{i}", TOM.format(i, 1), f"#### {i + 1}", str(i + 1)) for i in range(3)]
    shots = shots_from_seeds(
        MathFormat(None), usable_seeds(seeds, HeldOut([TOM.format(1, 1)])), 5, random.Random(0)
    )
    assert sorted(s["question"] for s in shots) == [TOM.format(0, 1), TOM.format(2, 1)]


def test_generation_rejects_each_planted_fault_and_regenerates(teacher, task):
    qc = QualityControl(
        synthetic_format(task),
        teacher,
        "grade-school math",
        Decontaminator([HELD_OUT_QUESTION]),
        Deduplicator([TOM.format(3, 4)]),
    )
    slots = [
        Slot(i, "p", "guidance", [{"question": TOM.format(1, 2), "solution": "#### 3"}]) for i in range(4)
    ]
    examples, counts = generate(teacher, qc, slots, HeldOut([HELD_OUT_QUESTION]), 2, iteration=0)
    # slot 0: sample 0 ok; slot 1: 1 format -> 5 ok; slot 2: 2 leak -> 6 ok; slot 3: 3 dup -> 7 wrong -> 11 ok
    assert [(e.id, e.meta["question"], e.answer) for e in examples] == [
        ("pada/i0/0", sara(0)[0], "130"),
        ("pada/i0/1", sara(5)[0], "140"),
        ("pada/i0/2", sara(6)[0], "142"),
        ("pada/i0/3", sara(11)[0], "152"),
    ]
    assert counts == {
        "p": {
            "requested": 8,
            "generated": 8,
            "accepted": 4,
            "rejected": {"contamination": 1, "duplicate": 1, "format": 1, "verification": 1},
        }
    }
    assert examples[0].prompt == task.user_prompt(sara(0)[0]) and examples[0].source == "synthetic:pada"
    assert examples[0].target == "Add them: 130\n#### 130"


def test_generation_gives_up_after_the_regeneration_limit(teacher, task):
    qc = QualityControl(
        synthetic_format(task), teacher, "m", Decontaminator([HELD_OUT_QUESTION]), Deduplicator([])
    )
    examples, counts = generate(
        teacher,
        qc,
        [Slot(1, "p", "g", []), Slot(2, "p", "g", [])],
        HeldOut([HELD_OUT_QUESTION]),
        0,
        iteration=0,
    )
    assert examples == [] and counts["p"]["rejected"] == {"contamination": 1, "format": 1}
    # iteration 1 offsets sample indices by the slot count (one attempt each): samples 3 and 4, fresh answers
    examples, _ = generate(
        teacher,
        qc,
        [Slot(1, "p", "g", []), Slot(2, "p", "g", [])],
        HeldOut([HELD_OUT_QUESTION]),
        0,
        iteration=1,
    )
    assert [e.meta["question"] for e in examples] == [sara(0)[0], sara(4)[0]]  # sample 3 repeats sample 0


def test_without_qc_only_decontamination_rejects(teacher, task):
    qc = QualityControl(
        synthetic_format(task),
        teacher,
        "m",
        Decontaminator([HELD_OUT_QUESTION]),
        Deduplicator([]),
        enabled=False,
    )
    slots = [Slot(i, "p", "g", []) for i in range(4)]
    examples, counts = generate(teacher, qc, slots, HeldOut([HELD_OUT_QUESTION]), 0, iteration=0)
    assert [e.id for e in examples] == ["pada/i0/0", "pada/i0/1", "pada/i0/3"]
    assert examples[1].answer == "133"  # the stated answer is kept unchecked (sample 1's planted mismatch)
    assert counts["p"]["rejected"] == {"contamination": 1}


def test_a_missing_embedder_is_one_error_line_naming_the_fix(tmp_path):
    from pada.agent.clustering import embed

    with pytest.raises(
        PadaError, match="^cannot load the embedding model '.*nowhere'.*bundled:all-MiniLM-L6-v2$"
    ):
        embed(["text"], str(tmp_path / "nowhere"))


def test_pada_without_a_teacher_fails_before_any_work(tiny_cell_overrides, tmp_path):
    from pada.run.runner import run_cell

    with pytest.raises(PadaError, match=r"^method=pada needs a teacher; choose one with teacher=<name>"):
        run_cell(
            compose_config(
                [*tiny_cell_overrides, "method=pada", "teacher=none", "+embedder=bundled:all-MiniLM-L6-v2"]
            )
        )
    assert not (tmp_path / "runs").exists()


def test_an_unavailable_embedder_fails_in_check_cell_online_or_offline(monkeypatch, tmp_path):
    from huggingface_hub import constants

    from pada.methods.base import check_cell

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # empty: nothing cached, nothing fetched
    cfg = compose_config(["method=pada", "+embedder=no-org/no-such-encoder"])
    method = build_method(cfg.method)  # building does not look the embedder up; check_cell does
    for offline in ("1", None):
        if offline:
            monkeypatch.setenv("HF_HUB_OFFLINE", offline)
        else:
            monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        with pytest.raises(PadaError, match="^embedding model 'no-org/no-such-encoder' is neither a local"):
            check_cell(build_task(cfg.task), method)

"""PaDA-Agent's strategy slots in one list request per pattern (``generation.strategy_format: json_list``).

Why (issue 27, demo-real quick of 98df167): on the real 0.5B teacher PaDA-Agent's generation cost 45-77
requests per cell, ~470 prompt tokens each, most of them strategy slots asked one item per request with the
same guidance and three shots; the prompt was computed once per item. In the list form the pending slots of
one pattern share one request per attempt (``problems_asked``: pending + attempt), so the prompt is computed
once per list. ``lister`` below is a scripted teacher that writes the number of items the list schema asks
for, the first one a copy of the first shot (the real 0.5B's habit) and the others new.
"""

from __future__ import annotations

import json
import random
import re

import pytest
from conftest import compose_config
from sim_support import planet_item
from teacher_support import teacher_cfg

from pada.agent.generation import QualityControl, Slot, generate, shots_from_seeds
from pada.agent.leakage import HeldOut
from pada.agent.quality import Decontaminator, Deduplicator
from pada.errors import PadaError
from pada.methods.base import build_method
from pada.tasks.base import build_task
from pada.tasks.synthetic import ChoiceItem, synthetic_format
from pada.teacher import Call, build_teacher, register_script

SHOT = "Seed: which planet of these four is the largest?"
CALLS: list[Call] = []


@register_script("lister")
def lister(call: Call) -> str:
    CALLS.append(call)
    text = call.messages[-1][1]
    if call.role == "generation":
        assert call.prompt_version == "generation.v3", call.prompt_version
        n = int(re.search(r"with exactly (\d+) item", text)[1])
        new = [f"New {call.sample_index}.{j}: which planet has rings?" for j in range(1, n)]
        return json.dumps({"problems": [planet_item(q) for q in [SHOT, *new]]})
    if call.role == "verification":
        return json.dumps({"valid": True, "answer": re.search(r"([A-D])\. Jupiter", text)[1]})
    raise AssertionError(call.role)


@pytest.fixture
def arc():
    return build_task(compose_config(["task=arc_challenge"]).task)


@pytest.fixture
def teacher(tmp_path):
    CALLS.clear()
    with build_teacher(teacher_cfg("scripted", tmp_path, model="lister")) as client:
        yield client


def _slots(arc, batches: dict[str, int]) -> list[Slot]:
    fmt = synthetic_format(arc)
    seed = fmt.to_example(ChoiceItem(**planet_item(SHOT)), "seed/0", "seed", {})
    shots = shots_from_seeds(fmt, [seed], 1, random.Random(0))
    slots = []
    for name, n in batches.items():
        for _ in range(n):
            guidance = f"Pattern {name}: practise it."
            slots.append(
                Slot(len(slots), name, guidance, shots, {"kind": "strategy"}, batch=f"pattern:{name}")
            )
    return slots


def _generate(teacher, arc, slots, max_regenerations=1):
    fmt = synthetic_format(arc)
    qc = QualityControl(fmt, teacher, "science multiple-choice", Decontaminator([]), Deduplicator([SHOT]))
    return generate(teacher, qc, slots, HeldOut([]), max_regenerations, iteration=0)


def test_one_list_request_per_pattern_and_attempt(teacher, arc):
    examples, counts = _generate(teacher, arc, _slots(arc, {"p": 3, "q": 2}))
    generations = [c for c in CALLS if c.role == "generation"]
    # attempt 0: p asks 3 (copy + 2 new), q asks 2 (copy + 1 new); attempt 1: p's open slot asks 1 + 1 = 2,
    # q's open slot 1 + 1 = 2, each a copy + 1 new: 4 requests for 5 slots instead of 5 + 2 = 7
    assert len(generations) == 4
    assert [c.sample_index for c in generations] == [0, 3, 7, 9]  # a batch's first slot's index, per attempt
    assert len(examples) == 5 and sorted(e.meta["pattern"] for e in examples) == ["p"] * 3 + ["q"] * 2
    assert counts["p"] == {
        "requested": 5,
        "generated": 5,
        "accepted": 3,
        "rejected": {"duplicate": 2},
    }
    assert counts["q"]["requested"] == 4 and counts["q"]["rejected"] == {"duplicate": 2}
    text = generations[0].messages[-1][1]
    assert text.startswith("Pattern p: practise it.") and "with exactly 3 items" in text
    assert "For format only" in text and SHOT in text  # the first slot's shot, shown for the format
    assert generations[0].params.max_new_tokens == 3 * 1024  # room for 3 items (scripted max_tokens 1024)


def test_problems_past_the_open_slots_are_not_needed(teacher, arc):
    # 1 slot: attempt 0 asks 1 (a copy, rejected); attempt 1 asks 1 + 1 = 2: the copy again, then one new
    examples, counts = _generate(teacher, arc, _slots(arc, {"p": 1}), max_regenerations=2)
    assert len(examples) == 1 and counts["p"]["requested"] == 3
    assert counts["p"]["rejected"] == {"duplicate": 2}
    assert len([c for c in CALLS if c.role == "generation"]) == 2


def _method(*overrides: str):
    cfg = compose_config(["method=pada", "task=arc_challenge", "budget=6", *overrides])
    return build_method(cfg.method)


def test_the_strategy_format_is_checked_with_the_task():
    gsm8k = build_task(compose_config(["task=gsm8k"]).task)
    arc = build_task(compose_config(["task=arc_challenge"]).task)
    assert _method().strategy_format(synthetic_format(arc)) == "json"  # the paper's form by default
    listed = _method("method.generation.strategy_format=json_list")
    assert listed.strategy_format(synthetic_format(arc)) == "json_list"
    with pytest.raises(PadaError, match="strategy_format=json_list asks items .* math task 'gsm8k'"):
        listed.check_task(gsm8k)
    with pytest.raises(PadaError, match=r"strategy_format='list'; choose one of json, json_list"):
        _method("method.generation.strategy_format=list").check_task(arc)


def test_strategy_slots_share_a_batch_per_pattern_only_in_the_list_form(arc):
    from pada.agent.patterns import Pattern
    from pada.methods.base import IterationState
    from pada.types import Quota

    fmt = synthetic_format(arc)
    seed = fmt.to_example(ChoiceItem(**planet_item(SHOT)), "seed/0", "seed", {})
    patterns = [
        Pattern("p", "d", ["a", "b"], [], strategy="s"),
        Pattern("q", "d", ["c"], [], strategy="s"),
    ]
    state = IterationState(0, arc, [seed], [seed], [], [], None, random.Random(0), None, Quota())
    for form, batches in (("json", [None] * 3), ("json_list", ["pattern:p", "pattern:p", "pattern:q"])):
        method = _method(f"method.generation.strategy_format={form}")
        slots = method._strategy_slots(state, patterns, [seed], fmt, 3)
        assert [s.batch for s in slots] == batches and all(s.seed is None for s in slots)

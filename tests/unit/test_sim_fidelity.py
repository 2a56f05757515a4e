"""The simulation shows where its result comes from (issue 28.4): the oracle's analysis fidelity is a
declared setting (teacher.analysis_fidelity), and the demo's controls are configs that compose."""

from __future__ import annotations

import json
import random

import pytest
from conftest import compose_config

from pada.errors import PadaError
from pada.sim.oracle import oracle, read_properties
from pada.sim.world import make_problem
from pada.teacher.providers.base import Call
from pada.types import SamplingParams

NOISE = dict(compose_config(["experiment=sim"]).task.teacher_noise)  # the world's declared noise
RNG = random.Random(0)
TEXTS = [
    f"Problem:\n{make_problem(RNG, 'add', 1, 'medium').question}\n\nThe model's answer:\n#### 7"
    for _ in range(1000)
]


def _call(role: str, text: str, sample_index: int = 0) -> Call:
    return Call(role, (("user", text),), SamplingParams(max_new_tokens=256), sample_index)


def _informative_share(fidelity: float | None) -> float:
    options = {} if fidelity is None else {"analysis_fidelity": fidelity}
    answers = [
        json.loads(oracle(_call("error_analysis", t, i), NOISE, **options)) for i, t in enumerate(TEXTS)
    ]
    return sum(bool(read_properties(a["missing_skill"])) for a in answers) / len(answers)


def test_fidelity_one_is_the_world_as_built_answer_for_answer():
    for i, text in enumerate(TEXTS[:300]):
        call = _call("error_analysis", text, i)
        assert oracle(call, NOISE, analysis_fidelity=1.0) == oracle(call, NOISE)


def test_fidelity_zero_names_nothing_and_a_half_names_half_as_often():
    full = _informative_share(1.0)
    assert 0.76 <= full <= 0.84  # 1 − the declared 20% vague
    assert _informative_share(0.0) == 0.0
    assert abs(_informative_share(0.5) - full / 2) <= 0.05


@pytest.mark.parametrize("bad", [1.5, -0.1, "high", True])
def test_a_fidelity_outside_zero_one_is_an_error_before_any_stage(bad, tmp_path):
    from pada.teacher import build_teacher

    cfg = compose_config(["experiment=sim", f"paths.cache_dir={tmp_path}"])
    cfg.teacher.analysis_fidelity = bad
    with pytest.raises(PadaError, match="analysis_fidelity"):
        build_teacher(cfg.teacher, tmp_path)


def test_the_setting_is_declared_reaches_the_oracle_and_joins_the_cache_identity(tmp_path):
    from pada.teacher import build_teacher

    default = compose_config(["experiment=sim", f"paths.cache_dir={tmp_path}"])
    vague = compose_config(["experiment=sim", "teacher.analysis_fidelity=0.0", f"paths.cache_dir={tmp_path}"])
    assert (
        default.teacher.analysis_fidelity == 1.0 and default.teacher.script_options.analysis_fidelity == 1.0
    )
    assert vague.teacher.script_options.analysis_fidelity == 0.0
    with build_teacher(default.teacher, tmp_path) as a, build_teacher(vague.teacher, tmp_path) as b:
        assert a.provider.model_id != b.provider.model_id


def test_the_demo_controls_compose():
    from pada.preflight import expand_sweep

    uninformative = expand_sweep(["experiment=demo_uninformative"])
    one_group = expand_sweep(["experiment=demo_one_group"])
    assert {o[-1] for o in uninformative} == {o[-1] for o in one_group} == {"seed=0", "seed=1", "seed=2"}
    cfg = compose_config(["experiment=demo_uninformative", "method=pada", "seed=0"])
    assert cfg.teacher.script_options.analysis_fidelity == 0.0
    world = compose_config(["experiment=demo_one_group", "method=pada", "seed=0"]).task.frequencies
    assert [k for k, v in world.skill.items() if v] == ["add"] and sum(1 for v in world.phrasing if v) == 1
    assert sum(1 for v in world.magnitude.values() if v) == 1

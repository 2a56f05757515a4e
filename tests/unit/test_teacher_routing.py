"""Per-role teacher routing (``teacher.routes``) against two real local OpenAI-compatible servers.

The default teacher and the routed one are two FakeLLMServers on 127.0.0.1 (the openai SDK over HTTP), so
each test sees which server each role's request reached, with what model and sampling."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf
from teacher_support import teacher_cfg

from pada.errors import PadaError
from pada.preflight.checks import check_teacher
from pada.run.identity import identity_of
from pada.teacher import Request, Teacher, TeacherCapReached, TeacherFailed
from pada.teacher.fake_server import FakeLLMServer
from pada.teacher.schemas import PatternSummary

CHAT = [{"role": "user", "content": "Say hello"}]
ANALYSIS = ["error_analysis", "pattern_summary", "strategy"]
PATTERN = {"name": "Reading 'more' as addition", "description": "adds where the question multiplies"}


def cfg_path(tmp_path):
    return tmp_path / "teacher.sqlite"


def _big(prompt: str) -> str:
    return json.dumps(PATTERN) if "pattern" in prompt else f"big: {prompt}"


@pytest.fixture
def servers():
    with FakeLLMServer() as default, FakeLLMServer(responder=_big) as second:
        yield default, second


def _cfg(tmp_path, default, second, roles=ANALYSIS, **overrides):
    route = {"roles": roles, "teacher": {"model": "big-model", "base_url": f"{second.url}/v1"}}
    return teacher_cfg(
        "vllm_serve",
        tmp_path,
        base_url=f"{default.url}/v1",
        model="small-model",
        routes={"analysis": route},
        **overrides,
    )


def test_routed_roles_reach_the_second_teacher_and_the_rest_the_default(servers, tmp_path):
    default, second = servers
    with Teacher(_cfg(tmp_path, default, second), cfg_path(tmp_path)) as teacher:
        assert teacher.complete("generation", CHAT) == "echo: Say hello"
        pattern = teacher.complete(
            "pattern_summary", [{"role": "user", "content": "pattern"}], schema=PatternSummary
        )
        assert teacher.complete("strategy", CHAT) == "big: Say hello"
    assert pattern.name == PATTERN["name"]
    assert [b["model"] for b in default.bodies] == ["small-model"]
    assert [b["model"] for b in second.bodies] == ["big-model", "big-model"]
    # each role keeps its sampling: the analysis roles' temperature 0 from the config's roles
    assert second.bodies[0]["temperature"] == 0.0 and default.bodies[0]["temperature"] == 0.7


def test_a_route_has_its_own_sampling_and_structured_output(servers, tmp_path):
    default, second = servers
    cfg = _cfg(tmp_path, default, second)
    cfg.routes.analysis.teacher.sampling = {"max_tokens": 77}
    cfg.routes.analysis.teacher.roles = {"strategy": {"temperature": 0.3}}
    with Teacher(cfg, cfg_path(tmp_path)) as teacher:
        teacher.complete("strategy", CHAT)
        teacher.complete("generation", CHAT)
    assert (second.bodies[0]["max_tokens"], second.bodies[0]["temperature"]) == (77, 0.3)
    assert default.bodies[0]["max_tokens"] == 1024


def test_the_cache_key_names_the_model_that_answers_the_role(servers, tmp_path):
    default, second = servers
    plain = teacher_cfg("vllm_serve", tmp_path, base_url=f"{default.url}/v1", model="small-model")
    with Teacher(plain, plain.client.cache.path) as teacher:
        teacher.complete("strategy", CHAT)  # cached under the small model
    routed = _cfg(tmp_path, default, second)
    with Teacher(routed, routed.client.cache.path) as teacher:
        assert teacher.complete("strategy", CHAT) == "big: Say hello"  # not the small model's cached answer
        assert teacher.complete("generation", CHAT) == "echo: Say hello"
        usage = teacher.usage()
    assert len(second.bodies) == 1 and len(default.bodies) == 2
    assert usage["roles"]["strategy"]["calls"] == 1  # asked the big model, not served from the cache
    assert usage["roles"]["generation"]["cache_hits"] == 0  # generation was never asked before
    with Teacher(plain, plain.client.cache.path) as teacher:
        teacher.complete("strategy", CHAT)
        assert teacher.usage()["roles"]["strategy"]["cache_hits"] == 1  # the small model's own answer


def test_usage_names_the_model_per_role_and_counts_each_model(servers, tmp_path):
    default, second = servers
    cfg = _cfg(tmp_path, default, second, **{"pricing.input_per_mtok": 1.0, "pricing.output_per_mtok": 1.0})
    cfg.routes.analysis.teacher.pricing = {"input_per_mtok": 10.0, "output_per_mtok": 10.0}
    with Teacher(cfg, cfg_path(tmp_path)) as teacher:
        teacher.complete_many([Request("generation", CHAT, i) for i in range(2)])
        teacher.complete("strategy", CHAT)
        usage = teacher.usage()
    assert usage["role_models"] == {
        "generation": "openai/small-model",
        "strategy": "openai/big-model",
    }
    small, big = usage["by_model"]["openai/small-model"], usage["by_model"]["openai/big-model"]
    assert (small["calls"], big["calls"], usage["total"]["calls"]) == (2, 1, 3)
    strategy, generation = usage["roles"]["strategy"], usage["roles"]["generation"]
    tokens = {r: usage["roles"][r]["tokens_in"] + usage["roles"][r]["tokens_out"] for r in usage["roles"]}
    assert strategy["dollars"] == pytest.approx(tokens["strategy"] * 10 / 1e6)  # the route's price
    assert generation["dollars"] == pytest.approx(tokens["generation"] * 1 / 1e6)  # the default's
    assert usage["total"]["dollars"] == pytest.approx(strategy["dollars"] + generation["dollars"])


def test_cell_caps_and_effort_count_both_teachers(servers, tmp_path):
    default, second = servers
    with Teacher(
        _cfg(tmp_path, default, second, **{"client.cell_caps.calls": 2}), cfg_path(tmp_path)
    ) as teacher:
        teacher.limit_spend({})
        teacher.limit_effort({"calls": 100})
        teacher.complete("generation", CHAT)
        teacher.complete("strategy", CHAT)
        assert teacher.effort_used()["calls"] == 2  # one call to each teacher
        with pytest.raises(TeacherCapReached, match="cell_caps.calls=2"):
            teacher.complete("error_analysis", CHAT)
    assert (len(default.bodies), len(second.bodies)) == (1, 1)


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ({"a": {"roles": ["stratgy"], "teacher": {"model": "m"}}}, "unknown role 'stratgy'"),
        ({"a": {"roles": [], "teacher": {"model": "m"}}}, "non-empty list of role names"),
        ({"a": {"roles": ["strategy"]}}, "must name what differs from the default teacher"),
        ({"a": {"roles": ["strategy"], "teacher": {"client": {"timeout_s": 1}}}}, "cannot be set per route"),
        ({"a": {"roles": ["strategy"], "teacher": {"model": "m"}, "role": 1}}, "unknown key 'role'"),
        (
            {
                "a": {"roles": ["strategy"], "teacher": {"model": "m"}},
                "b": {"roles": ["strategy"], "teacher": {"model": "n"}},
            },
            "role 'strategy' is in two routes (a and b)",
        ),
        ({"default": {"roles": ["strategy"], "teacher": {"model": "m"}}}, "is not named 'default'"),
        (["strategy"], "teacher.routes must map route names"),
    ],
)
def test_a_malformed_route_is_one_error_before_any_request(servers, tmp_path, routes, message):
    default, _ = servers
    cfg = teacher_cfg("vllm_serve", tmp_path, base_url=f"{default.url}/v1", model="small", routes=routes)
    with pytest.raises(PadaError) as error:
        Teacher(cfg, cfg_path(tmp_path))
    assert message in str(error.value) and "\n" not in str(error.value)
    full = OmegaConf.create({"teacher": cfg})
    assert message in check_teacher(full)  # preflight says the same, before probing anything
    assert default.bodies == []


def test_an_unreachable_second_endpoint_fails_preflight_and_never_falls_back(servers, tmp_path):
    default, second = servers
    cfg = _cfg(tmp_path, default, second, **{"client.retry.max_attempts": 2})
    cfg.routes.analysis.teacher.base_url = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    problem = check_teacher(OmegaConf.create({"teacher": cfg}))
    assert "teacher openai (teacher.routes.analysis) model big-model at http://127.0.0.1:9/v1" in problem
    assert "probe request failed" in problem and "\n" not in problem
    probes = len(default.bodies)  # preflight probed the default teacher, which answered
    with Teacher(cfg, cfg_path(tmp_path)) as teacher, pytest.raises(TeacherFailed, match="role 'strategy'"):
        teacher.complete_many([Request("strategy", CHAT)])
    assert len(default.bodies) == probes  # the routed role was never sent to the default teacher


def test_a_route_key_never_reaches_errors_or_usage(servers, tmp_path, monkeypatch):
    default, second = servers
    monkeypatch.setenv("ROUTE_KEY", "sk-route-SECRET-1")
    cfg = _cfg(tmp_path, default, second)
    cfg.routes.analysis.teacher.api_key_env = "ROUTE_KEY"
    second.faults.append("400detail")  # the server's error echoes the Authorization header
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        with pytest.raises(TeacherFailed) as failed:
            teacher.complete_many([Request("strategy", CHAT)])
        usage = teacher.usage()
    assert second.headers[0]["Authorization"] == "Bearer sk-route-SECRET-1"  # the route's own key was sent
    assert "is not served; auth" in str(failed.value)  # the server's message, kept ...
    assert "SECRET" not in str(failed.value) and "SECRET" not in json.dumps(usage)  # ... its key redacted
    assert "sk-route-SECRET-1" not in json.dumps(identity_of({"teacher": OmegaConf.to_container(cfg)}))


def test_a_missing_route_key_is_one_error(servers, tmp_path, monkeypatch):
    default, second = servers
    monkeypatch.delenv("ROUTE_KEY", raising=False)
    cfg = _cfg(tmp_path, default, second)
    cfg.routes.analysis.teacher.api_key_env = "ROUTE_KEY"
    with pytest.raises(PadaError, match="needs ROUTE_KEY in the environment"):
        Teacher(cfg, cfg_path(tmp_path))


def test_routes_are_identity_but_their_pricing_and_an_empty_routes_are_not(servers, tmp_path):
    default, second = servers
    plain = teacher_cfg("vllm_serve", tmp_path, base_url=f"{default.url}/v1", model="small-model")
    routed = _cfg(tmp_path, default, second)
    priced = _cfg(tmp_path, default, second)
    priced.routes.analysis.teacher.pricing = {"input_per_mtok": 3.0}
    empty = teacher_cfg("vllm_serve", tmp_path, base_url=f"{default.url}/v1", model="small-model", routes={})

    def ident(cfg):
        return identity_of({"teacher": OmegaConf.to_container(cfg, resolve=True)})

    assert ident(plain) == ident(empty) != ident(routed) == ident(priced)

"""A teacher served on this machine is identified by what it serves, not by the port it happened to get:
`make demo-real` starts its llama.cpp servers on free ports, and with the port in the identity every run
named new PaDA-Agent, LLM2LLM and AugGPT cells, so a second run beside a first left two cells per method
and seed in one runs dir (found when a `powered` demo was restarted, 2026-12-07)."""

from __future__ import annotations

from conftest import compose_config
from omegaconf import OmegaConf

from pada.run.identity import configuration_of, endpoint_identity
from pada.run.naming import cell_name

DEMO = ["task=arc_challenge", "method=pada", "teacher=local_llamaserver", "teacher.model=qwen"]


def _name(*overrides: str) -> str:
    return cell_name(compose_config([*DEMO, *overrides]))


def test_a_loopback_teacher_on_another_port_names_the_same_cell():
    first = _name("teacher.base_url=http://127.0.0.1:54761/v1")
    assert first == _name("teacher.base_url=http://127.0.0.1:37971/v1")
    assert first != _name("teacher.base_url=http://10.0.0.5:54761/v1")  # another machine's server
    assert first != _name("teacher.base_url=http://127.0.0.1:54761/v2")  # another API path
    assert first != _name("teacher.base_url=http://127.0.0.1:54761/v1", "teacher.model=other")


def test_a_routes_loopback_port_is_not_identity_either():
    route = (
        "+teacher.routes.analysis={roles: [error_analysis], teacher: {base_url: 'http://127.0.0.1:%d/v1'}}"
    )
    assert _name(route % 42731) == _name(route % 40001)


def test_the_analysis_groups_seeds_served_on_different_ports_as_one_configuration():
    def results(port: int, seed: int) -> dict:
        cfg = compose_config([*DEMO, f"teacher.base_url=http://127.0.0.1:{port}/v1", f"seed={seed}"])
        return {"provenance": {"config": OmegaConf.to_container(cfg, resolve=True)}}

    assert configuration_of(results(54761, 0)) == configuration_of(results(37971, 1))


def test_endpoint_identity_keeps_remote_endpoints_and_drops_only_a_loopback_port():
    assert endpoint_identity("http://localhost:8000/v1") == "http://localhost/v1"
    assert endpoint_identity("http://[::1]:8080/v1") == "http://[::1]/v1"
    assert endpoint_identity("https://api.openai.com/v1") == "https://api.openai.com/v1"
    assert endpoint_identity(None) is None

"""experiments/demo_real.py's cells: every one composes, and the design is the fair mini Table 2 it claims
(the same optimizer steps for every method, a synthetic quota every generative method must reach, teacher
only where a method needs one, the teacher's cells first). The run itself is `make demo-real` (docs/real_cpu.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pada.methods.base import build_method
from pada.run import fairness
from pada.run.loop import cell_loop, eval_val_setting, scores_validation
from tests.conftest import compose_config, load_script


def _demo():
    return load_script("experiments/demo_real.py")


@pytest.mark.parametrize(
    ("size", "config"),
    [("smoke", "local_llamaserver"), ("quick", "local_llamaserver"), ("powered", "local_llamacpp")],
)
def test_every_cell_composes_step_and_budget_matched(size, config):
    demo = _demo()
    teacher = [f"teacher={config}", "teacher.base_url=http://127.0.0.1:1/v1", "teacher.model=m"]
    cells = demo.cell_plan(list(demo.METHODS), demo.SIZES[size], [], lambda _: teacher)
    assert sorted((name, seed) for name, seed, _ in cells) == sorted(
        (name, seed) for name in demo.METHODS for seed in range(demo.SIZES[size]["seeds"])
    )  # every cell once
    steps = set()
    for name, seed, overrides in cells:
        cfg = compose_config([f"seed={seed}", *overrides])
        assert cfg.method.name == name
        steps.add(fairness.trainer_config(cfg).max_steps)
        quota = fairness.quota_for(cfg, 0, int(cfg.method.loop.iterations), 0)
        if name in ("sft", "sft_val"):
            assert cfg.teacher.provider == "none" and cfg.method.loop.iterations == 0
        else:  # one augmentation round that must reach the whole synthetic budget
            assert cfg.teacher.structured_output == "native"  # llama.cpp's grammar: schema-valid answers
            assert cfg.method.loop.iterations == 1
            assert quota.target == quota.limit == demo.SIZES[size]["synthetic"] > 0
        assert cfg.task.limits.test == demo.SIZES[size]["test"]
        # run.eval_val=needed: validation only in PaDA-Agent's two rounds (failures, then its report's after)
        loop, method = cell_loop(cfg), build_method(cfg.method)
        rounds = [
            scores_validation(i, loop, method, eval_val_setting(cfg)) for i in range(loop.iterations + 1)
        ]
        assert rounds == ([True, True] if name == "pada" else [False] * (loop.iterations + 1)), name
    assert len(steps) == 1 and steps.pop() > 0  # one step count for every method and seed


def test_cells_that_need_the_teacher_start_early_and_after_their_seeds_sft():
    demo = _demo()
    order = [
        (name, seed)
        for name, seed, _ in demo.cell_plan(list(demo.METHODS), demo.SIZES["quick"], [], lambda _: [])
    ]
    expected = "sft 0, sft 1, pada 0, llm2llm 0, auggpt 0, sft 2, pada 1, llm2llm 1, auggpt 1, pada 2, "
    expected += "llm2llm 2, auggpt 2, sft_val 0, sft_val 1, sft_val 2"
    assert ", ".join(f"{name} {seed}" for name, seed in order) == expected
    without_sft = demo.cell_plan(["sft_val", "auggpt"], demo.SIZES["smoke"], [], lambda _: [])
    assert [(name, seed) for name, seed, _ in without_sft] == [("auggpt", 0), ("sft_val", 0)]


class _ScriptedIdle:
    """IdleCores' interface with a scripted answer."""

    def __init__(self, answer: bool):
        self.answer, self.restarts = answer, 0

    def restart(self) -> None:
        self.restarts += 1

    def __call__(self) -> bool:
        return self.answer


def _quick_plan(demo):
    return demo.cell_plan(list(demo.METHODS), demo.SIZES["quick"], [], lambda _: [])


@pytest.mark.parametrize(("idle", "fourth"), [(True, "sft_val 0"), (False, "llm2llm 0")])
def test_a_control_starts_beyond_the_workers_only_when_a_core_is_idle(idle, fourth):
    """Three cells hold the workers; with a core idle the first sft_val starts as a fourth (MAX_CELLS: no
    fifth), else nothing starts until a cell ends, and then the next ordered cell: the control stays a
    filler."""
    import threading

    demo = _demo()
    gate, lock, started = threading.Event(), threading.Lock(), []

    def run(name, seed, _overrides):
        with lock:
            started.append(f"{name} {seed}")
        assert gate.wait(5)  # every cell runs until the release
        return 0, 1.0

    def release_after_settling():
        threading.Event().wait(0.3)  # many ticks: every start the scheduler would make has happened
        with lock:
            seen.extend(started)
        gate.set()

    seen: list[str] = []
    threading.Thread(target=release_after_settling, daemon=True).start()
    done = demo.run_plan(_quick_plan(demo), run, 3, _ScriptedIdle(idle), tick_s=0.01)
    assert seen[:3] == ["sft 0", "sft 1", "pada 0"]
    assert len(seen) == (4 if idle else 3)
    assert started[3] == fourth
    assert len(done) == len(started) == 15 and sorted(started) == sorted(set(started))


def test_next_queue_keeps_the_cell_limit_and_the_fillers_last():
    demo = _demo()
    ordered, fillers = ["auggpt 2"], ["sft_val 0"]
    assert demo.next_queue(ordered, fillers, 2, 3, lambda: False) is ordered
    assert demo.next_queue([], fillers, 2, 3, lambda: False) is fillers
    assert demo.next_queue(ordered, fillers, 3, 3, lambda: False) is None
    assert demo.next_queue(ordered, fillers, 3, 3, lambda: True) is fillers
    assert demo.next_queue(ordered, fillers, demo.MAX_CELLS, 3, lambda: True) is None
    assert demo.next_queue(ordered, [], 3, 3, lambda: True) is None
    assert demo.next_queue([], [], 0, 3, lambda: True) is None


def test_powered_size_scores_every_test_item():
    demo = _demo()
    assert demo.SIZES["powered"]["test"] >= 1172  # ARC-Challenge's test split


def _cell(runs: Path, name: str, method: str, seed: int, synthetic: int, roles: dict) -> None:
    (runs / name).mkdir(parents=True)
    cell = {"method": method, "seed": seed}  # results.json as pada.run.runner writes it
    results = {"cell": cell, "data": {"synthetic": synthetic}, "teacher_usage": roles}
    (runs / name / "results.json").write_text(json.dumps(results))


def test_teacher_report_sums_roles_and_names_findings(tmp_path):
    demo = _demo()
    ok = {"requests": 20, "calls": 20, "truncated": 1, "reasks": 1, "parse_failures": 1}
    bad = {"requests": 10, "calls": 10, "truncated": 0, "reasks": 2, "parse_failures": 1}
    small = {"provider": "openai", "model": "small"}
    routed = {**small, "role_models": {"generation": "openai/small", "verification": "openai/big"}}
    _cell(tmp_path, "a", "pada", 0, 8, {"roles": {"generation": ok, "verification": bad}, **routed})
    _cell(tmp_path, "b", "auggpt", 0, 0, {"roles": {"generation": ok}, **small})
    _cell(tmp_path, "c", "sft", 0, 0, {})  # no teacher: not a finding
    report, findings = demo.teacher_report(tmp_path)
    assert "| generation | openai/small | 40 | 40 | 2 | 2 | 2 (5%) |" in report  # 5% is allowed
    assert "| verification | openai/big | 10 | 10 | 0 | 2 | 1 (10%) |" in report
    assert findings == [
        "auggpt seed 0 added zero synthetic examples",
        "role verification: 10% parse failures (> 5%)",
    ]


def test_an_analysis_teacher_routes_the_analysis_roles_of_every_generative_cell():
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from pada.teacher.routes import resolve

    demo = _demo()
    default = SimpleNamespace(model="small", base_url="http://127.0.0.1:1/v1")
    big = SimpleNamespace(model="big", base_url="http://127.0.0.1:2/v1")
    teacher = demo.teacher_overrides(default, big, "llama-server")
    assert demo.teacher_overrides(default, None, "llama-server") == teacher[:3]  # no flag: no route
    for name, seed, overrides in demo.cell_plan(
        list(demo.METHODS), demo.SIZES["smoke"], [], lambda _: teacher
    ):
        cfg = compose_config([f"seed={seed}", *overrides])
        if name in ("sft", "sft_val"):
            assert cfg.teacher.provider == "none"
            continue
        routed, route_of = resolve(OmegaConf.to_container(cfg.teacher, resolve=True))
        assert route_of == dict.fromkeys(demo.ANALYSIS_ROLES, "analysis")
        assert (routed["analysis"]["model"], routed["analysis"]["base_url"]) == ("big", big.base_url)
        assert (routed["default"]["model"], routed["analysis"]["structured_output"]) == ("small", "native")


@pytest.mark.parametrize("kind", ["llama-server", "llama-cpp-python"])
def test_one_server_kind_serves_every_cell_one_request_at_a_time(kind, tmp_path):
    from pada.teacher.llama_server import LlamaServer
    from pada.teacher.local_server import LlamaCppServer

    demo = _demo()
    server = demo.start_server(kind, tmp_path / "m.gguf", tmp_path)  # built, not started
    assert type(server) is {"llama-server": LlamaServer, "llama-cpp-python": LlamaCppServer}[kind]
    assert server.threads == 1
    overrides = demo.teacher_overrides(server, None, kind)
    cfg = compose_config([*overrides, "method=auggpt"])
    assert (
        cfg.teacher.model_version == compose_config([f"teacher={demo.SERVERS[kind]}"]).teacher.model_version
    )
    if kind == "llama-server":  # one slot: an answer independent of the requests beside it
        assert server.slots == demo.SLOTS == 1 and "1 slot" in cfg.teacher.model_version
    assert cfg.teacher.client.max_concurrency == 1  # more in flight would only queue at the server


def test_idle_cores_waits_a_whole_window_before_judging():
    demo = _demo()
    assert demo.IdleCores(window_s=3600)() is False  # a window just begun says nothing yet
    assert demo.IdleCores(window_s=0, below=2.0)() is True  # under 200% of all cores: always
    assert demo.IdleCores(window_s=0, below=0.0)() is False


def test_each_generative_method_keeps_one_teacher_server_in_every_seed():
    """PaDA-Agent on the first server, LLM2LLM and AugGPT on the second; one server serves all; the
    overrides a cell gets name its method's server."""
    demo = _demo()
    assert [demo.server_index(m, 2) for m in ("pada", "llm2llm", "auggpt")] == [0, 1, 1]
    assert {demo.server_index(m, 1) for m in ("pada", "llm2llm", "auggpt")} == {0}
    urls = {
        "pada": ["teacher.base_url=A"],
        "llm2llm": ["teacher.base_url=B"],
        "auggpt": ["teacher.base_url=B"],
    }
    for name, _, overrides in demo.cell_plan(list(demo.METHODS), demo.SIZES["quick"], [], urls.get):
        assert [o for o in overrides if o.startswith("teacher.base_url")] == urls.get(name, [])


def test_more_workers_than_max_cells_all_run_at_once():
    """--workers above MAX_CELLS: every worker's cell runs, none waits in the thread pool's queue."""
    import threading

    demo = _demo()
    workers = demo.MAX_CELLS + 1
    gate, lock, started = threading.Event(), threading.Lock(), []

    def run(name, seed, _overrides):
        with lock:
            started.append(name)
            if len(started) == workers:
                gate.set()
        assert gate.wait(5), f"only {len(started)} of {workers} cells started"
        return 0, 1.0

    assert len(demo.run_plan(_quick_plan(demo), run, workers, _ScriptedIdle(False), tick_s=0.01)) == 15

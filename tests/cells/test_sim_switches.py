"""SIMULATION: PaDA-Agent's issue-27 switches (error_analysis.v5, pattern_summary.v3, patterns.embed_fields)
run in the simulated world: the oracle answers both schemas, and its answers become the cell's patterns."""

from __future__ import annotations

from pathlib import Path

from conftest import compose_config
from sim_support import sim_overrides

from pada.io import read_json
from pada.run.runner import run_cell
from pada.sim.oracle import read_properties

SWITCHES = [
    "method.analysis_prompt=v5",
    "method.patterns.summary_prompt=v3",
    "method.patterns.embed_fields=[root_cause]",
]
# One PaDA-Agent round in the simulated world at a few seconds: 48 validation items leave enough failures
# for k-means to find more than one pattern.
SIM = sim_overrides(val=48) + ["method=pada", "method.loop.iterations=1"]


def test_a_sim_pada_cell_runs_with_the_v5_and_v3_switches(tmp_path, own_cache):
    cfg = compose_config(
        [*SIM, *SWITCHES, f"paths.runs_dir={tmp_path / 'runs'}", f"paths.cache_dir={own_cache}"]
    )
    results = run_cell(cfg)
    roles = results["teacher_usage"]["roles"]
    for role in ("error_analysis", "pattern_summary"):  # every answer parsed in its schema, first time
        assert roles[role]["requests"] > 0 and (roles[role]["parse_failures"], roles[role]["reasks"]) == (
            0,
            0,
        )
    report = read_json(Path(cfg.paths.runs_dir) / results["cell"]["name"] / "augment_0" / "patterns.json")
    patterns = report["patterns"]
    assert len(patterns) >= 2 and report["failures"]["analysed"] == roles["error_analysis"]["requests"]
    for pattern in patterns:  # the summaries name the world's properties, as with the older schemas
        assert read_properties(pattern["name"]), pattern["name"]
        assert set(pattern["supported_by"]) <= set(pattern["item_ids"])  # v3's members, by item id
        assert pattern["shared_cause"] is (
            len(pattern["supported_by"]) >= 2 if pattern["size"] >= 2 else None
        )
    assert any(p["shared_cause"] for p in patterns)
    assert results["data"]["synthetic"] > 0  # the strategies drawn from them generated data

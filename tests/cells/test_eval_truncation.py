"""Answers cut at max_new_tokens are visible: finish_reason per item, truncated share per evaluation."""

from conftest import compose_config

from pada.io import read_jsonl
from pada.run.runner import run_cell


def test_each_prediction_records_its_finish_reason_and_the_share_cut(tmp_path, tiny_cell_overrides):
    results = run_cell(compose_config([*tiny_cell_overrides, "eval.max_new_tokens=2"]))
    cell = tmp_path / "runs" / results["cell"]["name"]
    rows = read_jsonl(cell / "test" / "test.jsonl")
    reasons = [row["finish_reason"] for row in rows]
    assert set(reasons) <= {"stop", "length"} and "length" in reasons  # 2 tokens cut a random model short
    share = reasons.count("length") / len(reasons)
    assert results["metrics"]["test"]["truncated"] == share
    assert results["metrics"]["val"]["truncated"] is not None

"""The benchmark harness (experiments/bench/common.py) and cpu.py at smoke sizes. No timed assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "experiments" / "bench"
sys.path.insert(0, str(BENCH))
import common  # noqa: E402
import cpu  # noqa: E402


def test_summarize_median_and_min():
    timing = common.summarize([3.0, 1.0, 2.0, 10.0])
    assert (timing.median_s, timing.min_s, timing.runs_s) == (2.5, 1.0, [3.0, 1.0, 2.0, 10.0])


def test_time_pair_interleaves_the_two_calls():
    calls: list[str] = []
    a, b = common.time_pair(lambda: calls.append("a"), lambda: calls.append("b"), repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4
    assert len(a.runs_s) == len(b.runs_s) == 3


def test_run_child_reports_the_childs_own_peak_rss_and_exit_code():
    ballast = bytearray(400 * 2**20)  # this process grows; the child's peak must not include it
    ballast[::4096] = b"x" * len(ballast[::4096])
    code = (
        "import sys; block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); sys.exit(3)"
    )
    run = common.run_child([sys.executable, "-c", code])
    assert run.returncode == 3
    assert 300 <= run.peak_rss_mb < 400  # the 300 MiB it touched plus the interpreter, not the test process
    small = common.run_child([sys.executable, "-c", "print('hi')"])
    assert (small.returncode, small.stdout, small.peak_rss_mb < 100) == (0, "hi\n", True)


def test_run_child_kills_at_the_deadline():
    run = common.run_child([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert (run.returncode, run.peak_rss_mb) == (-9, None) and run.wall_s < 10


def test_run_child_reports_signal_deaths():
    run = common.run_child([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
    assert run.returncode == -15 and run.peak_rss_mb is not None


def test_markdown_flattens_nested_results():
    report = {
        "title": "T",
        "note": "n",
        "machine": {"cores": 2},
        "results": {"eval": {"ratio": 1.23456, "ours_s": {"median_s": 2.0}}},
    }
    text = common.markdown(report)
    assert "| cores | 2 |" in text
    assert "## eval" in text and "| ratio | 1.235 |" in text and "| ours_s.median_s | 2 |" in text


def test_write_report_writes_json_and_markdown(tmp_path):
    report = {"title": "T", "note": "", "machine": common.machine(), "results": {"x": {"y": 1}}}
    json_path, md_path = common.write_report(tmp_path, "r", report)
    saved = json.loads(json_path.read_text())
    assert saved["results"] == {"x": {"y": 1}} and len(saved["machine"]["load_average_1_5_15m"]) == 3
    assert saved["machine"]["versions"]["torch"] is not None
    assert md_path.read_text().startswith("# T\n")


def test_unknown_benchmark_is_one_error_line():
    done = subprocess.run(
        [sys.executable, str(BENCH / "cpu.py"), "--only", "nope"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "bench: error: unknown benchmark nope; choose from clustering, embedding, eval, lightning, sandbox, teacher, demo"
    ]


def test_quick_eval_and_lightning_report(tmp_path):
    report = cpu.main(
        [
            "--quick",
            "--only",
            "eval,lightning,sandbox",
            "--out",
            str(tmp_path),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--data-dir",
            str(tmp_path),
        ]
    )
    saved = json.loads((tmp_path / "cpu-quick.json").read_text())
    assert list(saved["results"]) == ["eval", "lightning", "sandbox"]
    evaluation = report["results"]["eval"]
    assert evaluation["identical_outputs"] == "16/16"  # same greedy tokens from our backend and lm-eval's
    assert evaluation["speedup_ours_vs_lm_eval_median"] > 0
    assert report["results"]["lightning"]["steps"] == [3, 6]
    assert saved["results"]["sandbox"]["skipped"].startswith("no MBPP files")
    assert (tmp_path / "cpu-quick.md").read_text().count("## ") == 4  # machine + three benchmarks


@pytest.mark.slow
def test_quick_demo_runs_the_simulation_cell(tmp_path):
    result = cpu.bench_demo(quick=True, cache=tmp_path / "cache")
    assert result["returncode"] == 0 and result["label"].startswith("SIMULATION")
    assert 0.0 <= result["test_accuracy_simulated"] <= 1.0 and result["peak_rss_mb"] > 100


def test_pada_bench_forwards_to_the_script(capfd):
    from pada.cli import main

    assert main(["bench", "--only", "nope"]) == 2
    assert "bench: error: unknown benchmark nope" in capfd.readouterr().err

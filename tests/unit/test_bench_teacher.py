"""experiments/bench/teacher_llm.py's bookkeeping (the real run is `make bench-teacher`). No timed assertions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "experiments" / "bench"
sys.path.insert(0, str(BENCH))
import teacher_llm  # noqa: E402


def record(teacher: str, role: str, valid: bool, tokens: int, seconds: float, finish: str = "stop") -> dict:
    return {
        "teacher": teacher,
        "role": role,
        "index": 0,
        "valid": valid,
        "output_tokens": tokens,
        "seconds": seconds,
        "finish_reason": finish,
        "text": "{}",
    }


def test_rates_and_speeds_per_teacher_and_role_and_the_ratio_to_transformers_serve():
    records = [
        record("llamacpp-smollm2-135m", "error_analysis", True, 40, 2.0),
        record("llamacpp-smollm2-135m", "error_analysis", False, 60, 3.0, "length"),
        record("llamacpp-smollm2-135m", "judge", True, 20, 5.0),
        record("transformers-smollm2-135m", "error_analysis", False, 30, 6.0),
        record("transformers-smollm2-135m", "judge", False, 10, 4.0),
    ]
    table = teacher_llm.summarize(records)
    analysis = table["llamacpp-smollm2-135m"]["error_analysis"]
    assert analysis == {
        "n": 2,
        "valid": 1,
        "valid_rate": 0.5,
        "truncated": 1,
        "output_tokens": 100,
        "output_tok_per_s": 20.0,
        "s_per_request": 2.5,
    }
    assert table["llamacpp-smollm2-135m"]["all"]["output_tok_per_s"] == 12.0  # 120 tokens / 10 s
    assert table["transformers-smollm2-135m"]["all"]["valid_rate"] == 0.0
    assert "strategy" not in table["llamacpp-smollm2-135m"]  # no prompt of that role: no row
    assert teacher_llm.ratios(table) == {"llamacpp-smollm2-135m / transformers-smollm2-135m": 3.0}


def test_a_teacher_that_cannot_run_here_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(teacher_llm.importlib.util, "find_spec", lambda name: object())  # as if installed
    why = teacher_llm.available("llamacpp-qwen2.5-coder-0.5b", tmp_path)
    assert why.startswith("no weights at ") and "make teacher-gguf" in why


def test_without_data_the_bench_skips_with_one_line_and_exit_0(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCH / "teacher_llm.py"), "--cache-dir", str(tmp_path), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr.startswith("teacher_llm: skipped:")
    assert not (tmp_path / "teacher_llm.json").exists()


def test_llama_cpp_prompt_and_decode_rates_come_from_the_servers_own_perf_lines():
    log = "\n".join(
        [
            "llama_perf_context_print: prompt eval time =       0.20 ms /   343 tokens (    0.00 ms per token)",
            "llama_perf_context_print:        eval time =   18000.00 ms /    48 runs   (  375.00 ms per token)",
            "llama_perf_context_print: prompt eval time =   50000.00 ms /   250 tokens (  200.00 ms per token)",
            "llama_perf_context_print:        eval time =   30000.00 ms /    72 runs   (  416.67 ms per token)",
        ]
    )
    # the 0.2 ms prompt was llama.cpp's prefix cache: left out; decoding sums both requests
    assert teacher_llm.llama_timings(log) == {"prompt_tok_per_s": 5.0, "decode_tok_per_s": 2.5}


def _pada_row(requests: int, cpu: float, accepted: int, rejected: dict) -> dict:
    generated = accepted + sum(rejected.values())
    return {
        "wrong_seeds": 2,
        "teacher_requests": requests,
        "requested": generated,
        "generated": generated,
        "accepted": accepted,
        "rejected": rejected,
        "cpu_s": cpu,
        "wall_s": 2 * cpu,
        "tokens_in": 100 * requests,
        "tokens_out": 10 * generated,
    }


def test_pada_correction_forms_are_summed_over_cells_and_compared_per_kept_example():
    import teacher_speed_pada

    records = {
        "json": [_pada_row(4, 40.0, 1, {"duplicate": 3}), _pada_row(3, 30.0, 1, {"duplicate": 2})],
        "json_list": [_pada_row(3, 36.0, 2, {"duplicate": 2, "not_needed": 1}), _pada_row(2, 24.0, 2, {})],
    }
    summary = teacher_speed_pada.pada_summary(records)
    assert summary["json"]["rejected"] == {"duplicate": 5} and summary["json"]["cpu_s_per_kept"] == 35.0
    assert summary["json_list"]["accepted"] == 4 and summary["json_list"]["cpu_s_per_kept"] == 15.0
    ratios = summary["ratios json_list/json"]
    assert (ratios["teacher_requests"], ratios["accepted"], ratios["cpu_s_per_kept"]) == (0.714, 2.0, 0.429)


def test_the_pada_part_without_pada_cells_skips_with_one_line_and_exit_0(tmp_path):
    gguf = tmp_path / "teacher.gguf"
    gguf.write_bytes(b"")
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "teacher_speed.py"),
            "pada",
            "--runs",
            str(tmp_path),
            "--gguf",
            str(gguf),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr.startswith("teacher_speed: skipped: no pada cell")


def test_a_stopped_pada_run_is_summarised_over_the_seeds_both_forms_answered(tmp_path):
    import json

    import teacher_speed_pada

    rows = [
        {"cell": "c", "seed": "s1", "form": "json", **_pada_row(2, 20.0, 0, {"duplicate": 2})},
        {"cell": "c", "seed": "s1", "form": "json_list", **_pada_row(2, 24.0, 1, {"duplicate": 1})},
        {"cell": "c", "seed": "s2", "form": "json_list", **_pada_row(1, 9.0, 1, {})},  # stopped before json
    ]
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = teacher_speed_pada.read_pada_records(path)["summary"]
    assert (summary["json"]["accepted"], summary["json_list"]["accepted"]) == (0, 1)
    assert (
        summary["json_list"]["teacher_requests"] == 2 and summary["ratios json_list/json"]["accepted"] is None
    )


def _answer(role: str, valid: bool, out: int, finish: str = "stop") -> dict:
    return {"role": role, "valid": valid, "prompt_tokens": 100, "output_tokens": out, "finish_reason": finish}


def test_the_servers_part_counts_valid_answers_per_role_and_cpu_per_valid_answer_against_a():
    import teacher_servers

    rows = [_answer("error_analysis", True, 50), _answer("generation", False, 200, "length")]
    records = {name: rows for name in teacher_servers.VARIANTS}
    cost = {name: {"cpu_s": 40.0, "wall_s": 50.0} for name in teacher_servers.VARIANTS}
    cost[teacher_servers.VARIANTS[2]] = {"cpu_s": 10.0, "wall_s": 20.0}
    summary = teacher_servers.summarise(records, cost)
    a, c = summary[teacher_servers.VARIANTS[0]], summary[teacher_servers.VARIANTS[2]]
    assert a["valid_per_role"] == {"error_analysis": "1/1", "generation": "0/1"} and a["truncated"] == 1
    assert (a["cpu_s_per_valid"], a["output_tokens_per_cpu_s"], c["cpu_s_per_valid"]) == (40.0, 6.25, 10.0)
    assert c["ratios_to_A"] == {
        "server_cpu_s": 0.25,
        "wall_s": 0.4,
        "cpu_s_per_valid": 0.25,
        "output_tokens": 1.0,
    }
    assert "ratios_to_A" not in a

"""Benchmark: the 500 MBPP test reference solutions through the sandbox, against plain serial execution.

Usage: python experiments/bench/sandbox_mbpp.py DATA_DIR [--workers N]
Prints one JSON line: wall seconds for the sandbox (parallel), for fresh interpreters one after another
with no sandbox (the baseline), their ratio, how many programs passed in each, and the CPU seconds each
used (on a shared machine the wall time depends on other users; the CPU time mostly does not).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from pada.sandbox import isolation_level, run_programs
from pada.tasks import build_task

CONF = Path(__file__).resolve().parents[2] / "conf" / "task" / "mbpp.yaml"


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children: what the work costs, whatever the machine's load."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def serial_baseline(programs: list[str]) -> tuple[float, int]:
    start, passed = time.monotonic(), 0
    with tempfile.TemporaryDirectory() as tmp:
        for program in programs:
            done = subprocess.run(
                [sys.executable, "-I", "-c", program], cwd=tmp, capture_output=True, timeout=30
            )
            passed += done.returncode == 0
    return time.monotonic() - start, passed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    task = build_task(OmegaConf.load(CONF))
    tests = task.load(Path(args.data_dir)).test
    programs = [task.program(task.extract(e.target), e) for e in tests]
    start, cpu_start = time.monotonic(), cpu_seconds()
    verdicts = run_programs(programs, task.limits(), args.workers)
    sandbox_s, sandbox_cpu = time.monotonic() - start, cpu_seconds() - cpu_start
    cpu_start = cpu_seconds()
    serial_s, serial_passed = serial_baseline(programs)
    serial_cpu = cpu_seconds() - cpu_start
    print(
        json.dumps(
            {
                "programs": len(programs),
                "isolation": isolation_level(),
                "workers": args.workers or os.cpu_count(),
                "sandbox_parallel_s": round(sandbox_s, 2),
                "sandbox_passed": sum(v.passed for v in verdicts),
                "serial_fresh_interpreters_s": round(serial_s, 2),
                "serial_passed": serial_passed,
                "ratio_sandbox_over_serial": round(sandbox_s / serial_s, 3),
                "sandbox_cpu_s": round(sandbox_cpu, 2),
                "serial_cpu_s": round(serial_cpu, 2),
                "sandbox_wall_if_cores_idle_s": round(sandbox_cpu / (args.workers or os.cpu_count()), 2),
                "load_avg_1m": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()

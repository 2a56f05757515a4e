"""Benchmark: the 500 MBPP test reference solutions through the sandbox, against plain serial execution.

Usage: python experiments/bench/sandbox_mbpp.py DATA_DIR [--workers N]
Prints one JSON line: wall seconds for the sandbox (parallel), for fresh interpreters one after another
with no sandbox (the baseline), their ratio, and how many programs passed in each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from pada.sandbox import isolation_level, run_programs
from pada.tasks import build_task

CONF = Path(__file__).resolve().parents[2] / "conf" / "task" / "mbpp.yaml"


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
    start = time.monotonic()
    verdicts = run_programs(programs, task.limits(), args.workers)
    sandbox_s = time.monotonic() - start
    serial_s, serial_passed = serial_baseline(programs)
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
                "load_avg_1m": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()

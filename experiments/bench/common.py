"""Benchmark harness: repeated timing, peak RSS of a child process, machine description, JSON + Markdown.

The CPU host is shared and noisy, so benchmarks report RATIOS of two things timed in the same run
(alternating, several repeats) and record the load average next to every number.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_VERSIONED = (
    "torch",
    "transformers",
    "lightning",
    "peft",
    "lm_eval",
    "scikit-learn",
    "sentence-transformers",
)


@dataclass(frozen=True)
class Timing:
    median_s: float
    min_s: float
    runs_s: list[float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(runs: list[float]) -> Timing:
    return Timing(statistics.median(runs), min(runs), [round(r, 4) for r in runs])


def time_call(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> Timing:
    """Wall time of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return summarize(runs)


def time_pair(a: Callable[[], Any], b: Callable[[], Any], repeats: int = 3, warmup: int = 1):
    """Time two alternatives interleaved (a, b, a, b, ...) so a load spike hits both alike."""
    for _ in range(warmup):
        a(), b()
    runs_a, runs_b = [], []
    for _ in range(repeats):
        for fn, runs in ((a, runs_a), (b, runs_b)):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
    return summarize(runs_a), summarize(runs_b)


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    wall_s: float
    peak_rss_mb: float  # the largest resident set of the child or any descendant it waited for
    cpu_s: float
    stdout: str
    stderr: str


def run_child(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 1800
) -> ChildRun:
    """Run ``cmd`` and read its own rusage with ``os.wait4`` (not this process's, not other children's)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        deadline = start + timeout
        while True:  # wait4 with WNOHANG so a hung child is killed at the deadline
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
            time.sleep(0.05)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # keeps Popen from waiting again
        out.seek(0), err.seek(0)
        return ChildRun(
            process.returncode,
            wall,
            usage.ru_maxrss / 1024,  # KiB on Linux
            usage.ru_utime + usage.ru_stime,
            out.read(),
            err.read(),
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or None


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average_1_5_15m": load_average(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in _VERSIONED},
        "git_commit": _git_commit(),
        "utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "argv": sys.argv,
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)[:120]
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    """Machine table, then one key/value table per benchmark (nested keys joined with '.')."""
    lines = [
        f"# {report['title']}",
        "",
        report.get("note", ""),
        "",
        "## Machine",
        "",
        "| key | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_cell(v)} |" for k, v in report["machine"].items()]
    for rerun in report.get("reruns", []):  # sections re-measured later with cpu.py --update
        m = rerun["machine"]
        lines.append(
            f"\nRe-run {', '.join(rerun['benchmarks'])} at {m['utc']}, load {m['load_average_1_5_15m']}."
        )
    for name, result in report["results"].items():
        lines += ["", f"## {name}", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in _flatten(result).items()]
    return "\n".join(lines) + "\n"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix or "value": value}
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(inner, dict):
            flat.update(_flatten(inner, name))
        else:
            flat[name] = inner
    return flat


def write_report(out_dir: Path, stem: str, report: dict[str, Any]) -> tuple[Path, Path]:
    """``<stem>.json`` and ``<stem>.md`` in ``out_dir``, each written atomically."""
    from pada.io import atomic_write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    atomic_write_text(json_path, json.dumps(report, indent=1, default=str) + "\n")
    atomic_write_text(md_path, markdown(report))
    return json_path, md_path

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
    returncode: int  # negative: killed by that signal
    wall_s: float
    peak_rss_mb: float | None  # the command's largest resident set (None when it was killed at the deadline)
    cpu_s: float | None
    stdout: str
    stderr: str


# Linux carries a process's RSS high-water mark across exec, so a child forked from this (large) process
# would report our RSS as its peak. A small launcher forks the real command and reports its rusage.
_LAUNCHER = """
import json, os, signal, subprocess, sys
child = subprocess.Popen(json.loads(sys.argv[1]))
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[2], "w") as f:
    json.dump({"maxrss_kib": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}, f)
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def run_child(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 1800
) -> ChildRun:
    """Run ``cmd`` in its own session; wall time, exit code, output, and its own peak RSS and CPU time."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        usage_path = Path(tmp) / "usage.json"
        start = time.perf_counter()
        launcher = [sys.executable, "-c", _LAUNCHER, json.dumps(cmd), str(usage_path)]
        process = subprocess.Popen(launcher, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)  # the launcher and the command it started
            process.wait()
        wall = time.perf_counter() - start
        usage = json.loads(usage_path.read_text()) if usage_path.is_file() else {}
        out.seek(0), err.seek(0)
        peak = usage["maxrss_kib"] / 1024 if usage else None  # KiB on Linux
        return ChildRun(process.returncode, wall, peak, usage.get("cpu_s"), out.read(), err.read())


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


def cpu_seconds(server: Any) -> float:
    """User + system CPU seconds of the server process (all its threads) so far."""
    import psutil

    times = psutil.Process(server.process.pid).cpu_times()
    return times.user + times.system


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

"""Where a real-model cell's memory goes: resident set per phase of one SmolLM2-135M cell on CPU.

    python experiments/bench/memory_real.py [--method sft] [--data-dir DIR] [--cache-dir DIR] [--out DIR]

Runs in a fresh process started through a small launcher (``common.run_child``), so the peak is the cell's
own: Linux carries a process's RSS high-water mark across exec, and a child of a large process would report
the parent's peak. Inside, a thread samples ``/proc/self/statm`` every 20 ms; each import and each runner
stage is a phase with its RSS at the start and end and its peak. The cell is the slow test's
(tests/real/test_real_model.py, ``SMALL``: 8 seeds, 2 optimizer steps of 2 x 2 rows, 10 test items, lm-eval on).
Writes ``memory_real.json`` + ``.md`` under ``--out``; numbers are MB (2**20 bytes), not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import ROOT, machine, run_child  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
IMPORTS = ("torch", "transformers", "lightning", "peft", "datasets", "lm_eval")


def rss_mb() -> float:
    """This process's resident set now, MB (Linux /proc/self/statm, second field in pages)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / 2**20


def hwm_mb() -> float:
    """This process image's own peak resident set, MB (VmHWM: not inherited across exec, unlike ru_maxrss)."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM")) / 1024


class Sampler(threading.Thread):
    """Peak RSS per named phase, sampled every 20 ms (a phase shorter than that shows its end value)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.lock = threading.Lock()  # a sample of the last phase must not land in the next one
        self.phase, self.peak, self.rows = "start", rss_mb(), []

    def run(self) -> None:
        while True:
            with self.lock:
                self.peak = max(self.peak, rss_mb())
            time.sleep(0.02)

    def enter(self, name: str) -> None:
        with self.lock:
            now = rss_mb()
            row = {"phase": self.phase, "end_mb": round(now, 1), "peak_mb": round(max(self.peak, now), 1)}
            self.rows.append(row)
            self.phase, self.peak = name, now


def instrument(sampler: Sampler) -> None:
    """Every runner stage and lm-eval's model load become phases (wrapping, not changing, what they do)."""
    from lm_eval.models.huggingface import HFLM

    from pada.run.stages import Stages

    run, init = Stages.run, HFLM.__init__

    def stage(self, name, inputs, work):
        sampler.enter(name)
        try:
            return run(self, name, inputs, work)
        finally:
            sampler.enter(f"after {name}")

    def hflm(self, *args, **kwargs):
        sampler.enter("lm_eval: HFLM load")
        init(self, *args, **kwargs)
        sampler.enter("lm_eval: generate")

    Stages.run, HFLM.__init__ = stage, hflm


def child(overrides: list[str], out: Path) -> None:
    """The measured process: imports one by one, then the cell through the CLI."""
    sampler = Sampler()
    sampler.start()
    for name in IMPORTS:
        sampler.enter(f"import {name}")
        __import__(name)
    sampler.enter("import pada")
    from pada.cli import main

    instrument(sampler)
    sampler.enter("cell start")
    code = main(["run", *overrides])
    sampler.enter("end")
    out.write_text(json.dumps({"code": code, "phases": sampler.rows, "vmhwm_mb": round(hwm_mb(), 1)}))


def cell_overrides(method: str, data_dir: str, cache_dir: str, runs: str) -> list[str]:
    """The slow tests' cell (tests/real/test_real_model.py ``SMALL``, lm-eval on) with ``make demo-real``'s method
    settings (experiments/demo_real.py ``METHODS``)."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "real"), str(ROOT / "experiments")]
    from demo_real import METHODS
    from test_real_model import SMALL

    keep = [o for o in SMALL if not o.startswith(("paths.data_dir", "paths.cache_dir"))]
    paths = [f"paths.data_dir={data_dir}", f"paths.cache_dir={cache_dir}", f"paths.runs_dir={runs}"]
    return [*keep, *METHODS[method], *paths, "eval.lm_eval.enabled=true"]


def teacher_overrides(server) -> list[str]:
    """``make demo-real``'s teacher: the same model served by ``transformers serve`` on 127.0.0.1."""
    return [
        "teacher=local_real",
        f"teacher.base_url={server.base_url}",
        f"teacher.model={server.model}",
        "teacher.sampling.max_tokens=96",
        "teacher.client.structured_reasks=0",
    ]


def measure(overrides: list[str], tmp: Path) -> dict:
    """One cell in a fresh process (through a small launcher); its phases and its own peak."""
    phases = tmp / "phases.json"
    run = run_child([sys.executable, __file__, "--child", json.dumps(overrides), str(phases)])
    if run.returncode != 0:
        raise SystemExit(f"the cell failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    usage = {
        "ru_maxrss_mb": round(run.peak_rss_mb, 1),
        "cpu_s": round(run.cpu_s, 1),
        "wall_s": round(run.wall_s),
    }
    return {**usage, **json.loads(phases.read_text())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="sft")
    parser.add_argument("--data-dir", default=os.environ.get("PADA_DATA_DIR", "/work/shared/data"))
    parser.add_argument("--cache-dir", default=str(ROOT / ".cache" / "pada"))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--extra", nargs="*", default=[], help="more overrides, e.g. run.malloc_mmap_threshold_kib=null"
    )
    parser.add_argument("--child", nargs=2, metavar=("OVERRIDES_JSON", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child[0]), Path(args.child[1]))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [*cell_overrides(args.method, args.data_dir, args.cache_dir, f"{tmp}/runs"), *args.extra]
        if args.method == "sft":
            report = measure(overrides, Path(tmp))
        else:
            from pada.teacher.local_server import LocalTeacherServer

            model = Path(args.cache_dir) / "models" / "smollm2_135m_instruct"
            with LocalTeacherServer(model, Path(tmp) / "teacher") as server:
                overrides += teacher_overrides(server)
                report = measure(overrides, Path(tmp))
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
        report = {"machine": machine(), "commit": commit.stdout.strip(), "method": args.method, **report}
        report["overrides"] = overrides
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"memory_real_{args.method}{'_' if args.extra else ''}{'_'.join(args.extra).replace('=', '-')}"
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=1))
    lines = [
        f"# Memory of one real-model {args.method} cell (MB), at {report['commit']}",
        "",
        f"ru_maxrss of the cell's process: {report['ru_maxrss_mb']} MB; VmHWM {report['vmhwm_mb']} MB; "
        f"CPU {report['cpu_s']} s, wall {report['wall_s']} s (a shared host: compare CPU, not wall)",
        f"extra overrides: {' '.join(args.extra) or 'none'}",
        "",
        "| phase | peak MB | end MB |",
        "|:--|--:|--:|",
    ]
    lines += [f"| {r['phase']} | {r['peak_mb']} | {r['end_mb']} |" for r in report["phases"]]
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

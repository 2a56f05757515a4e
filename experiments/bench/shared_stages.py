"""CPU seconds that run.shared_stages saves per generative cell of `make demo-real`: round 0 (train_0 +
eval_0) computed by the cell itself vs reused from the SFT cell of the same seed, in one run.

    python experiments/bench/shared_stages.py --data-dir DIR [--size smoke] [--method pada] [--cache-dir DIR]

The cells are demo-real's (experiments/demo_real.py: the real SmolLM2-135M student on ARC, its COMMON
overrides and a size's limits). In order, each in its own process, its CPU seconds (user + sys, children
included) from ``os.wait4``:
  1. ``sft`` with a fresh shared store: trains and evaluates round 0, then tests (what every seed pays once);
  2. ``--method`` with ``run.stop_after=eval_0`` and the same store: round 0 reused from the SFT cell;
  3. the same cell with ``run.shared_stages=null`` in its own runs dir: round 0 computed again.
Round 0 needs no teacher request (the first one is in augment_0), so the teacher config points at an unused
local port and no teacher runs. (3) - (2) is what each of AugGPT, LLM2LLM and PaDA-Agent saves per seed.
Writes ``shared_stages_<size>.json`` + ``.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from demo_real import SIZES, cell_plan  # noqa: E402

# No request is made before augment_0; a closed port makes any request fail loudly instead of hanging.
TEACHER = ["teacher=local_llamacpp", "teacher.base_url=http://127.0.0.1:9/v1", "teacher.model=unused"]


def run(seed: int, overrides: list[str]) -> float:
    """CPU seconds of one ``pada run`` (user + sys, children included); raises on a non-zero exit."""
    process = subprocess.Popen([sys.executable, "-m", "pada.cli", "run", f"seed={seed}", *overrides])
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"pada run failed: {overrides}")
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/pada"))
    parser.add_argument("--work", type=Path, help="runs and store (default: a fresh temporary dir)")
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--method", default="pada", choices=("auggpt", "llm2llm", "pada"))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.work = args.work or Path(tempfile.mkdtemp(prefix="pada-bench-shared-"))
    shutil.rmtree(args.work, ignore_errors=True)  # every step computes what it claims to
    cache, store = args.cache_dir.expanduser().resolve(), (args.work / "shared").resolve()
    paths = [f"paths.data_dir={args.data_dir}", f"paths.cache_dir={cache}"]
    plan = {m: o for m, _, o in cell_plan(["sft", args.method], SIZES[args.size], paths, TEACHER)}
    shared = [f"run.shared_stages={store}"]
    rows, started = {}, time.monotonic()
    rows["sft (computes round 0)"] = run(0, [*plan["sft"], *shared, f"paths.runs_dir={args.work}/a"])
    round0 = [*plan[args.method], "run.stop_after=eval_0"]
    rows[f"{args.method} round 0, shared"] = run(0, [*round0, *shared, f"paths.runs_dir={args.work}/a"])
    alone = [*round0, "run.shared_stages=null", f"paths.runs_dir={args.work}/b"]
    rows[f"{args.method} round 0, unshared"] = run(0, alone)
    saved = rows[f"{args.method} round 0, unshared"] - rows[f"{args.method} round 0, shared"]
    result = {
        "size": args.size,
        "method": args.method,
        "cpu_seconds": {k: round(v, 1) for k, v in rows.items()},
        "saved_per_cell": round(saved, 1),
        "wall_seconds": round(time.monotonic() - started),
        "load_average": os.getloadavg()[0],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"shared_stages_{args.size}"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| cell | CPU s |", "|---|--:|", *(f"| {k} | {v:.1f} |" for k, v in rows.items())]
    lines.append(
        f"\nsaved per generative cell per seed: {saved:.1f} CPU s (load {result['load_average']:.1f})"
    )
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

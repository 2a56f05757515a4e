"""The semantic decontamination's cost, this checkout against an earlier one, as a ratio in one run
(docs/baselines.md, "Semantic decontamination"): seconds per 1,000 proposals of ``Paraphrases.reasons``
with the encoder loaded and the held-out set embedded (what every augment stage after the first pays).

    git -C . archive <commit> | tar -x -C /tmp/before   # the earlier code, e.g. c8da366's
    python experiments/bench/decontamination_speed.py --before /tmp/before [--tasks ...] [--rounds 2]

Each round runs one child process per checkout and task, alternating (before, after, before, after, ...):
both meet the same machine load, and the ratio is taken per round (median over rounds). The proposals are
the same for both: this checkout's bench generators (experiments/bench/decontamination.py), 300 of them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load_average, machine  # noqa: E402

CHILD = """
import json, random, sys, time
sys.path.insert(0, {bench!r})
import decontamination as bench
sys.path = [p for p in sys.path if p not in ({root!r}, "")]
sys.path.insert(0, {tree!r})
import torch
torch.set_num_threads(2)
from pathlib import Path
from pada.run.semantic import Paraphrases
name = {task!r}
rng = random.Random(7)
data = None if name == "sim_arith" else Path({data!r})
task, held, classes, fresh = (
    bench.sim_items(rng, 300) if name == "sim_arith" else bench.text_items(name, data, rng, 300)
)
batch = ([ex for _, ex in fresh] + [ex for pairs in classes.values() for _, ex in pairs])[:{n}]
import pada.run.semantic as semantic
assert semantic.__file__.startswith({tree!r}), semantic.__file__
check = Paraphrases(held, task.cfg.get("prompt_template"), cache_dir=Path({cache!r}))
check.reasons(batch[:5])  # the encoder loaded, the held-out set embedded: not timed
start = time.perf_counter()
check.reasons(batch)
print(json.dumps({{"s_per_1000": (time.perf_counter() - start) * 1000 / len(batch)}}))
"""


def child_seconds(tree: Path, task: str, data_dir: Path, n: int) -> float:
    code = CHILD.format(
        bench=str(ROOT / "experiments" / "bench"),
        root=str(ROOT),
        tree=str(tree),
        task=task,
        data=str(data_dir),
        n=n,
        cache=str(ROOT / ".cache" / "pada"),
    )
    env = {**os.environ, "PYTHONPATH": str(tree), "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=tree
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["s_per_1000"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the earlier code")
    parser.add_argument("--tasks", default="sim_arith,gsm8k,arc_challenge,mbpp")
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n", type=int, default=300, help="proposals timed per child")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "bench" / "results")
    args = parser.parse_args()
    report: dict = {"machine": machine(), "before": str(args.before)}
    for task in args.tasks.split(","):
        before, after = [], []
        for _ in range(args.rounds):
            before.append(child_seconds(args.before.resolve(), task, args.data_dir, args.n))
            after.append(child_seconds(ROOT, task, args.data_dir, args.n))
        ratios = [b / a for b, a in zip(before, after, strict=True)]
        report[task] = {
            "before_s_per_1000": [round(x, 1) for x in before],
            "after_s_per_1000": [round(x, 1) for x in after],
            "speedup_median": round(statistics.median(ratios), 2),
            "load_average": load_average(),
        }
        print(task, json.dumps(report[task]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decontamination-speed.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()

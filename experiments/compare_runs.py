"""Did two runs of the same cells come out the same? (`make demo-real` twice, each from an empty cache.)

Matches cells by (method, seed) from each run's results.json and prints, per cell: test accuracy in each run,
test items whose prediction differs, whether the synthetic examples (augment stages' new.jsonl) are the same,
and the teacher calls. With two teacher caches (``--caches``: the runs' ``CACHE_DIR/teacher.sqlite``) it
also counts the requests both runs sent (same cache key: same messages, sampling, model and server) and
how many got a different answer: the teacher's own run-to-run determinism, whatever the cells did with it.

Usage: python experiments/compare_runs.py RUNS_A RUNS_B [--caches A.sqlite B.sqlite]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
from pathlib import Path


def cells(runs: Path) -> dict[tuple[str, int], Path]:
    found = {}
    for path in sorted(runs.glob("*/results.json")):
        cell = json.loads(path.read_text())["cell"]
        found[(cell["method"], int(cell["seed"]))] = path.parent
    return found


def predictions(cell: Path) -> dict[str, str | None]:
    rows = (json.loads(line) for line in (cell / "test" / "test.jsonl").open())
    return {row["item_id"]: row["extracted"] for row in rows}


def synthetic_digest(cell: Path) -> str:
    files = sorted(cell.glob("augment_*/new.jsonl"))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12] if files else "-"


def compare_cell(a: Path, b: Path) -> str:
    results = [json.loads((c / "results.json").read_text()) for c in (a, b)]
    accuracy = [f"{100 * r['metrics']['test']['accuracy']:.1f}" for r in results]
    pa, pb = predictions(a), predictions(b)
    differ = sum(pa[i] != pb.get(i) for i in pa)
    calls = [str(((r.get("teacher_usage") or {}).get("total") or {}).get("calls", 0)) for r in results]
    data = "same" if synthetic_digest(a) == synthetic_digest(b) else "differ"
    return f"| {' / '.join(accuracy)} | {differ} of {len(pa)} | {data} | {' / '.join(calls)} |"


def compare_caches(a: Path, b: Path) -> str:
    answers = [dict(sqlite3.connect(p).execute("SELECT key, text FROM completions")) for p in (a, b)]
    shared = answers[0].keys() & answers[1].keys()
    differ = sum(answers[0][k] != answers[1][k] for k in shared)
    return (
        f"teacher requests: {len(answers[0])} in A, {len(answers[1])} in B, {len(shared)} sent by both; "
        f"{differ} of those {len(shared)} answered differently"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs=2, type=Path)
    parser.add_argument("--caches", nargs=2, type=Path)
    args = parser.parse_args()
    a, b = (cells(r) for r in args.runs)
    print("| cell | test acc. A / B | predictions that differ | synthetic data | teacher calls A / B |")
    print("|---|---|--:|---|---|")
    for key in sorted(a.keys() & b.keys()):
        print(f"| {key[0]} seed {key[1]} {compare_cell(a[key], b[key])}")
    if only := sorted(a.keys() ^ b.keys()):
        print("in one run only:", ", ".join(f"{m} seed {s}" for m, s in only))
    if args.caches:
        print(compare_caches(*args.caches))


if __name__ == "__main__":
    main()

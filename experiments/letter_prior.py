"""Does the demo's student answer with its seed set's letter frequencies? (issue 27, docs/real_cpu.md "Selection
bias: measured (PaDA-Agent 1.10), and where it comes from")

In every cell of the demo's seeds 0-2 the fine-tuned SmolLM2-135M-Instruct almost never answers B, and in
those three seed sets B is the rarest correct letter (3, 3, 2 of 16; of the 1,119-item pool it is the most
common). This runs `make demo-real`'s SFT cell (its `quick` settings: 16 seed rows, 8 optimizer steps, 200
test items; no teacher) for more seeds, e.g. ones whose seed sets make B the most common letter, and prints per
seed the seed set's correct letters, the student's answers on the test items and its recall per correct letter
with RStd (``pada.selection_bias``). Cells it finds finished in ``--runs`` are reused, and the new ones are
written there: give it a copy of a demo's runs dir, not the dir `pada analyze` reads for the demo.

Usage: python experiments/letter_prior.py --data-dir DIR --seeds 0,1,2,17,25,31 [--runs runs/letter_prior]
       [--cache-dir .cache/pada] [--out experiments/bench/results/letter_prior.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from pada.io import read_jsonl
from pada.selection_bias import selection_bias

ROOT = Path(__file__).resolve().parents[1]
# demo_real.py, beside this script: found also when a test loads this file by path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_real import COMMON, METHODS, SIZES, size_overrides  # noqa: E402


def run_sft(seed: int, args: argparse.Namespace) -> Path:
    """The finished SFT cell of ``seed`` under ``args.runs`` (run now unless it is there already)."""
    paths = [
        f"paths.data_dir={args.data_dir}",
        f"paths.runs_dir={args.runs}",
        f"paths.cache_dir={args.cache_dir}",
    ]
    overrides = [*COMMON, *size_overrides(SIZES["quick"]), *METHODS["sft"], *paths]
    subprocess.run([sys.executable, "-m", "pada.cli", "run", f"seed={seed}", *overrides], check=True)
    cells = [c for c in args.runs.glob(f"*-sft-s{seed}-*") if (c / "test" / "test.jsonl").is_file()]
    if len(cells) != 1:
        raise SystemExit(
            f"letter_prior: expected one finished sft cell of seed {seed} under {args.runs}: {cells}"
        )
    return cells[0]


def letters(cell: Path) -> dict:
    """The seed set's correct letters, the test answers and the recall per letter of one SFT cell."""
    seed_rows = read_jsonl(cell / "seed" / "seed.jsonl")
    test = read_jsonl(cell / "test" / "test.jsonl")
    bias = selection_bias([r["extracted"] for r in test], [r["gold"] for r in test])
    return {
        "cell": cell.name,
        "seed_letters": dict(sorted(Counter(r["answer"] for r in seed_rows).items())),
        "test_answers": dict(sorted(Counter(str(r["extracted"]) for r in test).items())),
        "accuracy": round(100 * sum(r["correct"] for r in test) / len(test), 1),
        "recall": bias.text(),
        "rstd": round(bias.rstd, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--seeds", default="0,1,2,17,25,31")  # the demo's seeds and three chosen by letters
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "letter_prior")  # not the demo's dir
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "pada")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "experiments" / "bench" / "results" / "letter_prior.json"
    )
    args = parser.parse_args()
    rows = {seed: letters(run_sft(seed, args)) for seed in (int(s) for s in args.seeds.split(","))}
    args.out.write_text(json.dumps({"command": sys.argv, "seeds": rows}, indent=1) + "\n")
    print("| seed | seed set's letters | test answers | accuracy % | recall per correct letter |")
    print("|--:|:--|:--|--:|:--|")
    for seed, row in rows.items():
        print(
            f"| {seed} | {row['seed_letters']} | {row['test_answers']} | {row['accuracy']} | {row['recall']} |"
        )
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

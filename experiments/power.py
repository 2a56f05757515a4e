"""How many seeds Table 2 needs: the paired t's minimum detectable effect (MDE) at 80% power, and the
seeds a lead needs, for the claim levels of table2_v2 (α = 0.05, and 0.05/6 at Holm's first step over its
6 column claims). statsmodels' TTestPower via analysis.stats; writes nothing, prints Markdown.

Usage: PYTHONPATH=. python experiments/power.py [--sd 2.9 --sd 1.84] [--effect 3]
  --sd: sd of the per-seed differences PaDA − rival, in points (a pilot's comparisons CSV: seed_sd_diff × 100)
"""

from __future__ import annotations

import argparse

from analysis.stats import POWER, minimum_detectable_effect, seeds_needed

ALPHAS = {"0.05": 0.05, "0.05/6": 0.05 / 6}  # one claim; table2_v2's first Holm step (3 tasks × 2 budgets)
SEEDS = (3, 5, 7, 10, 15, 20)
EFFECTS = (1.0, 2.0, 3.0, 5.0)  # points


def report(sds: list[float], effects: list[float]) -> str:
    lines = [f"MDE (points) of a two-sided paired t at {POWER:.0%} power", ""]
    lines += ["| sd | α | " + " | ".join(f"{n} seeds" for n in SEEDS) + " |"]
    lines += ["|---|---|" + "---|" * len(SEEDS)]
    for sd in sds:
        for name, alpha in ALPHAS.items():
            mdes = " | ".join(f"{minimum_detectable_effect(sd, n, alpha):.1f}" for n in SEEDS)
            lines.append(f"| {sd} | {name} | {mdes} |")
    lines += ["", f"Seeds for {POWER:.0%} power", ""]
    lines += ["| sd | α | " + " | ".join(f"Δ = {e:g}" for e in effects) + " |"]
    lines += ["|---|---|" + "---|" * len(effects)]
    for sd in sds:
        for name, alpha in ALPHAS.items():
            needed = " | ".join(str(seeds_needed(e, sd, alpha)) for e in effects)
            lines.append(f"| {sd} | {name} | {needed} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sd", type=float, action="append", help="sd of the paired differences, points")
    parser.add_argument("--effect", type=float, action="append", help="a lead to detect, points")
    args = parser.parse_args(argv)
    print(report(args.sd or [1.84, 2.9], args.effect or list(EFFECTS)))


if __name__ == "__main__":
    main()

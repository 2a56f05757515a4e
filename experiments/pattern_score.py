"""Score PaDA-Agent's patterns on real failures: do they name a shared cause? (issue 27, docs/real_cpu.md)

The criterion was written down before the "after" answers were read (docs/real_cpu.md, "Patterns that name
a shared cause"). For every pattern of a cluster of two or more failures:

- **generic name** (mechanical): the name's words, less scikit-learn's English stop words and ``GENERIC``
  (a lack of understanding/skill/knowledge, the schema's field labels), are nothing;
- **supported** (read by hand, ``--judgements``): the description states one kind of mistake that fits at
  least two members' actual failures (question, the student's answer, gold), not a list of the members'
  separate errors; each judgement names the members it fits and why;
- a pattern **names a shared cause** when its name is not generic and it is supported; one the summariser
  flagged as having no shared cause (``shared_cause: false``, pattern_summary.v3) is counted apart, as
  **reported unshared**, and a pattern that is neither is **misleading**.

Strategies: **copies the prompt** when it shares a run of ``COPY_RUN`` words with the strategy prompt's own
instruction; **name only** when it is the pattern's name. Schema-valid answers per role come from the usage.

Usage: python experiments/pattern_score.py --before experiments/bench/results/routing_probe_s0.json ...
       --after experiments/bench/results/pattern_probe_s0.json ... [--judgements J.json] [--out S.json]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pada.teacher import render
from pada.teacher.schemas import Strategy

TASK = "science multiple-choice questions"  # experiments/routing_probe.py
BEFORE_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
COPY_RUN = 8  # words in a row shared with the prompt's instruction: more than a common phrase
GENERIC = frozenset(
    [
        "lack",
        "lacks",
        "lacking",
        "understanding",
        "understand",
        "misunderstanding",
        "misunderstood",
        "misinterpretation",
        "misinterpreting",
        "interpretation",
        "knowledge",
        "skill",
        "skills",
        "missing",
        "error",
        "errors",
        "mistake",
        "mistakes",
        "failure",
        "failures",
        "fail",
        "failing",
        "incorrect",
        "wrong",
        "insufficient",
        "poor",
        "inability",
        "ability",
        "unclear",
        "question",
        "questions",
        "answer",
        "answers",
        "concept",
        "concepts",
        "pattern",
        "patterns",
        "reasoning",
        "confusion",
        "problem",
        "problems",
        "model",
        "general",
        "comprehension",
        "scientific",
        "science",
        "name",
        "description",
        "members",
        "root_cause",
        "root",
        "cause",
        "scenario",
        "missing_skill",
        "strategy",
    ]
)
ROLES = ("error_analysis", "pattern_summary", "strategy")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z_']+", text.lower())


def generic_name(name: str) -> bool:
    """True when nothing of ``name`` is left once stop words and ``GENERIC`` words are taken out."""
    return not [w for w in words(name) if w not in ENGLISH_STOP_WORDS and w not in GENERIC]


def copies_prompt(strategy: str, instruction: str, run: int = COPY_RUN) -> bool:
    """True when ``strategy`` repeats ``run`` consecutive words of ``instruction``."""
    said, asked = words(strategy), words(instruction)
    shingles = {tuple(asked[i : i + run]) for i in range(len(asked) - run + 1)}
    return any(tuple(said[i : i + run]) in shingles for i in range(len(said) - run + 1))


def strategy_instruction() -> str:
    prompt = render(
        "strategy", "v2", schema=Strategy, task_description=TASK, pattern_name="", pattern_description=""
    )
    return prompt.messages[-1][1]


def load(path: Path) -> dict[str, Any]:
    """A probe record as {label, usage: role -> row, patterns: [{name, description, strategy, item_ids, ...}]}."""
    record = json.loads(path.read_text())
    if (
        "models" in record
    ):  # experiments/routing_probe.py: the 1.5B's patterns over its own analyses' clusters
        own = record["models"][BEFORE_MODEL]
        patterns = [p | {"item_ids": g} for p, g in zip(own["patterns"], record["groups"], strict=True)]
        return {"label": f"before {path.name}", "usage": {r: own[r] for r in ROLES}, "patterns": patterns}
    return {
        "label": f"after {path.name}",
        "usage": {r: record[r] for r in ROLES},
        "patterns": record["patterns"],
    }


def score(run: dict[str, Any], judged: dict[str, Any], instruction: str) -> dict[str, Any]:
    """Per-pattern verdicts and the run's counts; ``judged`` maps 'label|pattern name' to a judgement."""
    rows = []
    for p in run["patterns"]:
        if len(p["item_ids"]) < 2:
            continue
        judgement = judged.get(f"{run['label']}|{p['name']}", {})
        generic = generic_name(p["name"])
        supported = judgement.get("supported")
        unshared = p.get("shared_cause") is False
        verdict = (
            "unjudged"
            if supported is None
            else (
                "reported unshared"
                if unshared
                else "shared cause"
                if supported and not generic
                else "misleading"
            )
        )
        rows.append(
            {
                "name": p["name"],
                "size": len(p["item_ids"]),
                "generic_name": generic,
                "supported": supported,
                "verdict": verdict,
                "why": judgement.get("why", ""),
            }
        )
    strategies = [p["strategy"] for p in run["patterns"]]
    valid = {
        r: f"{u['requests'] - u['parse_failures'] - u['errors']}/{u['requests']}"
        for r, u in run["usage"].items()
    }
    return {
        "label": run["label"],
        "valid": valid,
        "multi_member_patterns": len(rows),
        "shared_cause": sum(r["verdict"] == "shared cause" for r in rows),
        "reported_unshared": sum(r["verdict"] == "reported unshared" for r in rows),
        "misleading": sum(r["verdict"] == "misleading" for r in rows),
        "generic_names": sum(r["generic_name"] for r in rows),
        "strategies": len(strategies),
        "strategies_copying_prompt": sum(copies_prompt(s, instruction) for s in strategies),
        "strategies_name_only": sum(
            s.strip().lower() == p["name"].strip().lower()
            for s, p in zip(strategies, run["patterns"], strict=True)
        ),
        "patterns": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, nargs="*", default=[])
    parser.add_argument("--after", type=Path, nargs="*", default=[])
    parser.add_argument("--judgements", type=Path, help="{'label|name': {'supported': bool, 'why': str}}")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    judged = json.loads(args.judgements.read_text()) if args.judgements else {}
    instruction = strategy_instruction()
    scores = [score(load(p), judged, instruction) for p in [*args.before, *args.after]]
    for s in scores:
        print(
            f"{s['label']}: valid {s['valid']}; {s['multi_member_patterns']} patterns of 2+ failures: "
            f"{s['shared_cause']} shared cause, {s['reported_unshared']} reported unshared, {s['misleading']} "
            f"misleading, {s['generic_names']} generic names; strategies {s['strategies']}: "
            f"{s['strategies_copying_prompt']} copy the prompt, {s['strategies_name_only']} name only"
        )
        for r in s["patterns"]:
            print(f"  [{r['verdict']}] {r['name']!r} ({r['size']}) generic={r['generic_name']} {r['why']}")
    if args.out:
        args.out.write_text(json.dumps(scores, indent=1) + "\n")


if __name__ == "__main__":
    main()

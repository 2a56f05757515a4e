"""Does showing the answer letters make PaDA-Agent's pattern summaries name the student's letter preference?
(issue 27, docs/real_cpu.md "Letter counts in the pattern summary")

Replays PaDA-Agent's pattern step of finished REAL `make demo-real` cells with the teacher they used: for
each cell, its round-0 validation failures (``eval_0/val.jsonl``), the analysed failures and their clusters
as the cell recorded them (``augment_0/patterns.json``: each pattern's item ids), the analyses through pada's
own client (``cell's teacher config; --cache``: a copy of the run's teacher cache answers them as the run
did); then each cluster is named twice, ``pattern_summary.v2`` (the cell's own prompt: the cache returns its
answer) and ``pattern_summary.v4`` (the same plus the failures' answer and gold letters), and a strategy is
drafted for each v4 pattern. Each teacher the cell used (its default and any ``teacher.routes``, e.g. the 1.5B
of ``DEMO_REAL_ANALYSIS_TEACHER``) is served by ``llama-server`` (one thread, one slot, as the demo).

Usage: python experiments/letter_pattern_probe.py CELL [CELL ...] --cache COPY_OF_teacher.sqlite
       [--teachers .cache/pada/teachers] [--out experiments/bench/results/letter_pattern_probe.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from contextlib import ExitStack
from pathlib import Path

from omegaconf import OmegaConf

from pada.agent.patterns import analyse, draft_strategies, letter_counts, summarise
from pada.io import read_json, read_jsonl
from pada.teacher import build_teacher
from pada.teacher.llama_server import LlamaServer
from pada.types import EvalRecord

TASK = "science multiple-choice"  # pada/agent/method.py DESCRIPTIONS for arc_challenge


def probe_cell(cell: Path, cache: Path, teachers: Path, scratch: Path) -> dict:
    config = read_json(cell / "results.json")["provenance"]["config"]
    records = [EvalRecord.from_dict(r) for r in read_jsonl(cell / "eval_0" / "val.jsonl")]
    failures = [r for r in records if not r.correct]
    report = read_json(cell / "augment_0" / "patterns.json")
    clusters = [p["item_ids"] for p in report["patterns"]]
    by_id = {r.item_id: r for r in failures}
    analysed = [by_id[i] for ids in clusters for i in ids]
    teacher_cfg = OmegaConf.create(config["teacher"])
    teacher_cfg.client.cache.path = str(cache)
    with ExitStack() as stack:
        # the default teacher and each route's (teacher.routes: e.g. the 1.5B for the analysis roles)
        for node in [teacher_cfg, *(r.teacher for r in (teacher_cfg.get("routes") or {}).values())]:
            gguf = teachers / f"{node.model}.gguf"
            server = stack.enter_context(LlamaServer(gguf, scratch / cell.name / node.model, threads=1))
            node.base_url = server.base_url
        teacher = stack.enter_context(build_teacher(teacher_cfg, cache.parent))
        analyses = analyse(teacher, analysed, TASK, config["method"]["analysis_prompt"])
        index = {a.item_id: n for n, a in enumerate(analyses)}
        groups = [[index[i] for i in ids if i in index] for ids in clusters]
        named = {}
        for version in ("v2", "v4"):
            patterns = summarise(teacher, analyses, groups, TASK, 20, version, None, failures)
            if version == "v4":
                draft_strategies(teacher, patterns, TASK)
            named[version] = [
                {"name": p.name, "description": p.description, "strategy": p.strategy or None}
                for p in patterns
            ]
        usage = teacher.usage()["roles"]
    return {
        "cell": cell.name,
        "failures": len(failures),
        "all_letters": letter_counts(failures),
        "clusters": [{"items": ids, "letters": letter_counts([by_id[i] for i in ids])} for ids in clusters],
        "recorded_names": [p["name"] for p in report["patterns"]],
        "patterns": named,
        "calls": {role: u.get("calls", 0) for role, u in usage.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cells", nargs="+", type=Path)
    parser.add_argument("--cache", type=Path, required=True, help="a COPY of the run's teacher.sqlite")
    parser.add_argument("--teachers", type=Path, default=Path(".cache/pada/teachers"))
    parser.add_argument(
        "--out", type=Path, default=Path("experiments/bench/results/letter_pattern_probe.json")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = [probe_cell(c, args.cache, args.teachers, Path(scratch)) for c in args.cells]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

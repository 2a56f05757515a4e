"""Do PaDA-Agent's patterns name a shared cause? The analysis steps on REAL failures, one prompt set (issue 27).

Serves one llama.cpp GGUF teacher (one thread, as ``make demo-real``), reads the REAL student's validation
failures from a finished cell (``eval_<i>/val.jsonl``: prompt, response, extracted and gold answer; the
first ``--items`` wrong ones, as experiments/routing_probe.py), and runs PaDA-Agent's own steps
(``pada.agent.patterns``) through pada's client (``teacher=local_llamacpp``, no re-asks, so every invalid
answer shows): analyses (``--analysis-prompt``), clustering (k-means, K by elbow, bundled MiniLM, the
fields ``--embed-fields``), a pattern per cluster (``--summary-prompt``) and a strategy per pattern. The
record holds the failures themselves, every answer and the usage per role; experiments/pattern_score.py
scores it. ``--cache`` keeps the answers: a second seed re-asks only the failures it does not share.

Usage: python experiments/pattern_probe.py --failures RUN/eval_0/val.jsonl [--items 12]
       [--analysis-prompt v5] [--summary-prompt v3] [--embed-fields root_cause]
       [--teacher .cache/pada/teachers/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf] --out RESULT.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from omegaconf import OmegaConf
from routing_probe import GROUPING, TASK, failures, teacher, timed

from pada.agent.patterns import analyse, check_embed_fields, draft_strategies, group, summarise
from pada.teacher import Teacher
from pada.teacher.local_server import LlamaCppServer
from pada.types import EvalRecord


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=Path, required=True, help="a cell's eval_<i>/val.jsonl")
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument(
        "--teacher", type=Path, default=Path(".cache/pada/teachers/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    )
    parser.add_argument("--analysis-prompt", default="v5")
    parser.add_argument("--summary-prompt", default="v3")
    parser.add_argument("--embed-fields", default="root_cause", help="comma-separated; empty = the default")
    parser.add_argument("--cache", type=Path, default=Path(".cache/pattern_probe"))
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args()


def steps(client: Teacher, model: str, wrong: list[EvalRecord], args: argparse.Namespace, embed) -> dict:  # noqa: ANN001
    """PaDA-Agent's analysis steps on ``wrong``; every answer and the usage per role."""
    record: dict = {}
    analyses, record["error_analysis"] = timed(
        model, "error_analysis", client, analyse, wrong, TASK, args.analysis_prompt
    )
    record["analyses"] = [{"item_id": a.item_id, "text": a.text, **a.parts} for a in analyses]
    groups, clustering = group(analyses, OmegaConf.create({**GROUPING, "embed_fields": embed}), seed=0)
    record["groups"] = [[analyses[i].item_id for i in g] for g in groups]
    record["clustering"] = clustering.to_dict() if clustering else None
    summary = (analyses, groups, TASK, 20, args.summary_prompt, embed)
    patterns, record["pattern_summary"] = timed(model, "pattern_summary", client, summarise, *summary)
    _, record["strategy"] = timed(model, "strategy", client, draft_strategies, patterns, TASK)
    keys = ("name", "description", "item_ids", "supported_by", "shared_cause", "strategy")
    record["patterns"] = [{k: getattr(p, k) for k in keys} for p in patterns]
    return record


def main() -> None:
    args = arguments()
    embed = [f for f in args.embed_fields.split(",") if f] or None
    check_embed_fields(args.analysis_prompt, embed)
    wrong = failures(args.failures, args.items)
    model = args.teacher.name.removesuffix(".gguf")
    record: dict = {
        "failures_file": str(args.failures),
        "model": model,
        "prompts": {"error_analysis": args.analysis_prompt, "pattern_summary": args.summary_prompt},
        "embed_fields": embed,
        "failures": [
            {k: getattr(r, k) for k in ("item_id", "prompt", "output", "extracted", "gold")} for r in wrong
        ],
    }
    args.cache.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        LlamaCppServer(args.teacher, Path(scratch), threads=1) as server,
        teacher(server, args.cache / f"{model}.sqlite") as client,
    ):
        record |= steps(client, model, wrong, args, embed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["patterns"], indent=1))


if __name__ == "__main__":
    main()

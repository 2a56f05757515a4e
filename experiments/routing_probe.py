"""Which teacher should write PaDA-Agent's analyses, patterns and strategies? (issue 27, docs/real_cpu.md)

Serves Qwen2.5-Coder-0.5B and -1.5B Instruct (Q4_K_M GGUF) with llama.cpp on two ports (one thread each,
what ``make demo-real`` does with ``DEMO_REAL_ANALYSIS_TEACHER``), reads the REAL student's validation
failures from a finished cell (``eval_<i>/val.jsonl``: prompt, response, extracted and gold answer), and
runs PaDA-Agent's own steps (``pada.agent.patterns``) through pada's own client (``teacher=local_llamacpp``,
no re-asks, so every invalid answer shows): each model analyses the same failures; the 1.5B's analyses
are clustered as the method does (k-means, K by elbow, the bundled MiniLM embedder); then each model
names every cluster's pattern and drafts its strategy from the SAME analyses and clusters.

Usage: python experiments/routing_probe.py --failures RUN/eval_0/val.jsonl [--items 12]
       [--teachers .cache/pada/teachers] [--out experiments/bench/results/routing_probe.json]
Prints one line per request batch and a JSON record (every answer, seconds per request, valid counts).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from omegaconf import OmegaConf

from pada.agent.patterns import Analysis, analyse, draft_strategies, group, summarise
from pada.teacher import Teacher
from pada.teacher.local_server import LlamaCppServer
from pada.types import EvalRecord

MODELS = ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m")
TASK = "science multiple-choice questions"  # pada/agent/method.py DESCRIPTIONS for arc_challenge
CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPING = {  # conf/method/pada.yaml's patterns, with demo-real's offline embedder
    "grouping": "kmeans",
    "embedder": "bundled:all-MiniLM-L6-v2",
    "k": 5,
    "k_min": 2,
    "k_max": 10,
    "min_per_cluster": 3,
    "n_init": 10,
}


def teacher(server: LlamaCppServer, cache: Path) -> Teacher:
    """conf/teacher/local_llamacpp.yaml pointed at ``server``; no re-asks, its own cache."""
    own = OmegaConf.load(CONF / "teacher" / "local_llamacpp.yaml")
    own.pop("defaults")
    client = OmegaConf.load(CONF / "teacher" / "client" / "default.yaml")
    cfg = OmegaConf.merge({"client": client}, own, {"base_url": server.base_url, "model": server.model})
    cfg.client.structured_reasks = 0
    cfg.client.max_error_rate = 1.0  # count a failed request, do not stop the probe
    cfg.client.cache.path = str(cache)
    return Teacher(cfg, cache)


def timed(model: str, role: str, teacher: Teacher, step, *args):  # noqa: ANN001, ANN201
    """Run one PaDA step, print and return (its result, the role's usage, seconds per request)."""
    before = dict(teacher.usage()["roles"].get(role, {}))
    start = time.monotonic()
    result = step(teacher, *args)
    seconds = time.monotonic() - start
    after = teacher.usage()["roles"][role]
    row = {k: after[k] - before.get(k, 0) for k in ("requests", "calls", "parse_failures", "errors")}
    row["tokens_out"] = after["tokens_out"] - before.get("tokens_out", 0)
    row["s_per_request"] = round(seconds / max(1, row["requests"]), 1)
    print(f"{model} {role}: {json.dumps(row)}", flush=True)
    return result, row


def failures(path: Path, items: int) -> list[EvalRecord]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    wrong = [r for r in rows if not r["correct"]][:items]
    return [EvalRecord(**{k: r[k] for k in EvalRecord.__dataclass_fields__ if k in r}) for r in wrong]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=Path, required=True, help="a cell's eval_<i>/val.jsonl")
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--teachers", type=Path, default=Path(".cache/pada/teachers"))
    parser.add_argument("--out", type=Path, default=Path("experiments/bench/results/routing_probe.json"))
    args = parser.parse_args()
    wrong = failures(args.failures, args.items)
    record: dict = {"failures": str(args.failures), "items": [r.item_id for r in wrong], "models": {}}
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        teachers = {}
        for model in MODELS:
            server = LlamaCppServer(args.teachers / f"{model}.gguf", Path(scratch) / model, threads=1)
            stack.enter_context(server)
            teachers[model] = stack.enter_context(teacher(server, Path(scratch) / f"{model}.sqlite"))
        analyses: dict[str, list[Analysis]] = {}
        for model, client in teachers.items():
            analyses[model], row = timed(model, "error_analysis", client, analyse, wrong, TASK, "v3")
            record["models"][model] = {"error_analysis": row, "analyses": [a.text for a in analyses[model]]}
        shared = analyses[MODELS[1]]  # the routed analysis teacher's analyses, as make demo-real would use
        groups, _ = group(shared, OmegaConf.create(GROUPING), seed=0)
        record["groups"] = [[shared[i].item_id for i in g] for g in groups]
        for model, client in teachers.items():
            patterns, row = timed(model, "pattern_summary", client, summarise, shared, groups, TASK, 20)
            _, strategy_row = timed(model, "strategy", client, draft_strategies, patterns, TASK)
            record["models"][model] |= {
                "pattern_summary": row,
                "strategy": strategy_row,
                "patterns": [
                    {"name": p.name, "description": p.description, "strategy": p.strategy} for p in patterns
                ],
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()

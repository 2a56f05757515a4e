"""The ``pada`` part of experiments/bench/teacher_speed.py (its docstring says what it measures): PaDA-Agent's
error-correcting slots of a ``make demo-real`` run asked by PaDA's own code in both
``generation.correction_format``s, ``json`` (one request per slot) and ``json_list`` (LLM2LLM's list request
per wrong seed), wrong seed by wrong seed, alternating which form goes first."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import cpu_seconds

ROOT = Path(__file__).resolve().parents[2]

PADA_FORMS = ("json", "json_list")
PADA_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"


def _pada_config(form: str, args: argparse.Namespace, base_url: str) -> Any:
    from hydra import compose, initialize_config_dir

    overrides = [
        "task=arc_challenge",
        "method=pada",
        "teacher=local_llamacpp",
        f"teacher.model={PADA_MODEL}",
        f"teacher.base_url={base_url}",
        "teacher.client.cache.mode=off",  # every request reaches the server: its CPU is what is measured
        f"method.generation.correction_format={form}",
        f"method.qc.max_regenerations={args.regenerations}",
        f"method.qc.verify={str(args.verify).lower()}",
    ]
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return compose("config", overrides)


def _pada_state(cell: Path, task: Any, teacher: Any, wanted: int, workdir: Path) -> Any:
    """Iteration 0 of ``cell`` as its runner handed it over: the seeds, the student's answers on them (only
    the first ``wanted`` wrong ones left wrong), the validation failures."""
    import random
    from dataclasses import replace

    from pada.io import read_jsonl
    from pada.methods.base import IterationState
    from pada.types import EvalRecord, Example

    seeds = [Example(**row) for row in read_jsonl(cell / "seed" / "seed.jsonl")]
    records = [EvalRecord(**row) for row in read_jsonl(cell / "eval_0" / "train.jsonl")]
    shown = {s.id for s in seeds}
    wrong = [r.item_id for r in records if not r.correct and r.item_id in shown][:wanted]
    records = [replace(r, correct=r.item_id not in wrong) for r in records]
    val = [
        r for r in (EvalRecord(**row) for row in read_jsonl(cell / "eval_0" / "val.jsonl")) if not r.correct
    ]
    return IterationState(0, task, seeds, seeds, records, val, teacher, random.Random(0), workdir)


class _PadaForm:
    """One ``correction_format`` on one cell: PaDA's slots (one per wrong seed), its QC and a teacher client."""

    def __init__(self, server: Any, cfg: Any, cell: Path, wanted: int, stack: Any):
        from dataclasses import replace

        from pada.agent.generation import QualityControl, usable_seeds
        from pada.agent.leakage import HeldOut
        from pada.agent.quality import Decontaminator, Deduplicator
        from pada.methods.base import build_method
        from pada.tasks.base import build_task, question_of
        from pada.tasks.synthetic import synthetic_format
        from pada.teacher import build_teacher

        task, method, qc_cfg = build_task(cfg.task), build_method(cfg.method), cfg.method.qc
        fmt = synthetic_format(task)
        self.server, self.regenerations = server, int(qc_cfg.max_regenerations)
        self.teacher = stack.enter_context(build_teacher(cfg.teacher, None))
        state = _pada_state(cell, task, self.teacher, wanted, server.workdir)
        texts = [r.prompt for r in state.val_records]
        self.held_out = HeldOut(texts)
        slots = method._correction_slots(state, usable_seeds(state.seed_data, self.held_out), fmt, False)
        self.slots = [replace(s, index=i) for i, s in enumerate(slots)]
        self.qc = QualityControl(  # as PadaAgent.propose builds it; one per form, its dedup corpus growing
            fmt,
            self.teacher,
            method._description(state),
            Decontaminator(texts, qc_cfg.ngram, qc_cfg.ngram_threshold),
            Deduplicator([question_of(e) for e in state.train_data], qc_cfg.rouge_threshold),
            verify=qc_cfg.verify,
            verification_version=qc_cfg.verification_prompt,
        )

    def one_seed(self, k: int) -> dict[str, Any]:
        """Slot ``k`` (wrong seed k) through PaDA's generate at the whole cell's sample indices: its report
        row, the teacher's usage and the server's CPU seconds."""
        from pada.agent.generation import generate
        from pada.teacher import usage_delta

        before, cpu, started = self.teacher.usage(), cpu_seconds(self.server), time.perf_counter()
        slot = self.slots[k]
        examples, counts = generate(
            self.teacher, self.qc, [slot], self.held_out, self.regenerations, 0, len(self.slots)
        )
        used = usage_delta(self.teacher.usage(), before)["total"]
        return {
            "seed": slot.meta["seed_id"],
            "wrong_seeds": 1,
            "kept_questions": [e.meta["question"] for e in examples],
            **counts["error_correction"],
            "teacher_requests": used["requests"],
            "tokens_in": used["tokens_in"],
            "tokens_out": used["tokens_out"],
            "truncated": used["truncated"],
            "parse_failures": used["parse_failures"],
            "cpu_s": round(cpu_seconds(self.server) - cpu, 1),
            "wall_s": round(time.perf_counter() - started, 1),
        }


def run_pada_part(args: argparse.Namespace) -> dict[str, Any]:
    """Per cell, per wrong seed, both forms, which one first alternating seed by seed; each record is
    appended to ``teacher_speed_pada_records.jsonl`` as it finishes (``--summarize`` reads them back)."""
    import contextlib

    from pada.teacher.local_server import LlamaCppServer

    cells = sorted(args.runs.glob("*-pada-s*"))
    wanted = [int(n) for n in str(args.seeds).split(",")]
    records: dict[str, list[dict]] = {form: [] for form in PADA_FORMS}
    log = args.cache / "bench" / "teacher_speed_pada_records.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    k = 0
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(LlamaCppServer(args.gguf, args.cache / "bench" / "teacher_speed_pada"))
        for cell, n in zip(cells, wanted, strict=False):
            forms = {
                f: _PadaForm(server, _pada_config(f, args, server.base_url), cell, n, stack)
                for f in PADA_FORMS
            }
            for seed in range(len(forms[PADA_FORMS[0]].slots)):
                order = PADA_FORMS if k % 2 == 0 else tuple(reversed(PADA_FORMS))
                for form in order:
                    row = {"cell": cell.name, "form": form, "first": order[0], **forms[form].one_seed(seed)}
                    records[form].append(row)
                    with log.open("a") as out:
                        out.write(json.dumps(row) + "\n")
                    print(
                        f"[teacher_speed] pada {cell.name} {form}: {_brief(row)}", file=sys.stderr, flush=True
                    )
                k += 1
    return {"summary": pada_summary(records), "records": records}


def read_pada_records(path: Path) -> dict[str, Any]:
    """``--summarize``: the summary of the records a (possibly stopped) run appended, seeds with both forms."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    both = {(r["cell"], r["seed"]) for r in rows if r["form"] == PADA_FORMS[0]}
    both &= {(r["cell"], r["seed"]) for r in rows if r["form"] == PADA_FORMS[1]}
    records = {f: [r for r in rows if r["form"] == f and (r["cell"], r["seed"]) in both] for f in PADA_FORMS}
    return {"summary": pada_summary(records), "records": records}


def _brief(row: dict[str, Any]) -> str:
    keys = ("seed", "teacher_requests", "cpu_s", "generated", "accepted", "rejected")
    return json.dumps({k: row[k] for k in keys})


def pada_summary(records: dict[str, list[dict]]) -> dict[str, Any]:
    """Per form: the sums over cells (rejections by reason), per kept example, and new/old ratios."""
    from collections import Counter

    summary: dict[str, Any] = {}
    for form, rows in records.items():
        keys = ("wrong_seeds", "teacher_requests", "requested", "generated", "accepted", "cpu_s", "wall_s")
        row: dict[str, Any] = {
            k: round(sum(r[k] for r in rows), 1) for k in (*keys, "tokens_in", "tokens_out")
        }
        row["rejected"] = dict(sum((Counter(r["rejected"]) for r in rows), Counter()))
        kept = row["accepted"] or float("nan")
        row["cpu_s_per_kept"] = round(row["cpu_s"] / kept, 1)
        row["requests_per_kept"] = round(row["teacher_requests"] / kept, 2)
        summary[form] = row
    old, new = (summary[f] for f in PADA_FORMS)
    summary["ratios json_list/json"] = {
        k: round(new[k] / old[k], 3) if old[k] else None
        for k in ("teacher_requests", "cpu_s", "accepted", "cpu_s_per_kept", "tokens_in", "tokens_out")
    }
    return summary

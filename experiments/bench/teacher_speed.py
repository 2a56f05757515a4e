"""Teacher CPU per KEPT example on the REAL local teacher (issue 27: "cut teacher calls, not quality").

    python experiments/bench/teacher_speed.py server  --runs RUNS_DIR [--seeds 6 --samples 2]
    python experiments/bench/teacher_speed.py llm2llm --runs RUNS_DIR [--seeds 12 --samples 3]
    python experiments/bench/teacher_speed.py pada    --runs RUNS_DIR [--seeds 14,4 --regenerations 1]
    python experiments/bench/teacher_speed.py servers --runs RUNS_DIR [--per-role 8]

``servers`` (experiments/bench/teacher_servers.py): llama-cpp-python's server vs llama.cpp's `llama-server`
(1 thread 1 slot; 1 or 2 threads 4 slots, requests sent together) on PaDA-Agent's and LLM2LLM's real requests.

Both replay REAL LLM2LLM requests: the wrong seeds of a finished ``make demo-real`` run (``RUNS_DIR/*llm2llm*/
augment_0/baseline_report.json`` ``wrong_ids``, their rows in ``seed/seed.jsonl``), rendered as
``baselines/llm2llm.py`` renders them for ARC, sent at its sampling (temperature 1.0, seed + sample index) with
the item schema as llama.cpp's grammar (``response_format`` json_object + schema), one request at a time.

- ``server``: the same requests to two llama-cpp-python servers over the same GGUF, A = ``--logits_all true``
  (llama_cpp.server's own default) and B = ``--logits_all false``, alternating A B / B A; whether the answers
  are identical, and each request's cost from the server's own ``llama_perf_context_print`` lines.
- ``llm2llm``: one server (``LlamaCppServer``'s shipped options); per wrong seed, the shipped prompt
  (llm2llm_generation v2: one item per request, ``samples`` requests) against one request for ``samples``
  items (llm2llm_generation v3: a JSON list), alternating which goes first; each problem judged by the
  method's own keep rules (ROUGE-L F1 > 0.95 against the cell's wrong seeds = ``too_similar``; a malformed
  item or key = ``bad_answer``).

- ``pada`` (experiments/bench/teacher_speed_pada.py): PaDA-Agent's error-correcting slots of a demo-real run's
  PaDA cells (one slot per wrong seed of ``RUNS_DIR/*pada-s<k>*``: ``eval_0/train.jsonl``'s wrong answers
  among ``seed/seed.jsonl``, the first ``--seeds`` of each cell in order), asked by PaDA's own code
  (``PadaAgent._correction_slots`` and ``pada.agent.generation.generate``, the real teacher client with cache
  off, demo-real's ``max_regenerations`` 1 and teacher=local_llamacpp's sampling) in both
  ``generation.correction_format``s: ``json`` (1.4: each slot its own request, generation.v2 with the wrong
  question as guidance) and ``json_list`` (1.5: LLM2LLM's list request per wrong seed, llm2llm_generation.v3),
  wrong seed by wrong seed, alternating which form goes first; each (seed, form) record is appended to
  ``CACHE/bench/teacher_speed_pada_records.jsonl`` as it finishes, and ``--summarize`` summarises a stopped
  run over the seeds both forms answered; its own QC (format, decontamination against the cell's validation
  failures, ROUGE-L dedup against the cell's training questions: ``duplicate``), verification off
  (``--verify`` turns it on).

Per request (``server``, ``llm2llm``) it records: prompt tokens (the request's) and prompt tokens evaluated (after llama.cpp's prefix
reuse), ms of prompt evaluation, decoding and the rest (total - prompt - decode: sampling under the grammar,
the grammar's compilation, the server's Python), output tokens, schema-valid. Every process runs at the
caller's niceness (run it under ``nice -n 10`` on a shared host); the numbers are ratios of one run. Writes
experiments/bench/results/teacher_speed_<part>.{json,md}; every answer in .cache/pada/bench/.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_seconds, load_average, machine, write_report  # noqa: E402

GGUF = ROOT / ".cache" / "pada" / "teachers" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
_PERF = re.compile(
    r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens.*?\beval time =\s*([\d.]+) ms /\s*(\d+) runs"
    r".*?total time =\s*([\d.]+) ms",
    re.S,
)


def perf_blocks(log: str) -> list[dict[str, float]]:
    """One dict per answered request, in order: llama.cpp's own timings (ms) and evaluated prompt tokens."""
    blocks = []
    for prompt_ms, prompt_n, eval_ms, eval_n, total_ms in _PERF.findall(log):
        prompt, decode, total = float(prompt_ms), float(eval_ms), float(total_ms)
        blocks.append(
            {
                "prompt_ms": prompt,
                "prompt_evaluated": int(prompt_n),
                "decode_ms": decode,
                "decoded": int(eval_n),
                "total_ms": total,
                "other_ms": round(total - prompt - decode, 2),
            }
        )
    return blocks


class Seeds:
    """The wrong seeds of each LLM2LLM cell of a demo-real run, with the task that renders their prompts."""

    def __init__(self, runs: Path, per_cell: int):
        from baselines.formats import Items
        from pada.io import read_jsonl
        from pada.tasks.base import build_task
        from pada.types import Example

        self.task = build_task(_task_config())
        self.items = Items(self.task, "llm2llm")
        self.cells: list[tuple[str, list[Any], list[Any]]] = []  # (cell, all wrong seeds, the ones asked)
        for cell in sorted(runs.glob("*llm2llm*")):
            wrong = json.loads((cell / "augment_0" / "baseline_report.json").read_text())["wrong_ids"]
            rows = {row["id"]: row for row in read_jsonl(cell / "seed" / "seed.jsonl")}
            examples = [Example(**rows[i]) for i in wrong]
            self.cells.append((cell.name, examples, examples[:per_cell]))

    def prompt(self, seed: Any, n: int = 1, version: str = "v2") -> Any:
        from baselines.common import describe
        from pada.teacher import render
        from pada.teacher.examples import field_lines

        schema = {"schema": self.items.schema}
        extra = {"num_aug": n, "fields": field_lines(self.items.schema)} if version != "v2" else schema
        return render(
            "llm2llm_generation",
            version,
            previous=[],
            task_description=describe(self.task),
            example=self.items.shown(seed),
            **extra,
        )


def _task_config() -> Any:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return compose("config", ["task=arc_challenge"]).task


def _list_schema(schema: Any, n: int) -> Any:
    from baselines.llm2llm import problem_list

    return problem_list(schema, n)


def ask(server: Any, client: Any, prompt: Any, schema: Any, index: int) -> dict[str, Any]:
    """One request as pada's client sends an LLM2LLM generation (temperature 1.0, seed 0 + index), with the
    server's CPU seconds it took."""
    started, cpu = time.perf_counter(), cpu_seconds(server)
    model = server.model
    response = client.chat.completions.create(
        model=model,
        messages=prompt.chat(),
        temperature=1.0,
        top_p=1.0,
        max_tokens=2149,
        seed=index,
        extra_body={"response_format": {"type": "json_object", "schema": schema.model_json_schema()}},
    )
    text = response.choices[0].message.content or ""
    try:
        parsed = schema.model_validate_json(text)
    except ValueError:
        parsed = None
    return {
        "sent": started,
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(cpu_seconds(server) - cpu, 3),
        "prompt_tokens": response.usage.prompt_tokens,
        "output_tokens": response.usage.completion_tokens,
        "finish_reason": response.choices[0].finish_reason,
        "valid": parsed is not None,
        "text": text,
        "parsed": parsed,
    }


def attach_perf(records: list[dict], log: Path) -> None:
    """Each record gets its server's perf block (requests to one server are answered in order)."""
    blocks = perf_blocks(log.read_text())
    if len(blocks) != len(records):
        raise SystemExit(f"{log}: {len(blocks)} perf blocks for {len(records)} requests")
    for record, block in zip(records, blocks, strict=True):
        record.update(block)


def totals(records: list[dict]) -> dict[str, float]:
    keys = ("cpu_s", "wall_s", "prompt_tokens", "prompt_evaluated", "output_tokens", "prompt_ms", "decode_ms")
    keys += ("other_ms",)
    sums = {k: round(sum(r[k] for r in records), 1) for k in keys}
    sums["total_ms"] = round(sums["prompt_ms"] + sums["decode_ms"] + sums["other_ms"], 1)
    sums.update(requests=len(records), valid=sum(r["valid"] for r in records))
    return sums


# ---- server options: logits_all true vs false ---------------------------------------------------------------
VARIANTS = {"A_logits_all_true": {"logits_all": "true"}, "B_logits_all_false": {"logits_all": "false"}}


def run_server_part(args: argparse.Namespace) -> dict[str, Any]:
    import contextlib

    import openai

    from pada.teacher.local_server import LlamaCppServer

    seeds = Seeds(args.runs, args.seeds)
    asked = [s for _, _, chosen in seeds.cells for s in chosen]
    records: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    folder = args.cache / "bench" / "teacher_speed_server"
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(LlamaCppServer(args.gguf, folder / name, options=options))
            for name, options in VARIANTS.items()
        }
        clients = {
            n: openai.OpenAI(base_url=s.base_url, api_key="-", max_retries=0, timeout=1800)
            for n, s in servers.items()
        }
        k = 0
        for seed in asked:
            prompt = seeds.prompt(seed)
            for sample in range(args.samples):
                order = list(VARIANTS) if k % 2 == 0 else list(reversed(VARIANTS))
                for name in order:
                    answer = ask(servers[name], clients[name], prompt, seeds.items.schema, sample)
                    records[name].append({"seed": seed.id, "sample": sample, **answer, "parsed": None})
                k += 1
                print(f"[teacher_speed] server {k}/{len(asked) * args.samples}", file=sys.stderr, flush=True)
        for name in VARIANTS:
            attach_perf(records[name], folder / name / "teacher_server.log")
    a, b = (records[n] for n in VARIANTS)
    same = sum(x["text"] == y["text"] for x, y in zip(a, b, strict=True))
    summary = {name: totals(rows) for name, rows in records.items()}
    ta, tb = summary.values()
    ratios = {
        f"{k} B/A": round(tb[k] / ta[k], 3)
        for k in ("cpu_s", "prompt_ms", "decode_ms", "other_ms", "total_ms")
        if ta[k]
    }
    return {"summary": summary, "ratios": ratios, "identical_answers": f"{same}/{len(a)}", "records": records}


# ---- LLM2LLM: one item per request (v2, shipped) vs one request for the attempt's n items (v3) --------------
def judge(seeds: Seeds, wrong: list[Any], items: list[Any]) -> list[str]:
    """Each problem by the method's keep rules, in answer order: ROUGE-L F1 > threshold against the cell's
    wrong seeds and the problems kept before it (``too_similar``), a malformed item (``bad_answer``), else
    ``kept``. (A seed's need, which stops the method early, is not applied: every problem is judged.)"""
    from baselines.common import question_of
    from baselines.llm2llm import Deduplicator

    corpus = Deduplicator(0.95)  # conf/method/llm2llm.yaml rouge_threshold
    corpus.extend(question_of(ex) for ex in wrong)
    verdicts = []
    for item in items:
        question = seeds.items.question(item)
        if not corpus.novel(question):
            verdicts.append("too_similar")
        elif seeds.items.fmt.problem(item):
            verdicts.append("bad_answer")
        else:
            corpus.add(question)
            verdicts.append("kept")
    return verdicts


def _one_seed(seeds: Seeds, server: Any, client: Any, seed: Any, n: int, first: str) -> dict[str, list[dict]]:
    single = seeds.prompt(seed)
    listed = seeds.prompt(seed, n, "v3")
    out: dict[str, list[dict]] = {"v2_one_per_request": [], "v3_list": []}
    for name in (first, *(k for k in out if k != first)):
        if name == "v3_list":
            schema = _list_schema(seeds.items.schema, n)
            answer = ask(server, client, listed, schema, 0)
            answer["items"] = list(answer["parsed"].problems) if answer["parsed"] else []
            out[name].append(answer)
        else:
            for sample in range(n):
                answer = ask(server, client, single, seeds.items.schema, sample)
                answer["items"] = [answer["parsed"]] if answer["parsed"] else []
                out[name].append(answer)
    return out


def run_llm2llm_part(args: argparse.Namespace) -> dict[str, Any]:
    import openai

    from pada.teacher.local_server import LlamaCppServer

    seeds = Seeds(args.runs, args.seeds)
    records: dict[str, list[dict]] = {"v2_one_per_request": [], "v3_list": []}
    verdicts: dict[str, list[str]] = {name: [] for name in records}
    folder = args.cache / "bench" / "teacher_speed_llm2llm"
    with LlamaCppServer(args.gguf, folder) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="-", max_retries=0, timeout=1800)
        k = 0
        for _, wrong, chosen in seeds.cells:
            for seed in chosen:
                first = list(records)[k % 2]
                for name, answers in _one_seed(seeds, server, client, seed, args.samples, first).items():
                    items = [item for a in answers for item in a.pop("items")]
                    judged = judge(seeds, wrong, items)
                    verdicts[name] += judged
                    for a in answers:
                        a["parsed"] = None
                    records[name] += [
                        {"seed": seed.id, "first": first, "verdicts": judged, **a} for a in answers
                    ]
                k += 1
                print(f"[teacher_speed] llm2llm seed {k}", file=sys.stderr, flush=True)
    attach_ordered(records, folder / "teacher_server.log")
    return {"summary": llm2llm_summary(records, verdicts), "records": records}


def attach_ordered(records: dict[str, list[dict]], log: Path) -> None:
    """The one server answered every variant's requests in the order sent (its log's perf blocks)."""
    ordered = sorted((r for rows in records.values() for r in rows), key=lambda r: r["sent"])
    attach_perf(ordered, log)


def llm2llm_summary(records: dict[str, list[dict]], verdicts: dict[str, list[str]]) -> dict[str, Any]:
    from collections import Counter

    summary = {}
    for name, rows in records.items():
        counts = Counter(verdicts[name])
        row = {**totals(rows), "problems": len(verdicts[name]), **counts}
        kept = counts["kept"] or float("nan")
        row["cpu_s_per_kept"] = round(row["cpu_s"] / kept, 2)
        row["prompt_evaluated_per_kept"] = round(row["prompt_evaluated"] / kept, 1)
        row["output_tokens_per_kept"] = round(row["output_tokens"] / kept, 1)
        summary[name] = row
    return summary


def write(args: argparse.Namespace, result: dict[str, Any], started: float, load_before: list[float]) -> None:
    stem = f"teacher_speed_{args.part}"
    answers = args.cache / "bench" / f"{stem}_answers.jsonl"
    answers.parent.mkdir(parents=True, exist_ok=True)
    records = result.pop("records")
    with answers.open("w") as out:
        for name, rows in records.items():
            for row in rows:
                out.write(json.dumps({"variant": name, **row}, default=str) + "\n")
    report = {
        "title": f"Teacher CPU per kept example: {args.part} (experiments/bench/teacher_speed.py)",
        "note": _note(args.part),
        "machine": machine(),
        "results": {
            **result,
            "run": {
                "wall_s": round(time.perf_counter() - started, 1),
                "load_before": load_before,
                "load_after": load_average(),
                "answers": str(answers),
            },
        },
    }
    paths = write_report(ROOT / "experiments" / "bench" / "results", stem, report)
    print(json.dumps({k: v for k, v in result.items()}, indent=1, default=str))
    print(f"wrote {paths[0]} and {paths[1]}", file=sys.stderr)


def _note(part: str) -> str:
    if part == "servers":
        import teacher_servers

        return teacher_servers.__doc__
    if part == "pada":
        return next(p for p in __doc__.split("\n\n") if p.startswith("- ``pada``"))
    return __doc__.split("\n\n")[3]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("server", "llm2llm", "pada", "servers"))
    parser.add_argument("--runs", type=Path, required=True, help="a make demo-real runs dir (runs/demo_real)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pada")
    parser.add_argument("--gguf", type=Path, default=None, help="default: CACHE/teachers/<the 0.5B>.gguf")
    parser.add_argument(
        "--seeds", default=None, help="wrong seeds per cell (default: 2 / 4; pada: per cell in order, 14,4)"
    )
    parser.add_argument("--samples", type=int, default=None, help="samples per seed (default: 2 / 3)")
    parser.add_argument(
        "--regenerations", type=int, default=1, help="pada: qc.max_regenerations (demo-real's)"
    )
    parser.add_argument("--verify", action="store_true", help="pada: the teacher verifies each item (QC)")
    parser.add_argument("--per-role", type=int, default=8, help="servers: requests per role")
    parser.add_argument(
        "--summarize", action="store_true", help="pada: summarise the records of a stopped run"
    )
    parser.add_argument("--variants", default="ABCD", help="servers: which of A B C D (A always)")
    args = parser.parse_args(argv)
    args.gguf = args.gguf or args.cache / "teachers" / GGUF.name
    if not args.gguf.is_file():
        print(
            f"pada: error: {args.gguf} does not exist; assemble it with `make teacher-gguf`", file=sys.stderr
        )
        return 2
    wanted = (
        "*-pada-s*/eval_0/train.jsonl" if args.part == "pada" else "*llm2llm*/augment_0/baseline_report.json"
    )
    if not any(args.runs.glob(wanted)):
        print(
            f"teacher_speed: skipped: no {args.part} cell of a make demo-real run under {args.runs}",
            file=sys.stderr,
        )
        return 0
    started, load_before = time.perf_counter(), load_average()
    if args.part == "servers":
        from teacher_servers import run_servers_part

        result = run_servers_part(args)
    elif args.part == "pada":
        args.seeds = args.seeds or "14,4"
        from teacher_speed_pada import read_pada_records, run_pada_part

        records = args.cache / "bench" / "teacher_speed_pada_records.jsonl"
        result = read_pada_records(records) if args.summarize else run_pada_part(args)
    else:
        server = args.part == "server"
        args.seeds = int(args.seeds or (2 if server else 4))
        args.samples = args.samples or (2 if server else 3)
        result = run_server_part(args) if server else run_llm2llm_part(args)
    write(args, result, started, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())

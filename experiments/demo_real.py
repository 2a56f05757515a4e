"""REAL mini Table 2 on CPU (`make demo-real`): SmolLM2-135M-Instruct as the student, Qwen2.5-Coder-Instruct
(Q4_K_M GGUF) served by llama.cpp on 127.0.0.1 as the teacher, ARC-Challenge from local files; SFT, the
sft_val control, AugGPT, LLM2LLM and PaDA-Agent for every seed, budget- and step-matched; then `pada analyze`.

The teacher's server (``--server``): llama.cpp's own ``llama-server`` (default; 1 thread, 1 slot) or
llama-cpp-python's; TEACHER_SERVERS of them serve the same GGUF, PaDA-Agent's cells on the first and the
other generative cells on the second (``server_index``). The teacher is the run's serial resource, so
the cells are ordered and prioritised around it (``cell_plan``, ``run_plan``, docs/real_cpu.md): WORKERS
cells run at once (one thread each) at niceness CELL_NICENESS below the teacher's servers, the cells that need
the teacher start as early as their seed's shared stages allow (each seed's SFT cell, which computes them, is
queued one seed ahead), and the teacher-free sft_val controls fill the cores: one more starts (up to
MAX_CELLS) whenever the running cells leave a core idle, waiting on the teacher, and the rest come last.
One slot: each answer depends on its request alone, not on the requests decoded beside it,
and with no prompt cache (local_llamaserver.yaml) not on the previous one (4 slots: 124 of 232 shared
requests answered differently in two runs; batching saved no CPU). A run
cut short leaves its first seeds' generative cells; a re-run names the same cells (the servers' ports are
not identity) and the runner's stage cache makes it resume where it stopped. The peak RSS of the whole
process tree (this script, the cells and the teacher) is sampled every second and printed at the end.

Sizes (``--size``), from measured per-item costs (docs/real_cpu.md, "make demo-real"):
  quick    the default: 58 min on 2 idle cores at 195 % CPU (3eb8214); too few test items for a 5-point
           minimum detectable effect, which the table's MDE row then says
  powered  every ARC-Challenge test item (1,172) and 4 seeds, ~2.9 h on 2 idle cores from an empty cache
           (~800 CPU s a cell); with --seeds 3 measured: MDE 3.8 points, ~2 h 10 min (docs/real_cpu.md)
  smoke    one seed and a handful of items: the pipeline end to end in minutes (not a result)

With ``--analysis-teacher NAME`` (``make demo-real DEMO_REAL_ANALYSIS_TEACHER=NAME``) a second llama.cpp
server serves ``CACHE_DIR/teachers/NAME.gguf`` on its own port, and every cell routes the roles in
``ANALYSIS_ROLES`` (error analyses, pattern summaries, strategies) to it (``teacher.routes.analysis``,
docs/teacher.md); generation, paraphrase and verification stay with the default teacher.

Usage: python experiments/demo_real.py --data-dir DIR [--size quick] [--runs runs/demo_real]
       [--out reports/demo_real] [--teacher-gguf PATH] [--methods sft,sft_val,auggpt,llm2llm,pada]
       [--analysis-teacher qwen2.5-coder-1.5b-instruct-q4_k_m] [--seeds N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path

import psutil

from pada.errors import PadaError
from pada.models.gguf_package import prepare
from pada.teacher.llama_server import LlamaServer
from pada.teacher.local_server import LlamaCppServer, LocalTeacherServer

MAX_PARSE_FAILURES = 0.05  # issue 27: at most 5% of the teacher's answers in any role may fail to parse
TEACHER = "qwen2.5-coder-0.5b-instruct-q4_k_m"  # ~2x the 1.5B's tokens/s on one thread: more calls fit (docs)
# The roles --analysis-teacher answers: few requests per cell (~17 of PaDA-Agent's ~70), where the 0.5B's
# patterns and strategies were poor (docs/real_cpu.md); the many generation requests stay with TEACHER.
ANALYSIS_ROLES = ("error_analysis", "pattern_summary", "strategy")
# The teacher's server, one for every method of a run (--server): llama.cpp's own `llama-server` or
# llama-cpp-python's (docs/real_cpu.md, "llama-server"). Each has its teacher config (the cache key names it).
SERVERS = {"llama-server": "local_llamaserver", "llama-cpp-python": "local_llamacpp"}
# One sequence at a time: 4 slots decoded together cost the same CPU on this host (1.09x) and made an answer
# depend on which requests shared its batch (docs/real_cpu.md); = local_llamaserver.yaml's max_concurrency.
SLOTS = 1
WORKERS = 3  # cells at once: one can train or evaluate on each core while another waits for the teacher
# The cells yield to the teachers' servers, whose single thread every generative cell waits on.
CELL_NICENESS = 10
# Servers of TEACHER, each one thread and one slot: the teacher is the run's serial resource, so two decode
# side by side (an answer depends on its request alone either way, SLOTS). PaDA-Agent's requests to the 0.5B
# (98k prompt / 28k output tokens over 3 seeds in 8e768df's run) about equal LLM2LLM's and AugGPT's
# together (37k / 29k): one server for PaDA-Agent, one for the others (``server_index``).
TEACHER_SERVERS = 2
# Teacher-free cells no other cell waits for: they start after the others, or beyond WORKERS (up to
# MAX_CELLS) whenever the running cells leave a core idle, e.g. all waiting on the teacher (8e768df's run:
# 2,613-3,381 s with both controls queued, docs/real_cpu.md).
FILLERS = ("sft_val",)
IDLE_BELOW = 0.7  # host CPU use, a fraction of all cores, under which one counts as idle (2 cores: < 1.4)
IDLE_WINDOW_S = 30.0  # a started cell imports torch and loads its model for ~15 s: judge the cores after
MAX_CELLS = 4  # 4 cells (<= 4.3 GB peak each, docs/real_cpu.md) and both teachers' servers fit in 24 GB
# Generative methods by their teacher stage's measured length, longest first (docs/real_cpu.md): the longest
# start first, so the shorter ones and the teacher-free cells fill the cores at the end.
LONGEST_TEACHER_STAGE_FIRST = ("pada", "llm2llm", "auggpt")
# Per size: seeds, seed examples, synthetic examples per generative cell (budget-matched), items scored.
SIZES = {
    "smoke": {"seeds": 1, "budget": 8, "synthetic": 8, "val": 12, "test": 24},
    "quick": {"seeds": 3, "budget": 16, "synthetic": 16, "val": 32, "test": 200},
    "powered": {"seeds": 4, "budget": 16, "synthetic": 16, "val": 32, "test": 1172},
}
# Shared by every cell. Throughput first (the host has 24 GB: no gradient checkpointing, glibc's own
# malloc threshold: a cell peaks at ~4.2 GB instead of ~2, docs/real_cpu.md).
COMMON = [
    "model=smollm2_135m_instruct",
    "task=arc_challenge",
    "budget_match=true",  # every generative method is raised to the same synthetic count, or says why not
    "trainer.match_steps=true",  # every training round of every method takes the same optimizer steps
    "trainer.epochs=2",  # 2 x ceil((budget + synthetic) / 8) steps: the format is learnt in one epoch
    "trainer.batch_size=4",
    "trainer.grad_accum=2",  # effective batch 8
    "trainer.ckpt_every_n_steps=null",  # a cell's training is minutes; a cut one restarts the stage
    "eval.batch_size=16",  # measured: per-item CPU within 10% of batch 8
    "eval.max_new_tokens=24",  # "The best answer is X." is ~7 tokens; room for a short preamble
    "run.eval_val=needed",  # validation only where read (PaDA-Agent's rounds): ~0.8 CPU s an item, same results
    "wandb.mode=disabled",
]
# One augmentation round per generative method (the teacher answers one request at a time on one core).
METHODS = {
    "sft": ["method=sft", "teacher=none"],
    "sft_val": ["method=sft_val", "teacher=none"],
    "auggpt": ["method=auggpt"],
    "llm2llm": ["method=llm2llm", "method.loop.iterations=1"],
    "pada": [
        "method=pada",
        "method.loop.iterations=1",
        "method.patterns.embedder=bundled:all-MiniLM-L6-v2",  # the registry-packaged embedder: offline
        "method.max_analyses=9",  # 9 analyses -> kmeans may find up to 3 patterns of >= 3 failures
        "method.qc.max_regenerations=1",  # one more sample for a rejected slot
        "method.generation.strategy_format=json_list",  # a pattern's slots in one request: one prompt, not one each
    ],
}


def size_overrides(size: dict[str, int]) -> list[str]:
    return [
        f"budget={size['budget']}",
        f"synthetic_budget={size['synthetic']}",
        f"task.limits.val={size['val']}",
        f"task.limits.test={size['test']}",
    ]


def cell_plan(
    methods: list[str], size: dict[str, int], paths: list[str], teacher: Callable[[str], list[str]]
) -> list[tuple[str, int, list[str]]]:
    """(method, seed, overrides) per cell, in the order they start: seed 0's and seed 1's SFT cells (which
    compute their seeds' shared train_0 and eval_0), then per seed the next seed's SFT and this seed's
    generative cells, longest teacher stage first; the other teacher-free cells (sft_val) last, as filler.
    Without ``sft`` in ``methods`` a seed's first cell computes its shared stages. ``teacher(method)``: the
    teacher overrides of a method that needs one."""
    common = [*COMMON, *size_overrides(size), *paths]

    def cell(name: str, seed: int) -> tuple[str, int, list[str]]:
        needs_teacher = "teacher=none" not in METHODS[name]
        return (name, seed, [*common, *METHODS[name], *(teacher(name) if needs_teacher else [])])

    seeds = range(size["seeds"])
    generative = [m for m in LONGEST_TEACHER_STAGE_FIRST if m in methods]
    head = ["sft"] if "sft" in methods else []
    plan = [cell(name, 0) for name in head]
    for seed in seeds:
        plan += [cell(name, seed + 1) for name in head if seed + 1 in seeds]
        plan += [cell(name, seed) for name in generative]
    rest = [m for m in methods if m not in (*head, *generative)]
    return plan + [cell(name, seed) for name in rest for seed in seeds]


class PeakRSS(threading.Thread):
    """The largest summed RSS of this process and all its descendants, sampled every ``every_s`` seconds."""

    def __init__(self, every_s: float = 1.0):
        super().__init__(daemon=True)
        self.every_s, self.peak_total, self.peak_single, self._stop = every_s, 0, 0, threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.every_s):
            sizes = []
            for proc in [me, *me.children(recursive=True)]:
                try:
                    sizes.append(proc.memory_info().rss)
                except psutil.Error:  # exited between listing and reading
                    continue
            self.peak_total = max(self.peak_total, sum(sizes))
            self.peak_single = max(self.peak_single, max(sizes, default=0))

    def stop(self) -> None:
        self._stop.set()


class IdleCores:
    """Callable: whether the host's CPU use since the last reading, at least ``window_s`` seconds ago, was
    under ``below`` (a fraction of all cores; psutil's system-wide ``cpu_percent``, which counts niced
    processes too). ``restart`` begins a new window, e.g. after a cell starts."""

    def __init__(self, window_s: float = IDLE_WINDOW_S, below: float = IDLE_BELOW):
        self.window_s, self.below = window_s, below
        self.restart()

    def restart(self) -> None:
        psutil.cpu_percent(None)  # the next reading measures from now
        self.since = time.monotonic()

    def __call__(self) -> bool:
        if time.monotonic() - self.since < self.window_s:
            return False
        busy = psutil.cpu_percent(None) / 100
        self.since = time.monotonic()
        return busy < self.below


Cell = tuple[str, int, list[str]]


def next_queue(
    ordered: deque[Cell], fillers: deque[Cell], running: int, workers: int, idle: Callable[[], bool]
) -> deque[Cell] | None:
    """The queue whose head starts now, or None: the ordered cells, then the FILLERS, while fewer than
    ``workers`` run; a filler beyond them (up to MAX_CELLS) if ``idle()`` says a core is idle."""
    if running < workers and (ordered or fillers):
        return ordered or fillers
    if running < MAX_CELLS and fillers and idle():
        return fillers
    return None


def run_plan(
    plan: list[Cell],
    run: Callable[[str, int, list[str]], tuple[int, float]],
    workers: int,
    idle: IdleCores,
    tick_s: float = 5.0,
) -> list[tuple[int, float]]:
    """Run every cell of ``plan`` with ``run`` (one thread each), started as ``next_queue`` says: the FILLERS
    keep their order among themselves, the other cells theirs. Cores are re-read every ``tick_s`` seconds.
    Returns each cell's ``run`` result, in the order the cells finished."""
    ordered = deque(cell for cell in plan if cell[0] not in FILLERS)
    fillers = deque(cell for cell in plan if cell[0] in FILLERS)
    running: set[Future] = set()
    done: list[tuple[int, float]] = []
    with ThreadPoolExecutor(max(workers, MAX_CELLS)) as pool:  # a thread per running cell, never a queue
        while ordered or fillers or running:
            while queue := next_queue(ordered, fillers, len(running), workers, idle):
                running.add(pool.submit(run, *queue.popleft()))
                idle.restart()
            finished, running = wait(running, timeout=tick_s, return_when=FIRST_COMPLETED)
            done += [future.result() for future in finished]
    return done


def run_cell(name: str, seed: int, args: list[str], started: float) -> tuple[int, float]:
    """Run one cell in its own process: (exit code, its CPU seconds, user + sys, children included). CPU
    seconds, unlike wall time on a shared host, project what the run costs on idle cores."""
    command = [sys.executable, "-m", "pada.cli", "run", f"seed={seed}", *args]
    print(f"[{time.monotonic() - started:6.0f} s] start {name} seed {seed}", flush=True)
    process = subprocess.Popen(command)
    # set before the cell imports torch, so every thread it starts inherits it
    os.setpriority(os.PRIO_PROCESS, process.pid, CELL_NICENESS)
    _, status, usage = os.wait4(process.pid, 0)
    code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
    print(
        f"[{time.monotonic() - started:6.0f} s] {name} seed {seed}: exit {code}, {cpu:.0f} CPU s", flush=True
    )
    return code, cpu


def teacher_report(runs: Path) -> tuple[str, list[str]]:
    """Markdown: per teacher role, the model that answered it, the requests, calls, truncated answers,
    re-asks and parse failures of every finished cell under ``runs``, and each generative cell's synthetic
    count; plus the findings (a role whose parse failures exceed MAX_PARSE_FAILURES of its requests, a
    cell that added nothing)."""
    roles: dict[str, dict[str, int]] = {}
    models: dict[str, set[str]] = {}
    findings, cells = [], []
    for path in sorted(runs.glob("*/results.json")):
        results = json.loads(path.read_text())
        usage = results.get("teacher_usage") or {}
        if not usage:
            continue  # sft, sft_val: no teacher
        name = f"{results['cell']['method']} seed {results['cell']['seed']}"
        cells.append(f"{name}: {results['data']['synthetic']} synthetic")
        if not results["data"]["synthetic"]:
            findings.append(f"{name} added zero synthetic examples")
        for role, row in usage["roles"].items():
            default = f"{usage.get('provider')}/{usage.get('model')}"
            models.setdefault(role, set()).add((usage.get("role_models") or {}).get(role, default))
            into = roles.setdefault(role, {})
            for key in ("requests", "calls", "truncated", "reasks", "parse_failures"):
                into[key] = into.get(key, 0) + int(row.get(key, 0))
    lines = [
        "| role | model | requests | calls | truncated | re-asks | parse failures |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for role, row in sorted(roles.items()):
        rate = row["parse_failures"] / max(1, row["requests"])
        lines.append(
            f"| {role} | {', '.join(sorted(models[role]))} | {row['requests']} | {row['calls']} | "
            f"{row['truncated']} | {row['reasks']} | {row['parse_failures']} ({rate:.0%}) |"
        )
        if rate > MAX_PARSE_FAILURES:
            findings.append(f"role {role}: {rate:.0%} parse failures (> {MAX_PARSE_FAILURES:.0%})")
    return "\n".join([*lines, "", "; ".join(cells)]), findings


def server_index(method: str, servers: int) -> int:
    """Which of ``servers`` TEACHER servers answers ``method``: the i-th of LONGEST_TEACHER_STAGE_FIRST the
    i-th server, the rest the last. A method keeps one server in every seed (a loopback endpoint's port is not
    part of the cell identity, pada.run.identity.endpoint_identity, so a re-run on new ports names the same
    cells)."""
    return min(LONGEST_TEACHER_STAGE_FIRST.index(method), servers - 1)


def start_server(kind: str, gguf: Path, workdir: Path) -> LlamaCppServer | LlamaServer:
    """The teacher server ``kind`` (a SERVERS key) over ``gguf``, one thread (on a loaded host one thread
    decoded ~8x faster than two, docs/real_cpu.md), at this script's niceness: above the cells'."""
    if kind == "llama-server":
        return LlamaServer(gguf, workdir, threads=1, slots=SLOTS)
    return LlamaCppServer(gguf, workdir, threads=1)


def teacher_overrides(
    server: LocalTeacherServer, analysis: LocalTeacherServer | None, kind: str
) -> list[str]:
    """The cells' teacher overrides: the default teacher at ``server`` (of ``kind``, a SERVERS key); with
    ``analysis``, the roles in ANALYSIS_ROLES routed to it (``teacher.routes.analysis``: its own model and
    endpoint)."""
    overrides = [
        f"teacher={SERVERS[kind]}",
        f"teacher.base_url={server.base_url}",
        f"teacher.model={server.model}",
    ]
    if analysis is None:
        return overrides
    route = "+teacher.routes.analysis"
    return [
        *overrides,
        f"{route}.roles=[{','.join(ANALYSIS_ROLES)}]",
        f"{route}.teacher.model={analysis.model}",
        f"{route}.teacher.base_url={analysis.base_url}",
    ]


def cpu_seconds(server: LocalTeacherServer | None) -> float:
    return sum(psutil.Process(server.process.pid).cpu_times()[:2]) if server is not None else 0.0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/pada"))
    parser.add_argument("--runs", type=Path, default=Path("runs/demo_real"))
    parser.add_argument("--out", type=Path, default=Path("reports/demo_real"))
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--teacher-gguf", type=Path, help=f"default CACHE_DIR/teachers/{TEACHER}.gguf")
    parser.add_argument(
        "--analysis-teacher",
        help="a GGUF name under CACHE_DIR/teachers (e.g. qwen2.5-coder-1.5b-instruct-q4_k_m) served on a "
        f"second port for the roles {', '.join(ANALYSIS_ROLES)}; default: none (one teacher for every role)",
    )
    parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        default="llama-server",  # 0.6x the CPU per output token of llama-cpp-python's (docs/real_cpu.md)
        help="the teacher's server for every cell (default llama-server: measured, docs/real_cpu.md)",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help="comma list of " + ", ".join(METHODS))
    parser.add_argument(
        "--seeds", type=int, help="only the first N seeds of the size (a partial measurement)"
    )
    parser.add_argument(
        "--teacher-servers",
        type=int,
        default=TEACHER_SERVERS,
        help="servers of the teacher, one thread each; PaDA-Agent's cells use the first, the others the rest",
    )
    parser.add_argument("--workers", type=int, default=WORKERS, help="cells at a time (one thread each)")
    return parser.parse_args()


def main() -> int:
    args = arguments()
    if args.teacher_servers < 1:
        raise PadaError(f"--teacher-servers {args.teacher_servers}: at least one server answers the teacher")
    cache = args.cache_dir.expanduser().resolve()
    prepare(cache)  # once: the student's registry GGUF, de-quantized to float32
    gguf = args.teacher_gguf or cache / "teachers" / f"{TEACHER}.gguf"
    size = {**SIZES[args.size], **({"seeds": args.seeds} if args.seeds else {})}
    paths = [f"paths.data_dir={args.data_dir}", f"paths.runs_dir={args.runs}", f"paths.cache_dir={cache}"]
    started, rss = time.monotonic(), PeakRSS()
    rss.start()
    with ExitStack() as servers:
        defaults = [
            servers.enter_context(start_server(args.server, gguf, cache / f"teacher_server{i or ''}"))
            for i in range(args.teacher_servers)
        ]
        for server in defaults:
            print(f"REAL teacher: {server.model} at {server.base_url} ({args.server}, 1 thread)", flush=True)
        analysis = None
        if args.analysis_teacher:  # a server of its own: no model swaps, no name fallback
            second = cache / "teachers" / f"{args.analysis_teacher}.gguf"
            analysis = servers.enter_context(
                start_server(args.server, second, cache / "teacher_server_analysis")
            )
            print(f"analysis teacher ({', '.join(ANALYSIS_ROLES)}): {analysis.model} at {analysis.base_url}")
        overrides = [teacher_overrides(server, analysis, args.server) for server in defaults]
        cells = cell_plan(
            args.methods.split(","),
            size,
            paths,
            lambda method: overrides[server_index(method, len(overrides))],
        )
        done = run_plan(cells, lambda *cell: run_cell(*cell, started), args.workers, IdleCores())
        teacher_cpu = sum(cpu_seconds(server) for server in [*defaults, analysis])
    rss.stop()
    failed = sum(code != 0 for code, _ in done)
    cells_cpu = sum(cpu for _, cpu in done)
    analyze = [sys.executable, "-m", "pada.cli", "analyze", str(args.runs), "--out", str(args.out)]
    code = subprocess.call(analyze)
    report, findings = teacher_report(args.runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "teacher.md").write_text(report + "\n")
    print(report, *(f"FINDING: {f}" for f in findings), sep="\n", flush=True)
    print(
        f"REAL mini Table 2 ({args.size}: {size}) done in {time.monotonic() - started:.0f} s, {failed} of "
        f"{len(cells)} cells failed; CPU: cells {cells_cpu:.0f} s, teacher {teacher_cpu:.0f} s (on 2 idle "
        f"cores at least {(cells_cpu + teacher_cpu) / 2 / 60:.0f} min); load average "
        f"{os.getloadavg()[0]:.1f}; peak RSS of the process tree {rss.peak_total / 2**30:.2f} GiB, largest "
        f"process {rss.peak_single / 2**30:.2f} GiB: {args.out}/table2.md",
        flush=True,
    )
    return code or (2 if failed else 0)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PadaError as error:  # an absent GGUF or server: one line, exit 2
        print(f"pada: error: {error}", file=sys.stderr)
        sys.exit(2)

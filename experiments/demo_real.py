"""REAL-MODEL demo on CPU (`make demo-real`): SmolLM2-135M-Instruct as the student and, served locally by
`transformers serve`, as the teacher; ARC-Challenge from local files; SFT and each generative method with
small budgets and item limits; then `pada analyze`. The smallest honest real-model run: real weights, real
HTTP teacher, real task. It is not a result about the methods: a 135M teacher writes little usable data.

Usage: python experiments/demo_real.py --data-dir DIR [--runs runs/demo_real] [--out reports/demo_real]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from pada.models.gguf_package import prepare
from pada.teacher.local_server import LocalTeacherServer

# Shared by every cell: small enough for ~20 min on 2 shared cores, large enough to exercise each stage.
COMMON = [
    "model=smollm2_135m_instruct",
    "task=arc_challenge",
    "budget=8",
    "seed=0",
    "task.limits.val=8",
    "task.limits.test=20",  # items scored: the val set feeds PaDA's analysis
    "trainer.max_steps=2",
    "trainer.batch_size=2",
    "trainer.grad_accum=2",  # 8 sequences per training
    "trainer.gradient_checkpointing=true",  # activation memory: keeps the cell under 2 GB RSS
    "run.malloc_mmap_threshold_kib=128",  # and freed activations go back to the OS (docs/real_cpu.md, Memory)
    "eval.batch_size=8",
    "eval.max_new_tokens=32",  # "The best answer is X." needs ~8 tokens
    "wandb.mode=disabled",
]
# Per method: one augmentation round, few teacher calls (the teacher answers one request at a time).
METHODS = {
    "sft": ["method=sft", "teacher=none"],
    "auggpt": ["method=auggpt", "method.k=1"],
    "llm2llm": [
        "method=llm2llm",
        "method.loop.iterations=1",
        "method.max_attempts=1",
        "method.max_tokens=96",
    ],
    "pada": [
        "method=pada",
        "method.loop.iterations=1",
        "method.patterns.grouping=single",
        "method.patterns.embedder=bundled:all-MiniLM-L6-v2",
        "method.generation.strategy_examples=2",
        "method.max_analyses=4",
        "method.qc.max_regenerations=0",
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/pada"))
    parser.add_argument("--runs", type=Path, default=Path("runs/demo_real"))
    parser.add_argument("--out", type=Path, default=Path("reports/demo_real"))
    parser.add_argument("--methods", default=",".join(METHODS), help="comma list of " + ", ".join(METHODS))
    args = parser.parse_args()
    cache = args.cache_dir.expanduser().resolve()
    student = prepare(cache)  # once: the registry package's GGUF, de-quantized to float32
    started = time.monotonic()
    paths = [f"paths.data_dir={args.data_dir}", f"paths.runs_dir={args.runs}", f"paths.cache_dir={cache}"]
    with LocalTeacherServer(student, cache / "teacher_server") as server:
        print(f"REAL teacher: {server.model} at {server.base_url} (transformers serve, CPU)", flush=True)
        teacher = [
            "teacher=local_real",
            f"teacher.base_url={server.base_url}",
            f"teacher.model={server.model}",
            "teacher.client.max_error_rate=0.0",  # strict: a failed request fails the cell, never a silent SFT
            "teacher.sampling.max_tokens=96",  # 256 tokens took ~40 s a request on the shared CPU
            "teacher.client.structured_reasks=0",  # the 135M model rarely writes valid JSON: do not re-ask
        ]
        for name in args.methods.split(","):
            extra = METHODS[name] if name == "sft" else [*teacher, *METHODS[name]]
            command = [sys.executable, "-m", "pada.cli", "run", *COMMON, *paths, *extra]
            print(
                f"[{time.monotonic() - started:6.0f} s] {name}: pada run {' '.join(COMMON[:3])} ...",
                flush=True,
            )
            if (code := subprocess.call(command)) != 0:
                print(f"REAL demo: {name} failed (exit {code}); the other cells go on", flush=True)
    analyze = [sys.executable, "-m", "pada.cli", "analyze", str(args.runs), "--out", str(args.out)]
    code = subprocess.call(analyze)
    print(
        f"REAL-MODEL demo (135M student and teacher on CPU; not a result about the methods) done in "
        f"{time.monotonic() - started:.0f} s: {args.out}/table2.md",
        flush=True,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Every CPU benchmark, as ratios within one run; writes cpu.json + cpu.md (or cpu-quick.*) with the machine.

    python experiments/bench/cpu.py [--quick] [--only clustering,eval,...] [--data-dir DIR] [--out DIR]

--quick shrinks every size so the whole file runs in well under a minute (the smoke test uses it; its
numbers are not for reporting). Benchmarks: clustering, embedding, eval (our transformers backend vs
lm-eval's HF backend), lightning (pada.training.train.fit vs a plain torch loop), sandbox
(sandbox_mbpp.py; needs the MBPP files), teacher (teacher_bench.py), demo (SIMULATION: one
`pada run experiment=sim`, wall time and peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load_average, machine, run_child, time_call, time_pair, write_report  # noqa: E402

sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent
QUESTION = "Tom has {a} apples and buys {b} more. How many apples does Tom have now?"


def _threads() -> None:
    import torch

    torch.set_num_threads(1)  # one thread is faster than two spinning ones on this shared host


def _load(cfg_name: str):
    from omegaconf import OmegaConf

    return OmegaConf.load(ROOT / "conf" / cfg_name)


def bench_clustering(quick: bool) -> dict[str, Any]:
    """pada.agent.clustering.cluster on random unit vectors (dim 384, MiniLM's), in one BLAS/OpenMP thread.

    Also times the smallest size with the library's default thread pools: on a loaded 2-core host their
    spinning OpenMP workers made k-means ~80x slower, which is the finding this section exists to track.
    """
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    from pada.agent.clustering import cluster

    sizes, dim = ((200, 400) if quick else (1000, 5000, 10000)), 384
    out: dict[str, Any] = {"dim": dim, "k_range": "2..10", "n_init": 10, "threads": 1}
    for n in sizes:
        x = np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        with threadpool_limits(1):
            timing = time_call(lambda x=x: cluster(x, seed=0), repeats=1 if n >= 5000 else 3, warmup=0)
            labels = KMeans(n_clusters=5, n_init=1, random_state=0).fit(x).labels_
            one_silhouette = time_call(lambda x=x, labels=labels: silhouette_score(x, labels), 1, 0).median_s
        out[f"n{n}"] = {
            "cluster_s": timing.to_dict(),
            "silhouette_share": round(9 * one_silhouette / timing.median_s, 3),  # 9 values of K
            "load_1m": load_average()[0],
        }
        if n == sizes[0]:
            default = time_call(lambda x=x: cluster(x, seed=0), repeats=1, warmup=0).median_s
            out[f"n{n}"]["cluster_s_default_threads"] = round(default, 3)
            out["slowdown_default_threads_over_one_thread"] = round(default / timing.median_s, 1)
    first = out[f"n{sizes[0]}"]["cluster_s"]["median_s"]
    for n in sizes[1:]:
        out[f"ratio_n{n}_over_n{sizes[0]}"] = round(out[f"n{n}"]["cluster_s"]["median_s"] / first, 2)
    return out


def bench_embedding(quick: bool) -> dict[str, Any]:
    """Bundled MiniLM: error analyses per second (what pattern categorisation embeds), 1 vs default threads."""
    import torch

    from pada.agent.clustering import BUNDLED_MINILM, embed

    n, default_threads = (64 if quick else 1000), torch.get_num_threads()
    texts = [
        f"The student added instead of multiplying in step {i % 7}; it misread the quantity {i} as a total "
        f"and never checked units, so the final answer {3 * i} is wrong."
        for i in range(n)
    ]
    embed(texts[:8], BUNDLED_MINILM)  # load once so the timing is encoding, not disk

    def with_threads(k: int):
        def run():
            torch.set_num_threads(k)
            try:
                embed(texts, BUNDLED_MINILM)
            finally:
                torch.set_num_threads(default_threads)

        return run

    one, default = time_pair(
        with_threads(1), with_threads(default_threads), repeats=1 if quick else 2, warmup=0
    )
    return {
        "texts": n,
        "default_threads": default_threads,
        "embed_s_1_thread": one.to_dict(),
        "embed_s_default_threads": default.to_dict(),
        "texts_per_s_1_thread": round(n / one.median_s, 1),
        "speedup_1_thread_over_default": round(default.median_s / one.median_s, 3),
        "load_1m": load_average()[0],
    }


def _tiny_model(cache: Path) -> str:
    from pada.models.loading import resolve_model_path

    return resolve_model_path(_load("model/tiny.yaml"), cache)


def _chats(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": QUESTION.format(a=i, b=2 * i + 1)}] for i in range(n)]


def bench_eval(quick: bool, cache: Path) -> dict[str, Any]:
    """Greedy generation of the same prompts on the same tiny model: our backend vs lm-eval's HFLM."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from pada.inference.base import build_backend
    from pada.types import SamplingParams

    _threads()
    path, n, new_tokens, batch = _tiny_model(cache), (16 if quick else 128), (8 if quick else 32), 32
    cfg = _load("eval/transformers.yaml")
    cfg.batch_size = batch
    ours = build_backend(path, cfg)
    chats = _chats(n)
    contexts = [
        ours.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chats
    ]
    hflm = HFLM(pretrained=path, device="cpu", batch_size=batch, dtype="float32")
    kwargs = {"until": [], "max_gen_toks": new_tokens, "do_sample": False}

    def lm_eval_run() -> list[str]:
        requests = [Instance("generate_until", {}, (c, dict(kwargs)), i) for i, c in enumerate(contexts)]
        return hflm.generate_until(requests, disable_tqdm=True)

    def ours_run():
        return ours.generate(chats, SamplingParams(max_new_tokens=new_tokens))

    ours_t, lm_t = time_pair(ours_run, lm_eval_run, repeats=1 if quick else 3)
    ours_text = [c.text for c in ours_run()]
    same = sum(a.strip() == b.strip() for a, b in zip(ours_text, lm_eval_run(), strict=True))
    return {
        "items": n,
        "max_new_tokens": new_tokens,
        "batch_size": batch,
        "torch_threads": 1,
        "ours_s": ours_t.to_dict(),
        "lm_eval_hf_s": lm_t.to_dict(),
        "speedup_ours_vs_lm_eval_median": round(lm_t.median_s / ours_t.median_s, 3),
        "identical_outputs": f"{same}/{n}",
        "load_1m": load_average()[0],
    }


def _train_examples(n: int):
    from pada.types import Example

    return [
        Example(
            f"b{i}",
            QUESTION.format(a=i, b=i + 3),
            f"Tom has {i} + {i + 3} = {2 * i + 3} apples.\n#### {2 * i + 3}",
            str(2 * i + 3),
        )
        for i in range(n)
    ]


def _trainer_cfg(steps: int):
    cfg = _load("trainer/lora.yaml")
    cfg.update(
        {"max_steps": steps, "batch_size": 8, "grad_accum": 1, "max_seq_len": 256, "accelerator": "cpu"}
    )
    return cfg


def _plain_loop(cfg, path: str, examples, seed: int) -> float:
    """The same model, data, optimizer and schedule as fit(), in a bare torch loop; returns loop seconds."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import get_cosine_schedule_with_warmup

    from pada.models.loading import load_tokenizer
    from pada.training.data import build_feature, collate
    from pada.training.train import build_model

    torch.manual_seed(seed)
    tokenizer = load_tokenizer(path)
    features = [build_feature(tokenizer, ex, cfg.max_seq_len) for ex in examples]
    loader = DataLoader(
        features,
        batch_size=cfg.batch_size,
        shuffle=True,
        collate_fn=lambda b: collate(b, tokenizer.pad_token_id),
        generator=torch.Generator().manual_seed(seed),
    )
    model = build_model(cfg, path, None).train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=tuple(cfg.betas))
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, int(cfg.warmup_ratio * cfg.max_steps), cfg.max_steps
    )
    start, step = time.perf_counter(), 0
    while step < cfg.max_steps:
        for batch in loader:
            model(**batch).loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
            optimizer.step(), scheduler.step(), optimizer.zero_grad()
            step += 1
            if step == cfg.max_steps:
                break
    return time.perf_counter() - start


def bench_lightning(quick: bool, cache: Path) -> dict[str, Any]:
    """fit() (Lightning) vs a plain loop: total seconds at two step counts, and the per-step slope."""
    from pada.training.train import fit

    _threads()
    path, examples = _tiny_model(cache), _train_examples(64)
    short, long = (3, 6) if quick else (20, 80)
    rows: dict[str, dict[int, float]] = {"lightning": {}, "plain": {}}
    for steps in (short, long):
        for _ in range(1 if quick else 2):  # alternate so both see the same load
            with tempfile.TemporaryDirectory() as tmp:
                seconds = fit(_trainer_cfg(steps), path, examples, Path(tmp), seed=0)["train_seconds"]
            rows["lightning"][steps] = min(seconds, rows["lightning"].get(steps, float("inf")))
            plain = _plain_loop(_trainer_cfg(steps), path, examples, seed=0)
            rows["plain"][steps] = min(plain, rows["plain"].get(steps, float("inf")))
    slope = {k: (v[long] - v[short]) / (long - short) for k, v in rows.items()}
    return {
        "steps": [short, long],
        "batch_size": 8,
        "mode": "lora",
        "torch_threads": 1,
        "lightning_s_best": rows["lightning"],
        "plain_s_best": rows["plain"],
        "steps_per_s_ratio_plain_over_lightning_at_long": round(
            rows["lightning"][long] / rows["plain"][long], 3
        ),
        "per_step_ms": {k: round(1000 * v, 2) for k, v in slope.items()},
        "lightning_fixed_overhead_s": round(
            (rows["lightning"][short] - short * slope["lightning"])
            - (rows["plain"][short] - short * slope["plain"]),
            3,
        ),
        "load_1m": load_average()[0],
    }


def _json_from(stdout: str) -> dict[str, Any]:
    return json.loads(stdout[stdout.index("{") :])


def bench_sandbox(quick: bool, data_dir: Path | None) -> dict[str, Any]:
    """experiments/bench/sandbox_mbpp.py (issue 3): the 500 MBPP references, sandbox vs serial."""
    if data_dir is None or not (data_dir / "mbpp").exists():
        return {"skipped": "no MBPP files: pass --data-dir (or set PADA_DATA_DIR)"}
    if quick:
        return {"skipped": "--quick: sandbox_mbpp.py always runs all 500 programs"}
    run = run_child([sys.executable, str(HERE / "sandbox_mbpp.py"), str(data_dir)], env=_env(), timeout=1200)
    if run.returncode:
        return {"failed": run.stderr.strip().splitlines()[-1:]}
    return _json_from(run.stdout)


def bench_teacher(quick: bool) -> dict[str, Any]:
    """experiments/bench/teacher_bench.py (issue 6): client vs bare SDK against a fixed-latency server."""
    args = ["--requests", "64", "--rounds", "1"] if quick else ["--requests", "200", "--rounds", "3"]
    run = run_child([sys.executable, str(HERE / "teacher_bench.py"), *args], env=_env(), timeout=900)
    if run.returncode:
        return {"failed": run.stderr.strip().splitlines()[-1:]}
    return {**_json_from(run.stdout), "load_1m": load_average()[0]}


def bench_demo(quick: bool, cache: Path) -> dict[str, Any]:
    """SIMULATION: one `pada run experiment=sim` cell in a child process; wall time and peak RSS."""
    warm = any((cache / "models").glob("tiny-sim-*")) if (cache / "models").exists() else False
    with tempfile.TemporaryDirectory() as runs:
        cmd = [
            sys.executable,
            "-m",
            "pada.cli",
            "run",
            "experiment=sim",
            f"paths.runs_dir={runs}",
            f"paths.cache_dir={cache}",
            "wandb.mode=disabled",
        ]
        if quick:
            cmd += ["budget=16", "trainer.epochs=1", "task.limits.test=8", "task.val_size=8"]
        run = run_child(cmd, env=_env(), timeout=1800)
        results = list(Path(runs).glob("*/results.json"))
        metrics = json.loads(results[0].read_text())["metrics"] if results else {}
    out = {
        "label": "SIMULATION (experiment=sim): simulated arithmetic world, not a benchmark result",
        "returncode": run.returncode,
        "wall_s": round(run.wall_s, 2),
        "peak_rss_mb": run.peak_rss_mb and round(run.peak_rss_mb, 1),
        "cpu_s": run.cpu_s and round(run.cpu_s, 2),
        "student_cache_warm_before": warm,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "quick_overrides": quick,
        "load_1m": load_average()[0],
    }
    if run.returncode:
        out["stderr_tail"] = run.stderr.strip().splitlines()[-3:]
    elif "test" in metrics:
        out["test_accuracy_simulated"] = metrics["test"]["accuracy"]
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "WANDB_MODE": "offline",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        env.setdefault(key, value)
    return env


def benchmarks(args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    q, cache = args.quick, args.cache_dir
    return {
        "clustering": lambda: bench_clustering(q),
        "embedding": lambda: bench_embedding(q),
        "eval": lambda: bench_eval(q, cache),
        "lightning": lambda: bench_lightning(q, cache),
        "sandbox": lambda: bench_sandbox(q, args.data_dir),
        "teacher": lambda: bench_teacher(q),
        "demo": lambda: bench_demo(q, cache),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the code paths, not for reporting"
    )
    parser.add_argument("--only", default="", help="comma-separated subset of the benchmarks")
    data = os.environ.get("PADA_DATA_DIR")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(data) if data else None, help="for the sandbox bench"
    )
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "pada", help="built tiny models")
    parser.add_argument(
        "--update", action="store_true", help="re-run --only's benchmarks into the existing report"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where cpu.json / cpu.md go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    table = benchmarks(args)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(table)
    unknown = sorted(set(chosen) - set(table))
    if unknown:  # one line and exit 2, like every pada error
        print(
            f"bench: error: unknown benchmark {', '.join(unknown)}; choose from {', '.join(table)}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    stem = (
        "cpu-quick" if args.quick else ("cpu" if not args.only or args.update else "cpu-" + "-".join(chosen))
    )
    report = _start_report(args, stem, chosen)
    for name in chosen:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        report["results"][name] = {**table[name](), "bench_wall_s": round(time.perf_counter() - start, 2)}
        print(f"[bench] {name}: {json.dumps(report['results'][name])[:300]}", file=sys.stderr, flush=True)
        report["machine"]["load_average_at_end"] = load_average()
        paths = write_report(
            args.out, stem, report
        )  # after each one: an interrupted run keeps what it measured
    print("\n".join(str(p) for p in paths))
    return report


def _start_report(args: argparse.Namespace, stem: str, chosen: list[str]) -> dict[str, Any]:
    """A fresh report, or with --update the existing one (its other sections kept, this re-run logged)."""
    existing = args.out / f"{stem}.json"
    if args.update and existing.is_file():
        report = json.loads(existing.read_text())
        report.setdefault("reruns", []).append({"benchmarks": chosen, "machine": machine()})
        return report
    return {
        "title": "pada CPU benchmarks" + (" (--quick: smoke sizes, not for reporting)" if args.quick else ""),
        "note": "Speeds are ratios of two things timed in the same run; absolute seconds depend on the load.",
        "machine": machine(),
        "results": {},
    }


if __name__ == "__main__":
    main()

"""Lightning step overhead versus a plain PyTorch loop on the same tiny model and the same batches.

    python experiments/bench/training_overhead.py [--steps 200] [--mode lora|full]

Both loops run AdamW + cosine warmup, accumulation 2 and clipping 1.0 over identical batches from the same
BatchPlan; both time the steady state (the median of per-batch intervals after 10 warm-up batches) and the
whole loop, alternating the two --repeats times. Also prints the peak RSS of this process. Goal: Lightning/plain <= 1.10.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from transformers import get_cosine_schedule_with_warmup

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "tests")]
from training_support import arithmetic, tiny_model_dir, trainer_cfg  # noqa: E402

from pada.models.loading import load_tokenizer  # noqa: E402
from pada.training.data import PlannedBatches, build_feature  # noqa: E402
from pada.training.module import model_inputs  # noqa: E402
from pada.training.train import build_model, build_plan, fit  # noqa: E402


class Intervals(L.Callback):
    def __init__(self):
        self.stamps: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.stamps.append(time.perf_counter())


def plain_loop(cfg, base: str, batches: list[dict], seed: int) -> list[float]:
    L.seed_everything(seed, verbose=False)
    model = build_model(cfg, base, None)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=tuple(cfg.betas))
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, int(cfg.warmup_ratio * cfg.max_steps), cfg.max_steps
    )
    stamps = []
    for i, batch in enumerate(batches):
        stamps.append(time.perf_counter())
        loss = model(**model_inputs(batch)).loss / cfg.grad_accum
        loss.backward()
        if (i + 1) % cfg.grad_accum == 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
    stamps.append(time.perf_counter())
    return stamps


def steady(stamps: list[float]) -> float:
    return statistics.median(b - a for a, b in zip(stamps[10:], stamps[11:], strict=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--mode", default="lora")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # see tests/training_support.py
    base, examples = tiny_model_dir(), arithmetic(64)
    cfg = trainer_cfg(args.mode, max_steps=args.steps, lr=1e-3)
    tokenizer = load_tokenizer(base)
    features = [build_feature(tokenizer, ex, cfg.max_seq_len) for ex in examples]
    plan = build_plan(cfg, [len(f.input_ids) for f in features], seed=0)
    data = PlannedBatches(features, tokenizer.pad_token_id, packed=False)
    n_batches = args.steps * cfg.grad_accum
    batches = [data[b] for e in range(n_batches // len(plan) + 1) for b in plan.batches(e)][:n_batches]

    plain_ms, lightning_ms = [], []
    for _ in range(args.repeats):  # alternate the two loops: the shared CPU's load drifts over minutes
        plain_ms.append(steady(plain_loop(cfg, base, batches, seed=0)) * 1e3)
        intervals = Intervals()
        fit(cfg, base, examples, Path(tempfile.mkdtemp()), seed=0, callbacks=[intervals])
        intervals.stamps.append(time.perf_counter())
        lightning_ms.append(steady(intervals.stamps) * 1e3)
    plain, lightning = statistics.median(plain_ms), statistics.median(lightning_ms)
    print(
        f"mode={args.mode} batches={n_batches} (optimizer steps {args.steps}, accumulation {cfg.grad_accum})"
    )
    print(f"plain loop : {plain:.2f} ms/batch (median over runs {[round(x, 2) for x in plain_ms]})")
    print(f"lightning  : {lightning:.2f} ms/batch (median over runs {[round(x, 2) for x in lightning_ms]})")
    print(f"steady-state ratio lightning/plain = {lightning / plain:.3f} (goal <= 1.10)")
    print(f"optimizer steps/s (lightning, steady) = {1e3 / (lightning * cfg.grad_accum):.1f}")
    print(f"peak RSS = {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

"""Fit the student on a list of examples and save what evaluation needs (a LoRA adapter or a full model)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from pada.io import write_jsonl
from pada.models.loading import load_causal_lm, load_tokenizer
from pada.training.data import build_feature, collate
from pada.training.module import SFTModule, apply_lora
from pada.types import Example


class _LossRecorder(L.Callback):
    """Keeps the per-batch loss curve (for the run dir and the exact-loss regression tests)."""

    def __init__(self, log: Callable[[dict[str, float]], None] | None):
        self.rows: list[dict[str, float]] = []
        self.sink = log

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        row = {
            "batch": len(self.rows),
            "step": trainer.global_step,
            "loss": float(outputs["loss"]) if isinstance(outputs, dict) else float(outputs),
            "lr": trainer.optimizers[0].param_groups[0]["lr"],
        }
        self.rows.append(row)
        if self.sink is not None:
            self.sink({f"train/{k}": v for k, v in row.items()})


def _build_model(cfg: Any, base_path: str, init_from: str | None):
    if cfg.mode == "full":
        return load_causal_lm(init_from or base_path, cfg.dtype)
    model = load_causal_lm(base_path, cfg.dtype)
    if init_from is not None:  # continue training a previous iteration's adapter
        from peft import PeftModel

        return PeftModel.from_pretrained(model, init_from, is_trainable=True)
    return apply_lora(model, cfg)


def total_optimizer_steps(cfg: Any, n_examples: int) -> int:
    if cfg.max_steps and cfg.max_steps > 0:
        return int(cfg.max_steps)
    batches_per_epoch = math.ceil(n_examples / cfg.batch_size)
    return max(1, cfg.epochs * math.ceil(batches_per_epoch / cfg.grad_accum))


def fit(
    cfg: Any,
    base_path: str,
    examples: list[Example],
    out_dir: Path,
    seed: int,
    system_prompt: str | None = None,
    init_from: str | None = None,
    log: Callable[[dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train and save to ``out_dir/model``; returns a summary for results.json."""
    L.seed_everything(seed, workers=True, verbose=False)  # data order, LoRA init and dropout
    tokenizer = load_tokenizer(base_path)
    features = [build_feature(tokenizer, ex, cfg.max_seq_len, system_prompt) for ex in examples]
    loader = DataLoader(
        features,
        batch_size=cfg.batch_size,
        shuffle=True,
        collate_fn=lambda batch: collate(batch, tokenizer.pad_token_id),
        generator=torch.Generator().manual_seed(seed),
    )
    steps = total_optimizer_steps(cfg, len(features))
    model = _build_model(cfg, base_path, init_from)
    model.train()  # from_pretrained returns eval mode, which would silently disable LoRA dropout
    module = SFTModule(model, cfg, steps)
    recorder = _LossRecorder(log)
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=1,
        precision=cfg.precision,
        max_steps=steps,
        max_epochs=-1,
        accumulate_grad_batches=cfg.grad_accum,
        gradient_clip_val=cfg.grad_clip,
        deterministic=cfg.deterministic,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=cfg.progress_bar,
        callbacks=[recorder],
    )
    started = time.perf_counter()
    trainer.fit(module, loader)
    seconds = time.perf_counter() - started
    module.model.save_pretrained(out_dir / "model")
    if cfg.mode == "full":
        tokenizer.save_pretrained(out_dir / "model")
    write_jsonl(out_dir / "loss_curve.jsonl", recorder.rows)
    tokens = sum(sum(1 for t in f.labels if t != -100) for f in features)
    return {
        "mode": cfg.mode,
        "optimizer_steps": steps,
        "examples": len(features),
        "truncated": sum(len(f.input_ids) >= cfg.max_seq_len for f in features),
        "final_loss": recorder.rows[-1]["loss"] if recorder.rows else None,
        "train_seconds": seconds,
        "response_tokens_per_epoch": tokens,
    }

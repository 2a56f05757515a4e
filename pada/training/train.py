"""Fit the student on a list of examples and save what evaluation needs (a LoRA adapter or a full model)."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from pada import progress
from pada.errors import PadaError
from pada.io import stable_hash, write_json, write_jsonl
from pada.models.loading import load_causal_lm, load_tokenizer
from pada.training import resume
from pada.training.batching import STRATEGIES, BatchPlan
from pada.training.callbacks import StepBar, TrainLog
from pada.training.data import IGNORE_INDEX, Feature, PlannedBatches, build_feature
from pada.training.flops import flop_model
from pada.training.module import SFTModule, apply_lora, prepare_for_speed
from pada.types import Example

log = logging.getLogger(__name__)
CHOICES = {"mode": ("lora", "full"), "batching": STRATEGIES, "init_from": ("base", "previous")}


def validate(cfg: Any) -> None:
    """Fail before loading anything on a mistyped choice (one line, names the key and the options)."""
    for key, options in CHOICES.items():
        if cfg[key] not in options:
            raise PadaError(
                f"trainer.{key}={cfg[key]!r} is not one of {', '.join(options)}; fix the override"
            )
    share = cfg.get("max_fully_truncated", 0.0)
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1:
        raise PadaError(
            f"trainer.max_fully_truncated={share!r} is not a share between 0 and 1; fix the override"
        )


def build_model(cfg: Any, base_path: str, init_from: str | None):
    """The trainable model: full weights, a fresh LoRA on the base, or a previous adapter to continue."""
    if cfg.mode == "full":
        model = load_causal_lm(init_from or base_path, cfg.dtype)
    elif init_from is not None:  # continue training a previous iteration's adapter
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_causal_lm(base_path, cfg.dtype), init_from, is_trainable=True)
    else:
        model = apply_lora(load_causal_lm(base_path, cfg.dtype), cfg)
    model.train()  # from_pretrained returns eval mode, which would silently disable LoRA dropout
    return prepare_for_speed(model, cfg)


def total_optimizer_steps(cfg: Any, batches_per_epoch: int) -> int:
    if cfg.max_steps and cfg.max_steps > 0:
        return int(cfg.max_steps)
    # Lightning steps on a partial accumulation window at the end of an epoch
    return max(1, cfg.epochs * math.ceil(batches_per_epoch / cfg.grad_accum))


def build_plan(cfg: Any, lengths: list[int], seed: int) -> BatchPlan:
    return BatchPlan(lengths, cfg.batch_size, seed, cfg.batching, cfg.megabatch, cfg.max_seq_len)


def _fingerprint(
    cfg: Any, base_path: str, examples: list[Example], seed: int, system_prompt, init_from
) -> str:
    config = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    rows = [ex.to_dict() for ex in examples]
    return stable_hash([config, base_path, rows, seed, system_prompt, init_from])


def fit(
    cfg: Any,
    base_path: str,
    examples: list[Example],
    out_dir: Path,
    seed: int,
    system_prompt: str | None = None,
    init_from: str | None = None,
    log: Callable[[dict[str, float]], None] | None = None,
    *,
    ckpt_dir: Path | None = None,
    callbacks: Sequence[L.Callback] = (),
) -> dict[str, Any]:
    """Train and save to ``out_dir/model``; returns a summary for results.json.

    ``ckpt_dir`` holds resume checkpoints (default ``out_dir/ckpt``); a matching one there is resumed from.
    """
    validate(cfg)
    out_dir = Path(out_dir)
    ckpt_dir = Path(ckpt_dir) if ckpt_dir is not None else out_dir / "ckpt"
    L.seed_everything(seed, workers=True, verbose=False)  # data order, LoRA init and dropout
    tokenizer = load_tokenizer(base_path)
    whole = [build_feature(tokenizer, ex, None, system_prompt) for ex in examples]
    features, fully_truncated = trainable_features(cfg, whole)
    plan = build_plan(cfg, [len(f.input_ids) for f in features], seed)
    loader = _data_loader(cfg, features, tokenizer.pad_token_id, plan, seed)
    steps = total_optimizer_steps(cfg, len(plan))
    model = build_model(cfg, base_path, init_from)
    module = SFTModule(model, cfg, steps, plan)
    train_log = TrainLog(log, flop_model(model), cfg.peak_flops)
    resume_from = resume.prepare(
        ckpt_dir, _fingerprint(cfg, base_path, examples, seed, system_prompt, init_from)
    )
    trainer = _lightning_trainer(cfg, steps, ckpt_dir, train_log, callbacks)
    started = time.perf_counter()
    trainer.fit(module, loader, ckpt_path=resume_from)
    seconds = time.perf_counter() - started
    _save(cfg, module.model, tokenizer, out_dir, train_log.rows)
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # only needed until the model is saved
    summary = _summary(cfg, features, train_log.rows, steps, seconds, len(plan), resume_from)
    summary["fully_truncated"] = fully_truncated
    summary["optimizer_steps"] = int(trainer.global_step)  # taken, not planned (they differ if cut short)
    write_json(out_dir / "train_summary.json", summary)
    return summary


def trainable_features(cfg: Any, whole: list[Feature]) -> tuple[list[Feature], int]:
    """``whole`` (uncut features) cut at ``trainer.max_seq_len``, without those left with no response token,
    and how many those were. A batch of only such features has a NaN mean loss (pytorch#116349) whose
    gradient turns every weight NaN, and all of them would train on nothing: when more than
    ``trainer.max_fully_truncated`` (a share) of the examples lose their whole response, or all do, raises
    PadaError with the numbers and the setting to raise, before any model loads. Below it they are dropped,
    counted (train summary ``fully_truncated``) and logged as a warning."""
    limit, share = int(cfg.max_seq_len), float(cfg.get("max_fully_truncated", 0.0))
    cut = [feature.cut(limit) for feature in whole]
    kept = [feature for feature in cut if feature.response_tokens]
    lost = len(cut) - len(kept)
    if not lost:
        return cut, 0
    prompts = [
        len(w.input_ids) - w.response_tokens for w, c in zip(whole, cut, strict=True) if not c.response_tokens
    ]
    what = (
        f"trainer.max_seq_len={limit} cuts the whole response from {lost} of {len(cut)} training examples "
        f"(their prompts alone take {min(prompts)}-{max(prompts)} tokens)"
    )
    if not kept or lost / len(cut) > share:
        left = sum(feature.response_tokens for feature in kept)
        too_many = f" ({lost / len(cut):.0%} > trainer.max_fully_truncated={share:g})" if kept else ""
        raise PadaError(
            f"{what}{too_many}: {left} response tokens would be trained. Raise trainer.max_seq_len (to "
            f"{max(len(w.input_ids) for w in whole)} keeps every example whole), or shorten the prompts"
        )
    log.warning("%s: trained without them (train_summary.json fully_truncated)", what)
    return kept, lost


def _data_loader(cfg: Any, features: list, pad_token_id: int, plan: BatchPlan, seed: int) -> DataLoader:
    """Batches in the plan's order (the plan is the sampler and yields whole batches)."""
    return DataLoader(
        PlannedBatches(features, pad_token_id, packed=cfg.batching == "packed"),
        sampler=plan,
        batch_size=None,  # the plan yields whole batches
        generator=torch.Generator().manual_seed(seed),  # keeps the loader off the global RNG (dropout's)
    )


def _lightning_trainer(
    cfg: Any, steps: int, ckpt_dir: Path, train_log: TrainLog, callbacks: Sequence[L.Callback]
) -> L.Trainer:
    """One device, ``steps`` optimizer steps, no logger; callbacks in this order: the loss log, the resume
    checkpoints (periodic, on SLURM's signal), the caller's, the step bar."""
    return L.Trainer(
        accelerator=cfg.accelerator,
        devices=1,
        precision=cfg.precision,
        max_steps=steps,
        max_epochs=-1,
        accumulate_grad_batches=cfg.grad_accum,
        gradient_clip_val=cfg.grad_clip,
        deterministic=cfg.deterministic,
        logger=False,
        default_root_dir=ckpt_dir,
        enable_checkpointing=bool(cfg.ckpt_every_n_steps),
        enable_model_summary=False,
        enable_progress_bar=cfg.progress_bar,
        use_distributed_sampler=False,  # the plan is the sampler
        callbacks=[
            train_log,
            *resume.periodic_checkpoint(ckpt_dir, cfg.ckpt_every_n_steps),
            *resume.signal_checkpoint(cfg, ckpt_dir),
            *callbacks,
            *([StepBar()] if progress.enabled() and not cfg.progress_bar else []),
        ],
        plugins=resume.slurm_plugins(cfg),
    )


def _save(cfg: Any, model, tokenizer, out_dir: Path, loss_rows: list[dict]) -> None:
    """What evaluation needs (``out_dir/model``: the adapter, or the full model and its tokenizer) and the
    loss curve."""
    model.save_pretrained(out_dir / "model")
    if cfg.mode == "full":
        tokenizer.save_pretrained(out_dir / "model")
    write_jsonl(out_dir / "loss_curve.jsonl", loss_rows)


def _summary(cfg, features, rows, steps, seconds, batches, resumed_from) -> dict[str, Any]:
    timed = [r for r in rows if r["tokens_per_s"]]
    mfus = [r["mfu"] for r in rows if r["mfu"] is not None]
    return {
        "mode": cfg.mode,
        "optimizer_steps": steps,
        "planned_steps": steps,
        "examples": len(features),
        "batches_per_epoch": batches,
        "truncated": sum(len(f.input_ids) >= cfg.max_seq_len for f in features),
        "final_loss": rows[-1]["loss"] if rows else None,
        "train_seconds": seconds,
        "tokens_per_s": sum(r["tokens"] for r in timed) / sum(r["tokens"] / r["tokens_per_s"] for r in timed)
        if timed
        else None,
        "mfu": sum(mfus) / len(mfus) if mfus else None,
        "response_tokens_per_epoch": sum(sum(t != IGNORE_INDEX for t in f.labels) for f in features),
        "resumed": resumed_from is not None,
    }

"""Lightning module: a causal LM (optionally wrapped by PEFT LoRA) trained with AdamW + cosine warmup."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from transformers import get_cosine_schedule_with_warmup

from pada.training.batching import BatchPlan
from pada.training.data import IGNORE_INDEX
from pada.training.lora import apply_lora  # noqa: F401 - the trainer's import path


def prepare_for_speed(model, cfg: Any):
    """Gradient checkpointing and torch.compile, both off by default (CPU) and on in the *_gpu trainers."""
    if cfg.get("gradient_checkpointing"):
        # non-reentrant: works with a frozen embedding (LoRA) without enable_input_require_grads
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg.get("compile"):
        model.compile()  # in place: state_dict keys and save_pretrained stay unchanged
    return model


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch as the model takes it. use_cache=False matters for packing: with a KV cache present,
    transformers skips the packed-sequence check and packed examples would attend to each other."""
    return {**{k: v for k, v in batch.items() if k != "seq_lens"}, "use_cache": False}


def predicting_positions(labels: torch.Tensor) -> torch.Tensor:
    """The sequence positions whose logits the loss reads: ``p`` where any row's ``labels[:, p + 1]`` is a
    response token (causal LM shift). ``labels``: (batch, seq) with IGNORE_INDEX outside responses; returns
    a sorted 1-D LongTensor, the union over rows (transformers' ``logits_to_keep`` takes one index set)."""
    return (labels[:, 1:] != IGNORE_INDEX).any(0).nonzero().squeeze(-1)


def response_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Token-mean cross entropy over the response tokens: the value of ``model(**batch).loss`` (transformers'
    ForCausalLMLoss: shift by one, mean over labels != IGNORE_INDEX), with the LM head applied only at
    ``predicting_positions`` (``logits_to_keep``, transformers >= 4.50). Why: instruction data has a few
    response tokens per long prompt (ARC: ~7 of ~300), and the head over every position is ~20% of a
    forward pass for SmolLM2-135M (49k vocabulary) and Llama 3.2 1B (128k), plus (batch, seq, vocab) float
    logits in memory. Shapes: input_ids/labels (batch, seq); returns a scalar. Raises ValueError on a batch
    with no response token (the trainer drops or refuses such examples first, pada.training.data)."""
    labels = batch["labels"]
    keep = predicting_positions(labels)
    if keep.numel() == 0:
        raise ValueError("a training batch with no response token: nothing to learn from")
    inputs = {k: v for k, v in model_inputs(batch).items() if k != "labels"}
    logits = model(**inputs, logits_to_keep=keep).logits  # (batch, len(keep), vocab)
    targets = labels[:, keep + 1]
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)


class SFTModule(L.LightningModule):
    def __init__(self, model, cfg: Any, total_steps: int, plan: BatchPlan | None = None):
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.total_steps = total_steps
        self.plan = plan
        self.strict_loading = False  # resume checkpoints hold only the trained weights

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        loss = response_loss(self.model, batch)
        if self.trainer.progress_bar_callback is not None:  # only the bar reads self.log; it costs per batch
            self.log("train/loss", loss, prog_bar=True, batch_size=int((batch["labels"] != -100).sum()))
        # Lightning divides "loss" by accumulate_grad_batches before callbacks see it; the log wants the real one
        return {"loss": loss, "batch_loss": loss.detach()}

    def configure_optimizers(self):
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            trainable, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay, betas=tuple(self.cfg.betas)
        )
        warmup = int(self.cfg.warmup_ratio * self.total_steps)
        scheduler = get_cosine_schedule_with_warmup(optimizer, warmup, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # -- mid-training resume: small checkpoints, same data order and same dropout masks -------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        trained = {f"model.{n}" for n, p in self.model.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trained}
        progress = self.trainer.fit_loop.epoch_loop.batch_progress.current
        checkpoint["pada"] = {
            "epoch": self.trainer.current_epoch,
            "batches_done": progress.processed,  # batches of this epoch already trained
            "cpu_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint["pada"]
        if self.plan is not None:
            self.plan.skip = (state["epoch"], state["batches_done"])
        torch.set_rng_state(state["cpu_rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state_all(state["cuda_rng"])

"""Lightning module: a causal LM (optionally wrapped by PEFT LoRA) trained with AdamW + cosine warmup."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from transformers import get_cosine_schedule_with_warmup

from pada.training.batching import BatchPlan
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


class SFTModule(L.LightningModule):
    def __init__(self, model, cfg: Any, total_steps: int, plan: BatchPlan | None = None):
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.total_steps = total_steps
        self.plan = plan
        self.strict_loading = False  # resume checkpoints hold only the trained weights

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        loss = self.model(**model_inputs(batch)).loss
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

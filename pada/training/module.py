"""Lightning module: a causal LM (optionally wrapped by PEFT LoRA) trained with AdamW + cosine warmup."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from transformers import get_cosine_schedule_with_warmup


def apply_lora(model, cfg: Any):
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        use_rslora=cfg.lora.use_rslora,
        modules_to_save=list(cfg.lora.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


class SFTModule(L.LightningModule):
    def __init__(self, model, cfg: Any, total_steps: int):
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.total_steps = total_steps

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.model(**batch).loss
        tokens = int((batch["labels"] != -100).sum())
        self.log("train/loss", loss, prog_bar=True, batch_size=tokens)
        self.log("train/lr", self.lr_schedulers().get_last_lr()[0], prog_bar=False)
        return loss

    def configure_optimizers(self):
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            trainable, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay, betas=tuple(self.cfg.betas)
        )
        warmup = int(self.cfg.warmup_ratio * self.total_steps)
        scheduler = get_cosine_schedule_with_warmup(optimizer, warmup, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

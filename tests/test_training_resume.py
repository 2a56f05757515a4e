"""Mid-epoch resume: kill after step k, fit again with the same checkpoint dir, get the same final weights."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import lightning as L
import pytest
import torch
from safetensors.torch import load_file
from test_training_support import arithmetic, tiny_model_dir, trainer_cfg

from pada.io import read_jsonl
from pada.training import resume
from pada.training.train import fit


class Killed(Exception):
    pass


class KillAfter(L.Callback):
    """Simulates a preemption at the end of optimizer step ``step`` (checkpoint callbacks run after this)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step and trainer.fit_loop.epoch_loop._should_accumulate() is False:
            raise Killed(f"killed after step {self.step}")


def _cfg(mode: str):
    # 24 examples / batch 4 = 6 batches per epoch: step 5 (batch 10) is mid-way through the second epoch
    lr = 1e-2 if mode == "lora" else 1e-3
    return trainer_cfg(mode, lr=lr, max_steps=8, ckpt_every_n_steps=2, batching="length_grouped", megabatch=2)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    name = (
        "adapter_model.safetensors"
        if (out / "model" / "adapter_model.safetensors").is_file()
        else "model.safetensors"
    )
    return load_file(out / "model" / name)


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_resume_mid_epoch_gives_identical_weights(tmp_path, mode):
    cfg = _cfg(mode)
    fit(cfg, tiny_model_dir(), arithmetic(), tmp_path / "straight", seed=0, ckpt_dir=tmp_path / "ckpt_a")
    ckpt = tmp_path / "ckpt_b"
    with pytest.raises(Killed):
        fit(
            cfg,
            tiny_model_dir(),
            arithmetic(),
            tmp_path / "killed",
            seed=0,
            ckpt_dir=ckpt,
            callbacks=[KillAfter(5)],
        )
    saved = torch.load(ckpt / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 4 and saved["pada"]["epoch"] == 1 and saved["pada"]["batches_done"] == 2
    if mode == "lora":  # resume checkpoints carry the trained weights only, never the frozen base
        assert saved["state_dict"] and all("lora_" in k for k in saved["state_dict"])
    summary = fit(cfg, tiny_model_dir(), arithmetic(), tmp_path / "resumed", seed=0, ckpt_dir=ckpt)
    assert summary["resumed"] and not ckpt.exists()  # removed once the model is saved
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    curve = [r["loss"] for r in read_jsonl(tmp_path / "resumed" / "loss_curve.jsonl")]
    assert curve == [r["loss"] for r in read_jsonl(tmp_path / "straight" / "loss_curve.jsonl")]


def test_stale_checkpoint_is_discarded(tmp_path):
    ckpt = tmp_path / "ckpt"
    assert resume.prepare(ckpt, "a") is None
    (ckpt / "last.ckpt").write_bytes(b"x")
    assert resume.prepare(ckpt, "a") == str(ckpt / "last.ckpt")
    assert resume.prepare(ckpt, "b") is None and not (ckpt / "last.ckpt").exists()


class SignalAfter(L.Callback):
    """Sends SLURM's pre-timeout signal to ourselves after step k, then dies at the next step like a killed job."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step and not trainer.fit_loop.epoch_loop._should_accumulate():
            os.kill(os.getpid(), __import__("signal").SIGUSR1)
        if trainer.global_step == self.step + 1:
            raise Killed("job ended")


def test_slurm_requeue_checkpoints_requeues_and_resumes(tmp_path, monkeypatch):
    """Lightning's SLURMEnvironment handler: hpc_ckpt in the ckpt dir, `scontrol requeue <job>`, then resume."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    for key, value in {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "pada", "SLURM_JOB_ID": "4242",
                       "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    cfg = trainer_cfg(
        "lora", lr=1e-2, max_steps=8, ckpt_every_n_steps=None, batching="length_grouped", megabatch=2
    )
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Killed):
        fit(
            cfg,
            tiny_model_dir(),
            arithmetic(),
            tmp_path / "killed",
            seed=0,
            ckpt_dir=ckpt,
            callbacks=[SignalAfter(3)],
        )
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    assert [p.name for p in ckpt.glob("*.ckpt")] == ["hpc_ckpt_1.ckpt"]
    fit(cfg, tiny_model_dir(), arithmetic(), tmp_path / "resumed", seed=0, ckpt_dir=ckpt)
    fit(cfg, tiny_model_dir(), arithmetic(), tmp_path / "straight", seed=0, ckpt_dir=tmp_path / "ckpt_s")
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)

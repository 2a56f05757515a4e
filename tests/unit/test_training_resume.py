"""Mid-epoch resume: kill after step k, fit again with the same checkpoint dir, get the same final weights."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import lightning as L
import pytest
import torch
from safetensors.torch import load_file
from training_support import arithmetic, tiny_model_dir, trainer_cfg

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
    """Sends ``signum`` to ourselves after optimizer step k, as SLURM does before a timeout or on requeue."""

    def __init__(self, step: int, signum: int):
        self.step, self.signum = step, signum

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step and not trainer.fit_loop.epoch_loop._should_accumulate():
            os.kill(os.getpid(), self.signum)


def _fake_slurm_job(tmp_path, monkeypatch) -> Path:
    """SLURM's job variables and a recording `scontrol` on PATH; returns the file scontrol writes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    for key, value in {
        "SLURM_NTASKS": "1",
        "SLURM_JOB_NAME": "pada",
        "SLURM_JOB_ID": "4242",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
    }.items():
        monkeypatch.setenv(key, value)
    return tmp_path / "scontrol.log"


def _signal_cfg():
    return trainer_cfg(
        "lora", lr=1e-2, max_steps=8, ckpt_every_n_steps=None, batching="length_grouped", megabatch=2
    )


@pytest.mark.parametrize("signum", [resume.preemption_signal(), __import__("signal").SIGTERM])
def test_slurm_signal_checkpoints_then_hands_on_to_submitit(tmp_path, monkeypatch, signum):
    """One signal story: submitit's USR2 (timeout warning) or SLURM's SIGTERM (requeue) mid-training saves
    a checkpoint at the step boundary, then submitit's handler runs (it requeues and exits); the resumed
    run is bit-identical. Lightning's own SIGUSR1 requeue handler is not installed."""
    import signal

    scontrol_log = _fake_slurm_job(tmp_path, monkeypatch)
    calls, ckpt = [], tmp_path / "ckpt"

    def submitit_handler(sig, frame):  # stands in for submitit's checkpoint_and_try_requeue / bypass
        calls.append((sig, sorted(p.name for p in ckpt.glob("*.ckpt"))))
        raise Killed("requeued")

    class NoLightningUsr1(L.Callback):
        def on_train_start(self, trainer, pl_module):
            assert signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None)

    for sig in (resume.preemption_signal(), signal.SIGTERM):
        signal.signal(sig, submitit_handler)
    try:
        with pytest.raises(Killed):
            fit(
                _signal_cfg(),
                tiny_model_dir(),
                arithmetic(),
                tmp_path / "killed",
                seed=0,
                ckpt_dir=ckpt,
                callbacks=[SignalAfter(3, signum), NoLightningUsr1()],
            )
    finally:
        for sig in (resume.preemption_signal(), signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
    assert calls == [(signum, ["signal.ckpt"])]  # the checkpoint was on disk before the requeue
    assert not scontrol_log.exists()  # submitit requeues, not Lightning
    fit(_signal_cfg(), tiny_model_dir(), arithmetic(), tmp_path / "resumed", seed=0, ckpt_dir=ckpt)
    fit(_signal_cfg(), tiny_model_dir(), arithmetic(), tmp_path / "straight", seed=0, ckpt_dir=tmp_path / "s")
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_plain_sbatch_job_requeues_itself_on_the_signal(tmp_path, monkeypatch):
    """No submitit handler (a job submitted with plain sbatch): checkpoint, `scontrol requeue <job>`, exit."""
    scontrol_log = _fake_slurm_job(tmp_path, monkeypatch)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(SystemExit):
        fit(
            _signal_cfg(),
            tiny_model_dir(),
            arithmetic(),
            tmp_path / "killed",
            seed=0,
            ckpt_dir=ckpt,
            callbacks=[SignalAfter(3, resume.preemption_signal())],
        )
    assert scontrol_log.read_text().split() == ["requeue", "4242"]
    assert [p.name for p in ckpt.glob("*.ckpt")] == ["signal.ckpt"]

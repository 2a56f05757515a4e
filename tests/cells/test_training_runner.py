"""The runner's train stage: resume checkpoints beside the partial dir, a killed stage resumes, then cleans up."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import pytest
from hydra import compose, initialize_config_dir
from training_support import CONF

import pada.training.train as train
from pada.io import read_json
from pada.run.runner import Cell
from pada.run.stages import StopRequested


class Killed(Exception):
    pass


class KillAt(L.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 3:
            raise Killed


@pytest.mark.data
def test_killed_train_stage_resumes_from_sibling_checkpoint(tmp_path, monkeypatch):
    data_dir = os.environ.get("PADA_DATA_DIR")
    if not data_dir or not (Path(data_dir) / "gsm8k" / "train.jsonl").is_file():
        pytest.skip("set PADA_DATA_DIR to the benchmark files")
    overrides = [
        "experiment=smoke_gsm8k",
        f"paths.data_dir={data_dir}",
        f"paths.runs_dir={tmp_path / 'runs'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "budget=16",
        "trainer.max_steps=4",
        "trainer.batch_size=2",
        "trainer.ckpt_every_n_steps=2",
        "run.stop_after=train_0",
        "wandb.mode=disabled",
    ]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("config", overrides=overrides)
    seen: list[dict] = []
    original = train.fit

    def fit_killed_once(*args, **kwargs):
        seen.append(kwargs)
        extra = [KillAt()] if len(seen) == 1 else []
        return original(*args, **{**kwargs, "callbacks": [*kwargs.get("callbacks", ()), *extra]})

    monkeypatch.setattr(train, "fit", fit_killed_once)
    cell = Cell(cfg)
    with pytest.raises(Killed):
        cell.run()
    ckpt = cell.run_dir / ".train_0.ckpt"
    assert seen[0]["ckpt_dir"] == ckpt and (ckpt / "last.ckpt").is_file()
    with pytest.raises(StopRequested):
        Cell(cfg).run()  # the stage restarts: its .partial dir is wiped, the sibling checkpoint is not
    info = read_json(cell.run_dir / "train_0" / ".done.json")["info"]
    assert info["resumed"] and info["optimizer_steps"] == 4
    assert not ckpt.exists()

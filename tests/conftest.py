"""Shared fixtures: offline env, Hydra compose, a tiny GSM8K-format dataset the tests write themselves."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import random
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"

for key, value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "TOKENIZERS_PARALLELISM": "false",
    # run.shared_stages off: tests share one session cache, and a test that watches a training or an
    # evaluation happen (a failing fit, call counts, checkpoint paths) would find another test's unit;
    # tests/cells/test_shared_stages.py turns it on where it is under test.
    "PADA_SHARED_STAGES": "",
}.items():
    os.environ.setdefault(key, value)


# The runner's release_memory() runs a full gc.collect() around every stage; each walked every object of
# the libraries imported so far (~600k: torch, transformers, Lightning), a third of a simulated cell's CPU
# time. Once the session's imports are made, they are frozen (collected first, then moved to the permanent
# generation, which collections skip: gc.freeze): a test's own objects are collected as before.
_MODULES_AT_FREEZE = [0]
_NEW_MODULES_BEFORE_REFREEZE = 100  # a library's worth of imports (Lightning adds ~800 modules)


def _freeze_what_is_imported() -> None:
    if os.environ.get("PADA_TEST_NO_FREEZE"):
        return
    if len(sys.modules) - _MODULES_AT_FREEZE[0] >= _NEW_MODULES_BEFORE_REFREEZE:
        gc.collect()
        gc.freeze()
        _MODULES_AT_FREEZE[0] = len(sys.modules)


def pytest_collection_finish(session) -> None:
    _freeze_what_is_imported()


def pytest_runtest_logfinish(nodeid, location) -> None:
    _freeze_what_is_imported()


def compose_config(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=overrides)


def write_tiny_gsm8k(folder: Path, n_train: int = 60, n_test: int = 12) -> Path:
    """Addition word problems in GSM8K's file format (question / answer with '#### N')."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.jsonl", n_train), ("test.jsonl", n_test)):
        rows = []
        for _ in range(n):
            a, b = rng.randint(1, 20), rng.randint(1, 20)
            rows.append(
                {
                    "question": f"Tom has {a} apples and buys {b} more. How many apples?",
                    "answer": f"Tom has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} apples.\n#### {a + b}",
                }
            )
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder.parent


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    return write_tiny_gsm8k(tmp_path_factory.mktemp("data") / "gsm8k")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")  # the tiny model is built once per session


@pytest.fixture
def own_cache(tmp_path, model_cache) -> Path:
    """A ``paths.cache_dir`` of this test's own (teacher cache, stage outputs) whose ``models/`` is the
    session's: each tiny or simulated model is built once per session, not once per test that uses it."""
    (model_cache / "models").mkdir(exist_ok=True)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(model_cache / "models", target_is_directory=True)
    return cache


@pytest.fixture
def tiny_cell_overrides(tmp_path, tiny_data_dir, model_cache) -> list[str]:
    """A complete cell that trains and evaluates in a few seconds on 2 cores."""
    return [
        f"paths.runs_dir={tmp_path / 'runs'}",
        f"paths.data_dir={tiny_data_dir}",
        f"paths.cache_dir={model_cache}",
        "budget=16",
        "task.val_size=10",
        "task.limits.test=8",
        "trainer.max_steps=6",
        "trainer.batch_size=4",
        "trainer.grad_accum=1",
        "eval.max_new_tokens=6",
        "wandb.mode=disabled",
    ]


def load_script(relative: str):
    """A script of the repo (``experiments/demo_real.py``), imported as a module without running its main."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def real_data_dir() -> Path | None:
    path = os.environ.get("PADA_DATA_DIR")
    return Path(path) if path and Path(path).is_dir() else None

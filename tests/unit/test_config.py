"""Every shipped config composes, and experiment bundles override the defaults they name."""

from __future__ import annotations

import pytest
from conftest import CONF_DIR, compose_config
from omegaconf import OmegaConf

GROUPS = ["task", "method", "model", "trainer", "eval", "teacher", "launcher", "paths", "experiment"]
CHOICES = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]


@pytest.mark.parametrize(("group", "choice"), CHOICES, ids=[f"{g}={c}" for g, c in CHOICES])
def test_every_config_composes(group, choice):
    cfg = compose_config([f"{group}={choice}"])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert {"task", "method", "model", "trainer", "eval", "budget", "seed"} <= set(resolved)


def test_experiment_overrides_top_level_values():
    cfg = compose_config(["experiment=smoke_gsm8k"])
    assert cfg.budget == 64 and cfg.trainer.max_steps == 20 and cfg.task.limits.test == 64


def test_cell_name_is_a_hash_of_the_config_not_time():
    from pada.run.naming import cell_name

    a, b = compose_config(["seed=1"]), compose_config(["seed=1"])
    assert cell_name(a) == cell_name(b)
    assert cell_name(a) != cell_name(compose_config(["seed=2"]))
    assert cell_name(a).startswith("gsm8k-b100-sft-s1-")
    # where a cell runs does not change what it is
    assert cell_name(a) == cell_name(
        compose_config(["seed=1", "paths.runs_dir=/elsewhere", "wandb.mode=disabled"])
    )

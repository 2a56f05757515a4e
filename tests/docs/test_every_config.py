"""Every shipped config, composed (torchtune's every-config test): config.yaml with each option of each
group and each experiment, through Hydra's compose API. Each must compose and resolve, every ``_target_``
in it must name something importable (method, task, teacher and eval YAMLs must have one), and no key may
be one that no code reads.

The unread-key rule and its limits are pada/config_keys.py's docstring: every key (each segment of its
dotted path, outside Hydra's own ``hydra`` node) must be a name the code reads somewhere in pada/,
baselines/, analysis/ or hydra_plugins/ — an attribute access, a string constant that is a name or dotted
path (``.get("k")``, ``["k"]``, ``OmegaConf.select(cfg, "a.b")``), a keyword or parameter name, a class
field annotation — or in a ``${...}`` interpolation under conf/. It over-approximates "read" (a typo that
spells another name the code uses passes), so it never fails on a key that is read; mappings keyed by data
(method names, environment variables) are listed in ``DATA_KEYED`` with the reason.
"""

from __future__ import annotations

import pytest
from conftest import CONF_DIR
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import get_object
from omegaconf import OmegaConf

from pada.cli import main
from pada.config_keys import _targets, read_names, target_names, unread_keys
from pada.errors import PadaError
from pada.run.loop import loop_config

GROUPS = ["method", "task", "teacher", "eval", "trainer", "model", "launcher", "paths", "experiment"]
CHOICES = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]
COMPONENTS = ("method", "task", "teacher", "eval")  # named by their YAML's _target_ (pada/api.py)


def _compose(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR), job_name="every_config"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def _unread(cfg) -> list[str]:
    config = OmegaConf.to_container(cfg, resolve=False)
    return unread_keys(config, read_names() | target_names(config))


@pytest.mark.parametrize(("group", "choice"), CHOICES, ids=[f"{g}={c}" for g, c in CHOICES])
def test_every_config_composes_resolves_and_every_key_is_read(group, choice):
    cfg = _compose([f"{group}={choice}"])
    # Hydra's own node resolves at run time (${hydra:...}, run dirs); everything else resolves now
    resolved = {
        str(k): OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in cfg.items()
        if k != "hydra"
    }
    assert {"task", "method", "model", "trainer", "eval", "budget", "seed"} <= set(resolved)
    for target in _targets(OmegaConf.to_container(cfg, resolve=False)):
        assert get_object(target) is not None, target
    for component in COMPONENTS:
        if component == "teacher" and cfg.teacher.get("provider") == "none":
            continue  # teacher=none: no teacher is built, so there is no class to name
        assert "_target_" in cfg[component], f"{group}={choice}: {component} has no _target_"
    assert _unread(cfg) == [], f"{group}={choice}: keys no code reads"


def test_a_misspelt_key_in_a_method_yaml_is_named(tmp_path):
    (tmp_path / "method").mkdir()
    (tmp_path / "method" / "typo.yaml").write_text(
        "defaults:\n  - sft\n  - _self_\nname: typo\niteratons: 3\n"
    )
    (tmp_path / "method" / "typo_loop.yaml").write_text(
        "defaults:\n  - sft\n  - _self_\nname: typo_loop\nloop:\n  iteratons: 3\n"
    )
    search = f"hydra.searchpath=[file://{tmp_path}]"
    assert _unread(_compose(["method=typo", search])) == ["method.iteratons"]
    looped = _compose(["method=typo_loop", search])
    assert _unread(looped) == ["method.loop.iteratons"]
    with pytest.raises(
        PadaError, match=r"'method\.loop\.iteratons'; did you mean 'method\.loop\.iterations'"
    ):
        loop_config(looped.method)


def test_a_key_read_only_by_a_users_own_target_module_is_read(tmp_path, monkeypatch):
    (tmp_path / "my_method.py").write_text("def read(cfg):\n    return cfg.my_setting\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {"method": {"_target_": "my_method.Mine", "my_setting": 1, "my_typo": 2}}
    assert unread_keys(config, read_names() | target_names(config)) == ["method.my_typo"]


def test_pada_run_refuses_a_key_no_code_reads_in_one_line(tiny_cell_overrides, capsys):
    with pytest.raises(SystemExit) as stopped:  # raised inside the Hydra app, before any stage
        main(["run", *tiny_cell_overrides, "method=sft", "+method.iteratons=2"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "pada: error: config key 'method.iteratons' is read by no code (a typo?); "
        "did you mean 'method.loop.iterations'?"
    ]


RUNNABLE = sorted((CONF_DIR / "method").glob("*.yaml")) + sorted((CONF_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("path", RUNNABLE, ids=[f"{p.parent.name}/{p.name}" for p in RUNNABLE])
def test_every_method_and_experiment_yaml_starts_with_the_command_that_runs_it(path):
    """torchtune-style: the YAML's leading comment says how to launch it, and that command composes."""
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    runs = [line for line in header if line.startswith("# Run: pada run ")]
    assert runs, f"{path}: no '# Run: pada run ...' line in the leading comment"
    words = runs[0].removeprefix("# Run: pada run ").split("#")[0].split()
    overrides = [w for w in words if w not in ("-m", "--multirun")]
    assert f"{path.parent.name}={path.stem}" in overrides, f"{path}: the command does not select it"
    cfg = _compose(overrides)  # an unknown option or key in the command fails here
    if path.parent.name == "method":
        assert cfg.method.name == path.stem

"""The sweep's cells: one override list per cell (``expand_sweep``: Hydra's sweep syntax, as ``pada run -m``)
and each cell's composed config (``compose_cells``: composed once per distinct setting, seeds copied in).
"""

from __future__ import annotations

import itertools
import re

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig

from pada.config_keys import absent_override_message
from pada.errors import PadaError


def compose_cell(overrides: list[str], hydra: bool = False) -> DictConfig:
    """The composed config of one cell; composed once per distinct override list (``compose_cells``)."""
    from pada.run.app import CONF_DIR

    key = (tuple(overrides), hydra)
    if key not in _COMPOSED:
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            _COMPOSED[key] = _composed(overrides, hydra)
    return _COMPOSED[key]


# One process, one sweep: every cell's config is composed once, shared by the checks, the plan and the
# per-stage call estimates (a 1,000-cell sweep composed each cell twice, at ~0.5 s a composition).
_COMPOSED: dict[tuple[tuple[str, ...], bool], DictConfig] = {}


def _composed(overrides: list[str], hydra: bool) -> DictConfig:
    """``compose`` inside an initialised Hydra; a misspelt key or an unknown option is one PadaError line."""
    try:
        return compose("config", overrides=overrides, return_hydra_config=hydra)
    except HydraException as error:
        first = str(error).splitlines()[0]
        absent = re.match(r"Could not override '([^']+)'", first)
        if absent:  # a misspelt key: the same line as `pada run` gives
            raise PadaError(absent_override_message(overrides, absent[1], compose_cell)) from error
        raise PadaError(f"config does not compose: {first}") from error


_SEED = re.compile(r"seed=(\d+)")


def compose_cells(cells: list[list[str]]) -> list[DictConfig]:
    """Every cell's config, Hydra initialised once for all of them, and composed once per distinct setting:
    cells that differ only in ``seed=<n>`` share one composition, copied with their seed (a plain value:
    ``${seed}`` references resolve from it, as after Hydra's own override)."""
    from pada.run.app import CONF_DIR

    def setting(cell: list[str]) -> tuple[str, ...]:
        return tuple(o for o in cell if not _SEED.fullmatch(o))

    missing = list(dict.fromkeys(setting(c) for c in cells if (setting(c), False) not in _COMPOSED))
    if missing:
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            for key in missing:
                _COMPOSED[(key, False)] = _composed(list(key), False)
    composed = []
    for cell in cells:
        cfg = _COMPOSED[(setting(cell), False)]
        seeds = [int(m[1]) for o in cell if (m := _SEED.fullmatch(o))]
        if seeds:
            cfg = cfg.copy()
            cfg.seed = seeds[-1]
        composed.append(cfg)
    return composed


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """One override list per cell: the config's hydra.sweeper.params crossed with the CLI's sweeps, every
    form of Hydra's sweep syntax read by Hydra's parser (pada.run.sweep), as ``pada run -m`` reads them."""
    from pada.run import sweep
    from pada.run.conf import CONF_DIR

    given = sweep.axes(overrides, CONF_DIR)
    fixed = [values[0] for values in given if len(values) == 1]
    sweeper = compose_cell(fixed, hydra=True).hydra.sweeper.get("params") or {}
    keys = {o.partition("=")[0].lstrip("+~") for o in overrides}
    params = [f"{k}={v}" for k, v in sweeper.items() if k not in keys]
    cells = [list(cell) for cell in itertools.product(*given, *sweep.axes(params, CONF_DIR))]
    sweep.check_group_choices(cells, CONF_DIR)
    return cells

"""Hydra's sweep syntax read as Hydra's basic sweeper reads it, for the checks ``pada run -m`` and
``pada preflight`` make before anything starts.

Every form of Hydra's override grammar works in both: comma lists (``seed=0,1``), ``choice(...)``,
``range(start, stop[, step])``, ``glob(pattern, exclude=...)`` over a group's options, ``sort(...)`` and
``shuffle(...)`` of any of them (hydra.cc/docs/advanced/override_grammar/extended). Values come from Hydra's
``OverridesParser``, never from splitting at commas (hydra#2919, #393). ``interval(...)`` is a continuous
range that only a sampling sweeper (Optuna, Ax, Nevergrad) can use; Hydra's basic sweeper, which ``-m``
runs here, refuses it, so it is one line up front.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from pada import task_files
from pada.errors import PadaError

SWEEP_FLAGS = ("-m", "--multirun")
# Config groups whose choice names a file: checked up front so a typo gets one line, not a Hydra trace.
CHECKED_GROUPS = ("task", "method", "model", "trainer", "eval", "teacher", "launcher", "experiment", "paths")


def _parser(conf_dir: Path) -> Any:
    """Hydra's override parser, with a config loader over ``conf_dir`` so ``glob()`` sees group options."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.override_parser.overrides_parser import OverridesParser

    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(conf_dir)))
    return OverridesParser.create(config_loader=loader)


def _parse(parser: Any, override: str) -> Any:
    from hydra.errors import HydraException

    try:
        return parser.parse_overrides([override])[0]  # (parse_override leaves out the config loader)
    except HydraException as error:
        raise PadaError(f"cannot parse the override {override!r} ({str(error).splitlines()[0]})") from error


def _values(override: Any) -> list[str]:
    """The jobs' overrides for one parsed override: ``key=v`` per value of a sweep, else the override."""
    if not override.is_sweep_override():
        return [override.input_line]
    if not override.is_discrete_sweep():
        raise PadaError(
            f"{override.input_line}: Hydra's basic sweeper runs discrete sweeps only (comma lists, choice, "
            "range, glob); an interval needs a sampling sweeper (Optuna, Ax). List the values instead"
        )
    key = override.get_key_element()
    values = [f"{key}={value}" for value in override.sweep_string_iterator()]
    if not values:
        raise PadaError(f"{override.input_line} matches no {override.key_or_group}")
    return values


def axes(overrides: list[str], conf_dir: Path, multirun: bool = True) -> list[list[str]]:
    """Per override (flags excluded), the overrides its jobs take: ``["seed=0", "seed=1"]`` for
    ``seed=range(0,2)``, the override alone when it is no sweep. Without ``multirun`` a sweep is an error.

    Raises PadaError: an override Hydra cannot parse, a sweep without -m, an interval, an empty glob."""
    parser = _parser(conf_dir)
    parsed = [_parse(parser, override) for override in overrides]
    if not multirun:
        sweep = next((p for p in parsed if p.is_sweep_override()), None)
        if sweep is not None:
            raise PadaError(f"{sweep.input_line} is a sweep: add -m (--multirun) to run every job of it")
    return [_values(p) for p in parsed]


def jobs(overrides: list[str], conf_dir: Path, multirun: bool = True) -> list[list[str]]:
    """One override list per job, as Hydra's basic sweeper crosses ``overrides`` (later keys vary
    fastest); raises PadaError as ``axes``."""
    return [list(job) for job in itertools.product(*axes(overrides, conf_dir, multirun))]


def _group_dirs(overrides: list[str], conf_dir: Path) -> list[Any]:
    """``conf_dir`` and the folders ``hydra.searchpath=[...]`` adds (``file://`` or ``pkg://`` entries): a
    user's own config folder holds group options (docs/extending.md), checked like shipped ones."""
    import importlib.resources

    from hydra.core.override_parser.overrides_parser import OverridesParser

    dirs: list[Any] = [conf_dir]
    for override in overrides:
        if override.lstrip("+~").partition("=")[0] != "hydra.searchpath":
            continue
        entries = OverridesParser.create().parse_override(override.lstrip("+~")).value()
        for entry in entries if isinstance(entries, list) else [entries]:
            scheme, _, where = str(entry).rpartition("://")
            if scheme == "pkg":
                package, _, below = where.partition("/")
                dirs.append(importlib.resources.files(package).joinpath(below))
            else:
                dirs.append(Path(where).expanduser())
    return dirs


def check_group_choices(cells: list[list[str]], conf_dir: Path) -> None:
    """Every group choice of every job names an option (a file in the group's folder, or a registered
    task YAML); else one PadaError line listing the options."""
    overrides = list(dict.fromkeys(o for cell in cells for o in cell))
    folders = _group_dirs(overrides, conf_dir)
    for override in overrides:
        key, sep, choice = override.lstrip("+~").partition("=")
        if not sep or key not in CHECKED_GROUPS or not choice or choice == "null":
            continue
        options = [p for f in folders if f.joinpath(key).is_dir() for p in f.joinpath(key).iterdir()]
        stems = {Path(p.name).stem for p in options if p.name.endswith((".yaml", ".yml"))}
        known = sorted(stems | set(task_files.registered(key)))
        if choice not in known:
            hint = " (or a path to a task YAML, task=path/to/my_task.yaml)" if key == task_files.GROUP else ""
            raise PadaError(f"unknown {key} '{choice}'; choose one of: {', '.join(known)}{hint}")

"""A task YAML outside ``conf/task``: ``task=/path/to/my_task.yaml`` for ``pada run`` (one cell or a ``-m``
sweep), ``pada preflight`` and ``pada data check``.

Hydra picks a config group option by name from its search path, and a path is not a name. pada loads the
file and stores it in Hydra's ConfigStore as the option ``task/<file stem>`` (Hydra's own mechanism for configs
that are not files under the config dir), then rewrites the override to ``task=<file stem>``. The ConfigStore is
a Hydra singleton, which the joblib and submitit launchers restore in every worker, so sweeps see the same
option. The cell's identity follows the file's content (the resolved ``task`` node), never its path.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pada.errors import PadaError

SUFFIXES = (".yaml", ".yml")
GROUP = "task"


def is_path(value: str) -> bool:
    """A ``task=`` value names a file (not a shipped task) when it has a folder part or a YAML suffix."""
    return "/" in value or value.endswith(SUFFIXES) or value.startswith("~")


def task_file(value: str, conf_dir: Path) -> Path:
    """The absolute path of the task YAML ``value`` names.

    Raises PadaError (one line) when it is not a .yaml/.yml file, does not exist, or its file name is the name
    of a shipped task (Hydra would pick the shipped one)."""
    path = Path(value).expanduser()
    if path.suffix not in SUFFIXES:
        raise PadaError(f"task path {value} is not a YAML file (a task file ends in .yaml or .yml)")
    if not path.is_file():
        raise PadaError(f"task file {value} does not exist")
    shipped = conf_dir / GROUP / f"{path.stem}.yaml"
    if shipped.is_file() and shipped.resolve() != path.resolve():
        raise PadaError(f"task file {value} has the name of the shipped task '{path.stem}'; rename the file")
    return path.resolve()


def load_task_file(path: Path) -> DictConfig:
    """The YAML at ``path`` as a config; PadaError (one line) when it is not valid YAML or not a mapping."""
    import yaml
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = OmegaConf.load(path)
    except (yaml.YAMLError, OmegaConfBaseException, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PadaError(f"task file {path} is not valid YAML ({first})") from error
    if not isinstance(cfg, DictConfig):
        raise PadaError(f"task file {path} does not hold a mapping of task settings")
    return cfg


def register(overrides: list[str], conf_dir: Path) -> list[str]:
    """``overrides`` with every path among the ``task=`` choices replaced by its file stem, each such file
    stored in Hydra's ConfigStore as ``task/<stem>``. ``task=a.yaml,gsm8k`` (a -m sweep) keeps both choices.

    Raises PadaError for a bad path (``task_file``, ``load_task_file``) and for two files with one stem."""
    from hydra.core.config_store import ConfigStore

    rewritten, seen = [], {}
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or key.lstrip("+~") != GROUP or not any(is_path(v) for v in value.split(",")):
            rewritten.append(override)
            continue
        choices = []
        for choice in value.split(","):
            if is_path(choice):
                path = task_file(choice, conf_dir)
                if seen.setdefault(path.stem, path) != path:
                    raise PadaError(f"task files {seen[path.stem]} and {path} share the name '{path.stem}'")
                if path.parent != (conf_dir / GROUP).resolve():  # a shipped file is an option already
                    node = load_task_file(path)
                    ConfigStore.instance().store(
                        group=GROUP, name=path.stem, node=node, provider="pada task file"
                    )
                choice = path.stem
            choices.append(choice)
        rewritten.append(f"{key}={','.join(choices)}")
    return rewritten


def registered(group: str) -> list[str]:
    """The option names stored in Hydra's ConfigStore under ``group`` (task files given by path, plugins)."""
    from hydra.core.config_store import ConfigStore

    try:
        return sorted(name.removesuffix(".yaml") for name in ConfigStore.instance().list(group))
    except OSError:  # ConfigStore.list raises IOError for a group nothing was stored in
        return []

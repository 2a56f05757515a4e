"""Config keys no code reads: a static scan of the names the code reads, so a key nothing reads (a typo
such as ``method.loop.iteratons``) is reported instead of silently ignored (torchtune's every-config test).

The rule: every key of a composed config (each segment of its dotted path, outside the ``hydra`` node)
must be a name the code reads somewhere in ``pada/``, ``baselines/``, ``analysis/`` or
``hydra_plugins/`` (or the modules named by the config's ``_target_`` values), where "reads" is any of:
an attribute access (``cfg.loop``), a string constant that is a name or a dotted path (``.get("k")``,
``["k"]``, ``OmegaConf.select(cfg, "a.b")``, a tuple of keys), a keyword argument or parameter name
(``**cfg`` into a constructor), a class attribute annotation (a dataclass field built from a node), or a
``${...}`` interpolation in a YAML under ``conf/``.

Limits (an over-approximation, so it never reports a key that is read): a key spelt like any other name
the code uses anywhere passes (``method.lr`` would pass, as ``lr`` is read for the trainer); keys read
only by third-party code (Hydra's own ``hydra`` node, launcher parameters) are not checked; mappings
whose keys are data rather than settings are listed in ``DATA_KEYED`` with the reason.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.util
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("pada", "baselines", "analysis", "hydra_plugins")
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
# Mappings keyed by data (names of methods, roles, ...), not by settings: their keys are not checked.
DATA_KEYED = {
    "eval.env": "environment variable names, set in the vLLM worker before vLLM is imported",
    "plan.teacher_tokens_per_round": "one entry per method name, read as [cfg.method.name]",
    "teacher.routes": "one entry per route name; pada/teacher/routes.py checks each route's keys",
    "teacher.extra_body": "request-body fields named by the server's own API, sent as they are (OpenAI SDK extra_body)",
}
NOT_CHECKED = ("hydra",)  # Hydra validates its own node against its schemas (launchers, sweepers)


def names_in_python(text: str) -> set[str]:
    """The names a Python module can read config keys by (see the module docstring)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED.match(node.value):
            names.update(node.value.split("."))
        elif isinstance(node, ast.keyword | ast.arg) and node.arg:  # **cfg into a constructor
            names.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def names_in_yaml(text: str) -> set[str]:
    """The key names ``${...}`` interpolations read (``${oc.select:embedder,x}`` reads ``embedder``)."""
    names: set[str] = set()
    for inside in INTERPOLATION.findall(text):
        names.update(IDENTIFIER.findall(inside.split(",")[0]))
    return names


@functools.cache
def read_names(root: Path = ROOT) -> frozenset[str]:
    """Every name the project's code and YAML interpolations read (cached per process)."""
    names: set[str] = set()
    for package in SCANNED:
        for path in sorted((root / package).rglob("*.py")):
            names |= names_in_python(path.read_text(encoding="utf-8"))
    for path in sorted((root / "conf").rglob("*.yaml")):
        names |= names_in_yaml(path.read_text(encoding="utf-8"))
    return frozenset(names)


def target_names(config: dict[str, Any]) -> set[str]:
    """Names read by the modules that the config's ``_target_`` values name (a user's own classes) and
    by the modules beside them (their helpers)."""
    names: set[str] = set()
    for folder in sorted({_module_dir(t) for t in _targets(config)} - {None}):
        names |= _folder_names(folder)
    return names


def _module_dir(target: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(target.rpartition(".")[0]) if "." in target else None
    except (ImportError, ValueError):  # a target that does not import is reported by its own check
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin).resolve().parent


@functools.cache
def _folder_names(folder: Path) -> frozenset[str]:
    names: set[str] = set()
    for path in sorted(folder.glob("*.py")):
        names |= names_in_python(path.read_text(encoding="utf-8"))
    return frozenset(names)


def check_read(config: dict[str, Any]) -> None:
    """Raise PadaError naming the first key of ``config`` (a plain container) that no code reads."""
    from pada.errors import PadaError

    read = read_names() | target_names(config)
    unread = unread_keys(config, read)
    if unread:
        hint = _hint(unread[0], read, own_keys(config, unread[0]))
        raise PadaError(f"config key '{unread[0]}' is read by no code (a typo?){hint}")


def absent_key_message(path: str, value: str, config: dict[str, Any] | None = None) -> str:
    """What to say for ``path=value`` overriding a key the composed config lacks (Hydra: "Could not
    override"): a did-you-mean for a name no code reads, else (a real optional key) how to add it.
    ``config``: the config composed without that override (plain container), whose node at ``path``
    gives the closest candidates (a user method's own keys); None: only the names the code reads."""
    read = read_names()
    if path.rpartition(".")[2] in read:
        return f"config key '{path}' is not in the config; add it with +{path}={value}"
    own = own_keys(config, path) if config is not None else ([], [])
    return f"config key '{path}' is not in the config (a typo?){_hint(path, read, own)}"


def absent_override_message(overrides: list[str], path: str, compose: Callable[[list[str]], Any]) -> str:
    """``absent_key_message`` for the override of ``path`` among ``overrides``: with its value, and with the
    config ``compose`` builds from the other overrides, so the suggestion can be a key of the same node
    (a user method's own key). A config that does not compose without it either gives no node keys."""
    from omegaconf import OmegaConf

    mine = [o for o in overrides if o.lstrip("+~").partition("=")[0].split("@")[0] == path]
    value = mine[0].partition("=")[2] if mine else "..."
    try:
        config = OmegaConf.to_container(compose([o for o in overrides if o not in mine]), resolve=False)
    except Exception:  # noqa: BLE001 - another problem in the overrides: reported once this one is fixed
        config = None
    return absent_key_message(path, value, config if isinstance(config, dict) else None)


LOOP_KEYS = ("iterations", "select", "early_stop_patience")  # method.loop's (pada.run.loop.LOOP_KEYS)
CUTOFF = 0.6  # difflib.get_close_matches' default: how alike a suggestion must be


def own_keys(config: dict[str, Any], path: str) -> tuple[list[str], list[str]]:
    """(the keys ``path``'s own node has in ``config``, the names its ``_target_`` module and the modules
    beside it read): the closest candidates for a typo in that node (``method.p_delet`` -> the user
    method's ``p_delete``)."""
    node: Any = config
    for segment in path.split(".")[:-1]:
        node = node.get(segment) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return [], []
    target = node.get("_target_")
    folder = _module_dir(target) if isinstance(target, str) else None
    return [str(k) for k in node], sorted(_folder_names(folder)) if folder else []


def _hint(path: str, read: Iterable[str], own: tuple[list[str], list[str]] = ([], [])) -> str:
    """``; did you mean '<key>'?`` for the name closest to ``path``'s last segment (difflib's ratio, at
    least 0.6, as ``get_close_matches``), else "". Candidates, most specific first, a tie going to the
    earlier: the node's own keys, method.loop's keys (for ``method.*``), the names the node's class reads
    (``own``, from ``own_keys``), then every name the code reads."""
    prefix, _, leaf = path.rpartition(".")
    at = f"{prefix}." if prefix else ""
    node_keys, class_names = own
    candidates = [(at + name, name) for name in node_keys]
    if prefix == "method":  # a loop key misspelt or written outside the loop node
        candidates += [(f"method.loop.{name}", name) for name in LOOP_KEYS]
    candidates += [(at + name, name) for name in [*class_names, *sorted(read)]]
    best, best_ratio = None, 0.0
    for suggestion, name in candidates:
        matcher = difflib.SequenceMatcher(None, name, leaf)  # as get_close_matches compares
        if name == leaf or matcher.real_quick_ratio() < CUTOFF or matcher.quick_ratio() < CUTOFF:
            continue
        ratio = matcher.ratio()
        if ratio >= CUTOFF and ratio > best_ratio:  # strictly better: a tie keeps the more specific
            best, best_ratio = suggestion, ratio
    return f"; did you mean '{best}'?" if best else ""


def _targets(tree: Any) -> Iterable[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "_target_" and isinstance(value, str):
                yield value
            else:
                yield from _targets(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _targets(value)


def unread_keys(config: dict[str, Any], read: Iterable[str]) -> list[str]:
    """The dotted paths of ``config`` (a plain, unresolved container) with a segment no code reads."""
    read = set(read)
    return [path for path in _paths(config, "") if path.rpartition(".")[2] not in read]


def _paths(tree: Any, prefix: str) -> Iterable[str]:
    if not isinstance(tree, dict) or prefix in DATA_KEYED:
        return
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in NOT_CHECKED or str(key).startswith("_") and str(key).endswith("_"):
            continue  # _target_, _partial_, ...: Hydra's own keys
        yield path
        yield from _paths(value, path)

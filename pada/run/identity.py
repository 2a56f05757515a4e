"""What identifies a cell: the resolved config minus where/how it runs, plus component versions and data hashes.

Pure functions of plain dicts, shared by the runner (cell dir names, stage keys) and the analysis (grouping
cells by configuration), so both agree on what "the same configuration" means.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pada.run.loop import with_defaults

# Config nodes that say where and how a cell runs, not what it computes: excluded from the cell's identity.
NON_IDENTITY_KEYS = ("paths", "wandb", "run")
# Teacher settings that change how answers are fetched or priced, never what they are.
TEACHER_NON_IDENTITY_KEYS = ("client", "pricing")
# eval settings that add an extra final score without changing the cell's own numbers.
EVAL_NON_IDENTITY_KEYS = ("lm_eval",)
# Settings added after cells were first named, with the value that means "off": left out of the identity
# at that value, so existing cells keep their names (and caches) when nobody sets them.
OFF_VALUES = {"teacher_budget": {"tokens": None, "calls": None}}
# Hosts of a server on this machine: its port is picked when it starts (make demo-real, LlamaServer), so
# where it listens is not what it answers (its model and model_version are identity).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Method settings only the analysis reads (its row label, role, ablation parent, order: pada/display.py).
METHOD_NON_IDENTITY_KEYS = ("display",)


def eval_identity_of(eval_cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in eval_cfg.items() if k not in EVAL_NON_IDENTITY_KEYS}


def method_identity_of(method: dict[str, Any]) -> dict[str, Any]:
    """The method node without its display (how a row is labelled changes no output), with method.loop's
    defaults filled in (writing a default out names the same cell as leaving it out)."""
    method = {k: v for k, v in method.items() if k not in METHOD_NON_IDENTITY_KEYS}
    if isinstance(method.get("loop"), dict):
        method["loop"] = with_defaults(method["loop"])
    return method


def endpoint_identity(base_url: Any) -> Any:
    """``base_url`` as identity: a server on this machine's loopback address without its port
    (``http://127.0.0.1:54761/v1`` -> ``http://127.0.0.1/v1``), so a teacher served again on another port names
    the same cell; any other endpoint (a remote service) and non-strings unchanged."""
    if not isinstance(base_url, str):
        return base_url
    parts = urlsplit(base_url)
    if parts.hostname not in LOOPBACK_HOSTS:
        return base_url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return urlunsplit(parts._replace(netloc=host))


def teacher_identity_of(teacher: dict[str, Any]) -> dict[str, Any]:
    """The teacher node without what never changes an answer (client, pricing; a loopback endpoint's port:
    ``endpoint_identity``), also inside each route of ``teacher.routes`` (a route's model, endpoint and
    sampling are identity; its pricing is not). No routes, or ``routes: {}``, names the same cell as a config
    without the key."""
    teacher = {k: v for k, v in teacher.items() if k not in TEACHER_NON_IDENTITY_KEYS}
    if "base_url" in teacher:
        teacher["base_url"] = endpoint_identity(teacher["base_url"])
    routes = teacher.pop("routes", None)
    if isinstance(routes, dict) and routes:
        teacher["routes"] = {
            name: {**route, "teacher": teacher_identity_of(route.get("teacher") or {})}
            if isinstance(route, dict)
            else route
            for name, route in routes.items()
        }
    elif routes:
        teacher["routes"] = routes  # malformed: the Teacher rejects it with one line
    return teacher


USER_TASK = "pada.tasks.user.UserTask"


def identity_of(resolved: dict[str, Any]) -> dict[str, Any]:
    """The identity part of a resolved config (``OmegaConf.to_container(cfg, resolve=True)``). A user's
    task gets its defaults filled in (``pada.tasks.user.with_defaults``): building it fills them into the
    config, and a cell named before or after that, or with a default written out, is the same cell."""
    resolved = {k: v for k, v in resolved.items() if k not in OFF_VALUES or v != OFF_VALUES[k]}
    # top-ups act only under budget_match: cells without it keep their names
    if not resolved.get("budget_match"):
        resolved.pop("budget_match_rounds", None)
    if isinstance(resolved.get("task"), dict) and resolved["task"].get("_target_") == USER_TASK:
        from pada.tasks.user import with_defaults

        resolved["task"] = with_defaults(resolved["task"])
    if isinstance(resolved.get("method"), dict):
        resolved["method"] = method_identity_of(resolved["method"])
    if isinstance(resolved.get("teacher"), dict):
        resolved["teacher"] = teacher_identity_of(resolved["teacher"])
    if isinstance(resolved.get("eval"), dict):  # lm_eval is an extra final score: toggling it must not re-run
        resolved["eval"] = eval_identity_of(resolved["eval"])
    return {k: v for k, v in resolved.items() if k not in NON_IDENTITY_KEYS}


def configuration_of(results: dict[str, Any]) -> dict[str, Any] | None:
    """A finished cell's configuration: its identity minus the seed (what its seeds must share), from
    results.json's resolved config, component versions and data hashes; None when results.json lacks the
    config (then the cell cannot be grouped)."""
    provenance = results.get("provenance") or {}
    config = provenance.get("config")
    if not isinstance(config, dict):
        return None
    identity = {k: v for k, v in identity_of(config).items() if k != "seed"}
    return {
        **identity,
        "versions": results.get("versions") or {},
        "data": provenance.get("data_files_sha256") or {},
    }


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values): the dotted keys Hydra overrides use."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """The dotted keys whose values are not the same in every one of ``configs``."""
    flat = [flatten(c) for c in configs]
    keys = sorted(set().union(*flat))
    return [k for k in keys if len({repr(f.get(k, "<absent>")) for f in flat}) > 1]

"""Per-role teacher routing (``teacher.routes``): chosen roles ask a second teacher, the rest the default.

A route is declared in the teacher config (docs/teacher.md, "Routing roles to another teacher")::

    routes:
      analysis:                                   # the route's name (any but "default")
        roles: [error_analysis, pattern_summary, strategy]
        teacher:                                  # teacher keys that differ from the default teacher's
          model: qwen2.5-coder-1.5b-instruct-q4_k_m
          base_url: http://127.0.0.1:8001/v1

The route's teacher is the default teacher's settings with ``teacher`` merged over them (OmegaConf's merge:
nested ``sampling`` or ``roles`` keys override one by one), so it has its own provider, model, endpoint,
key variable, sampling, structured output and pricing, and shares the client (cache, concurrency, retries,
caps): one cell, one client. Every role not routed asks the default teacher. ``Teacher`` resolves the
routes once (``resolve``); a route that cannot be honoured is a ``PadaError`` there, before any request,
never a silent fallback to the default teacher.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.teacher.prompts import ROLES

DEFAULT = "default"  # the name of the teacher every role not routed asks
# A route cannot change these: the client is one per cell (cache, concurrency, retries, cell_caps count every
# request of the cell), and a route's teacher cannot route again.
NOT_ROUTABLE = ("client", "routes")


def _roles_of(name: str, route: dict[str, Any]) -> list[str]:
    roles = route.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise PadaError(
            f"teacher.routes.{name}.roles must be a non-empty list of role names (got {roles!r}); roles: "
            + ", ".join(ROLES)
        )
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise PadaError(
            f"teacher.routes.{name}.roles: unknown role {unknown[0]!r}; the roles pada's methods ask are: "
            + ", ".join(ROLES)
        )
    return roles


def _overrides_of(name: str, route: dict[str, Any]) -> dict[str, Any]:
    extra = sorted(set(route) - {"roles", "teacher"})
    if extra:
        raise PadaError(f"teacher.routes.{name}: unknown key {extra[0]!r}; a route has roles and teacher")
    overrides = route.get("teacher")
    if not isinstance(overrides, dict) or not overrides:
        raise PadaError(
            f"teacher.routes.{name}.teacher must name what differs from the default teacher (e.g. model "
            "and base_url); an empty route would ask the default teacher under another name"
        )
    fixed = [k for k in NOT_ROUTABLE if k in overrides]
    if fixed:
        raise PadaError(
            f"teacher.routes.{name}.teacher.{fixed[0]} cannot be set per route: every route shares the "
            "teacher's client (cache, concurrency, retries, cell_caps), and a route does not route again"
        )
    return overrides


def resolve(settings: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """``({route name: its full teacher settings}, {routed role: route name})`` from a teacher's plain
    settings (``OmegaConf.to_container(cfg, resolve=True)``). The default route comes first; roles absent
    from the second map ask it. No ``routes`` (or ``{}``): only the default.

    Raises PadaError (one line) for a malformed route: not a mapping, a name ``default``, roles missing or
    not in ``pada.teacher.prompts.ROLES``, a role in two routes, no overrides, or a ``client``/``routes``
    override."""
    routes = settings.get("routes") or {}
    base = {k: v for k, v in settings.items() if k != "routes"}
    if not isinstance(routes, dict):
        raise PadaError(f"teacher.routes must map route names to {{roles, teacher}} (got {routes!r})")
    by_name, route_of = {DEFAULT: base}, {}
    for name, route in routes.items():
        if name == DEFAULT or not isinstance(route, dict):
            raise PadaError(
                f"teacher.routes.{name}: a route is a mapping {{roles: [...], teacher: {{...}}}} and is not "
                f"named {DEFAULT!r} (the teacher every other role asks)"
            )
        for role in _roles_of(name, route):
            if role in route_of:
                raise PadaError(
                    f"teacher.routes: role {role!r} is in two routes ({route_of[role]} and {name}); a role "
                    "asks one teacher"
                )
            route_of[role] = name
        merged = OmegaConf.merge(OmegaConf.create(base), OmegaConf.create(_overrides_of(name, route)))
        by_name[name] = OmegaConf.to_container(merged, resolve=True)
    return by_name, route_of

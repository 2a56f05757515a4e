"""Per-role accounting of teacher traffic: calls, cache hits, tokens, dollars, retries and failures."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from pada.types import Completion


@dataclass
class RoleUsage:
    requests: int = 0  # answers asked for by a method (including re-asks)
    calls: int = 0  # requests that reached the provider (cache misses that succeeded)
    cache_hits: int = 0
    tokens_in: int = 0  # provider-reported, for calls made by this process (cache hits cost nothing)
    tokens_out: int = 0
    retries: int = 0  # transient failures (429, 5xx, timeouts) retried with backoff
    errors: int = 0  # requests that still failed after every retry
    truncated: int = 0  # answers cut at max_tokens
    reasks: int = 0  # malformed structured answers asked again
    parse_failures: int = 0  # structured answers that never parsed; returned as None, counted here


class Usage:
    def __init__(self, price_in_per_mtok: float = 0.0, price_out_per_mtok: float = 0.0):
        self.price_in, self.price_out = float(price_in_per_mtok), float(price_out_per_mtok)
        self.roles: dict[str, RoleUsage] = {}
        self._lock = threading.Lock()

    def add(self, role: str, **counts: int) -> None:
        with self._lock:
            row = self.roles.setdefault(role, RoleUsage())
            for name, value in counts.items():
                setattr(row, name, getattr(row, name) + value)

    def record_call(self, role: str, completion: Completion) -> None:
        self.add(role, calls=1, tokens_in=completion.prompt_tokens, tokens_out=completion.output_tokens)

    def dollars(self, row: RoleUsage) -> float:
        return (row.tokens_in * self.price_in + row.tokens_out * self.price_out) / 1e6

    def report(self) -> dict[str, Any]:
        """``{"roles": {role: counts}, "total": counts}``; dollars from the configured prices."""
        with self._lock:
            roles = {
                name: asdict(row) | {"dollars": self.dollars(row)} for name, row in sorted(self.roles.items())
            }
            total = RoleUsage(
                **{f.name: sum(getattr(r, f.name) for r in self.roles.values()) for f in fields(RoleUsage)}
            )
        return {"roles": roles, "total": asdict(total) | {"dollars": self.dollars(total)}}


def usage_delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """What happened between two ``report()``s, same shape: the usage of one stage of a run."""

    def minus(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        return {k: v - b.get(k, 0) for k, v in a.items() if isinstance(v, int | float)}

    roles = {r: minus(row, before["roles"].get(r, {})) for r, row in after["roles"].items()}
    return {"roles": {r: row for r, row in roles.items() if any(row.values())},
            "total": minus(after["total"], before["total"])}  # fmt: skip

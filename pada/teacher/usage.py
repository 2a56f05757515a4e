"""Per-role accounting of teacher traffic: calls, cache hits, tokens, dollars, retries and failures."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from pada.errors import PadaError
from pada.types import Completion


@dataclass
class RoleUsage:
    requests: int = 0  # answers asked for by a method (including re-asks)
    calls: int = 0  # requests that reached the provider (cache misses that succeeded)
    cache_hits: int = 0
    tokens_in: int = 0  # provider-reported, for calls made by this process (cache hits cost nothing)
    tokens_out: int = 0
    cached_tokens_in: int = 0  # tokens of answers served from the cache: what they cost when first asked
    cached_tokens_out: int = 0
    retries: int = 0  # transient failures (429, 5xx, timeouts) retried with backoff
    errors: int = 0  # requests that still failed after every retry
    truncated: int = 0  # answers cut at max_tokens
    reasks: int = 0  # malformed structured answers asked again
    parse_failures: int = 0  # structured answers that never parsed; returned as None, counted here
    coerced: int = (
        0  # structured answers kept only through a documented type coercion (teacher/structured.py)
    )
    over_budget: int = 0  # requests never sent: the stage's teacher allowance was spent (returned as None)


class Usage:
    """Counts per role. ``role_prices``: USD per 1M tokens (in, out) of the roles a routed teacher answers
    (``teacher.routes``); every other role is priced at ``price_in/out_per_mtok``. The total's dollars are
    the sum of the roles', so a cell that asks two teachers is charged each one's price."""

    def __init__(
        self,
        price_in_per_mtok: float = 0.0,
        price_out_per_mtok: float = 0.0,
        role_prices: dict[str, tuple[float, float]] | None = None,
    ):
        self.price_in, self.price_out = float(price_in_per_mtok), float(price_out_per_mtok)
        self.role_prices = {r: (float(i), float(o)) for r, (i, o) in (role_prices or {}).items()}
        self.roles: dict[str, RoleUsage] = {}
        self._lock = threading.Lock()

    def add(self, role: str, **counts: int) -> None:
        with self._lock:
            row = self.roles.setdefault(role, RoleUsage())
            for name, value in counts.items():
                setattr(row, name, getattr(row, name) + value)

    def record_call(self, role: str, completion: Completion) -> None:
        self.add(role, calls=1, tokens_in=completion.prompt_tokens, tokens_out=completion.output_tokens)

    def record_hit(self, role: str, completion: Completion) -> None:
        self.add(
            role,
            cache_hits=1,
            cached_tokens_in=completion.prompt_tokens,
            cached_tokens_out=completion.output_tokens,
        )

    def dollars(self, row: RoleUsage, role: str | None = None) -> dict[str, float]:
        """``dollars``: spent by this process; ``dollars_uncached``: the method's cost without any cache;
        at ``role``'s prices (its routed teacher's, else the default's)."""
        price_in, price_out = self.role_prices.get(role, (self.price_in, self.price_out))

        def price(tokens_in: int, tokens_out: int) -> float:
            return (tokens_in * price_in + tokens_out * price_out) / 1e6

        return {
            "dollars": price(row.tokens_in, row.tokens_out),
            "dollars_uncached": price(
                row.tokens_in + row.cached_tokens_in, row.tokens_out + row.cached_tokens_out
            ),
        }

    def report(self) -> dict[str, Any]:
        """``{"roles": {role: counts}, "total": counts}``; dollars per role at its teacher's prices, the
        total's their sum."""
        with self._lock:
            roles = {name: asdict(row) | self.dollars(row, name) for name, row in sorted(self.roles.items())}
            total = RoleUsage(
                **{f.name: sum(getattr(r, f.name) for r in self.roles.values()) for f in fields(RoleUsage)}
            )
        dollars = {k: sum(row[k] for row in roles.values()) for k in ("dollars", "dollars_uncached")}
        return {"roles": roles, "total": asdict(total) | dollars}


# Requests per chunk while a teacher allowance is active (Teacher.limit_effort): fixed, so which requests are
# answered depends on the requests and answers alone, never on client.max_concurrency or timing.
EFFORT_CHUNK = 16


def effort_of(total: dict[str, Any]) -> dict[str, int]:
    """Teacher effort of a usage ``total``, as from an empty cache: ``calls`` = requests answered by the
    provider or the cache (re-asks included), ``tokens`` = their input + output tokens (cached ones at
    what they cost when first asked). A warm cache never changes it, so neither does a budget on it."""
    calls = int(total.get("calls", 0)) + int(total.get("cache_hits", 0))
    tokens = sum(
        int(total.get(k, 0)) for k in ("tokens_in", "tokens_out", "cached_tokens_in", "cached_tokens_out")
    )
    return {"calls": calls, "tokens": tokens}


def usage_delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """What happened between two ``report()``s, same shape: the usage of one stage of a run."""

    def minus(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        return {k: v - b.get(k, 0) for k, v in a.items() if isinstance(v, int | float)}

    roles = {r: minus(row, before["roles"].get(r, {})) for r, row in after["roles"].items()}
    return {
        "roles": {r: row for r, row in roles.items() if any(row.values())},
        "total": minus(after["total"], before["total"]),
    }


def by_model(roles: dict[str, dict[str, Any]], role_models: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per-role counts (a report's ``roles``) added up per model that answered them (``role_models``:
    role -> ``<provider>/<model>``), for a teacher with ``teacher.routes``."""
    models: dict[str, list[dict[str, Any]]] = {}
    for role, row in roles.items():
        models.setdefault(role_models[role], []).append(row)
    return {
        m: usage_sum([{"roles": {}, "total": row} for row in rows])["total"] for m, rows in models.items()
    }


def usage_sum(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Several ``{"roles", "total"}`` reports (e.g. one per stage) added up, same shape."""

    def plus(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {k: sum(row.get(k, 0) for row in rows) for k in sorted({k for row in rows for k in row})}

    names = sorted({r for report in reports for r in report["roles"]})
    roles = {n: plus([rep["roles"][n] for rep in reports if n in rep["roles"]]) for n in names}
    return {"roles": roles, "total": plus([rep["total"] for rep in reports])}


def check_error_rate(stage: str, usage: dict[str, Any], max_rate: float, last_error: str | None) -> None:
    """Raise PadaError when a stage's failed requests exceed ``max_rate`` of its attempted ones.

    ``usage``: the stage's ``{"roles", "total"}`` report. Failed = ``errors`` (exhausted retries or
    rejected); attempted = failed + ``calls`` + ``cache_hits``. Parse failures are answers, not failures.
    """
    total = usage["total"]
    failed = int(total.get("errors", 0))
    attempted = failed + int(total.get("calls", 0)) + int(total.get("cache_hits", 0))
    if failed and failed / attempted > max_rate:
        raise PadaError(
            f"{stage}: {failed} of {attempted} teacher requests failed ({failed / attempted:.0%} > "
            f"teacher.client.max_error_rate={max_rate:g}); last: {last_error}. The stage is not marked done: "
            "fix the teacher and re-run (answers received so far are cached)"
        )


def stage_summary(stage: str, usage: dict[str, Any], last_error: str | None) -> str | None:
    """One line for a stage's teacher trouble, or None when it had none: retries, failed requests (of those
    attempted), unparsable answers and the last error (each request is in the job's log; ``-v`` shows them).

    ``usage``: the stage's ``{"roles", "total"}`` report (``usage_delta``)."""
    total = usage["total"]
    retries, failed = int(total.get("retries", 0)), int(total.get("errors", 0))
    unparsed = int(total.get("parse_failures", 0))
    if not (retries or failed or unparsed):
        return None
    attempted = failed + int(total.get("calls", 0)) + int(total.get("cache_hits", 0))
    parts = [f"{retries} retries", f"{failed} of {attempted} requests failed"]
    parts += [f"{unparsed} answers never parsed"] if unparsed else []
    last = f"; last error: {last_error}" if last_error else ""
    return f"{stage}: teacher {', '.join(parts)}{last} (one line per request in the job's log; -v shows them)"

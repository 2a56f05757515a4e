"""Spend-aware helpers for methods under the runner's teacher allowance (``teacher_budget``, issue 28.2).

The runner hands each augment round an allowance (``IterationState.quota.teacher_allowance()``) and the
teacher client refuses requests past it (``Teacher.limit_effort``). A method that only relied on the refusal
would lose the checks of items it already paid for; these helpers let it work in parts, each finished
before the next, and start no part the allowance left cannot pay for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from pada.teacher.usage import EFFORT_CHUNK
from pada.types import Quota


def within_allowance(
    teacher: Any, quota: Quota, plan: list[Any], counts: Counter, requests_per_unit: int
) -> Iterator[list[Any]]:
    """``plan`` whole when effort is not matched (``quota.teacher_allowance()`` empty); else in parts of at
    most about one client chunk of requests (``EFFORT_CHUNK`` // ``requests_per_unit`` units), each to be
    finished (asked and checked) before the next is taken, and never more units than the allowance left
    can pay for (``affordable_units``). Units not served are counted ``unserved_teacher_budget``; what the
    method leaves unspent passes to the next round (``pada.run.fairness.effort_for``)."""
    if not quota.teacher_allowance():
        yield plan
        return
    size, start = max(1, EFFORT_CHUNK // max(1, requests_per_unit)), 0
    while start < len(plan):
        n = min(size, affordable_units(teacher, requests_per_unit))
        if n <= 0:
            counts["unserved_teacher_budget"] += len(plan) - start
            return
        yield plan[start : start + n]
        start += n


def affordable_units(teacher: Any, requests_per_unit: int, share: float = 1.0) -> int:
    """How many units of ``requests_per_unit`` calls (a lower bound per unit) fit in ``share`` of the
    teacher's allowance (``Teacher.limit_effort``) minus what it has spent: by calls, and by tokens at the
    mean tokens per call so far (one unit while nothing is spent yet, to measure it); ``EFFORT_CHUNK``
    without an allowance."""
    left = teacher.effort_left() if teacher is not None else None
    if left is None:
        return EFFORT_CHUNK
    used = teacher.effort_used()
    room = {key: (left[key] + used[key]) * share - used[key] for key in left}
    if min(room.values()) <= 0:
        return 0
    per_unit = max(1, requests_per_unit)
    units = [int(room["calls"] // per_unit)] if "calls" in room else []
    if "tokens" in room:
        tokens_per_unit = used["tokens"] / used["calls"] * per_unit if used["calls"] else None
        units.append(int(room["tokens"] // tokens_per_unit) if tokens_per_unit else 1)
    return min(units, default=EFFORT_CHUNK)

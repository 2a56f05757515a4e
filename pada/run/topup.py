"""The budget_match top-up: the runner asks a method for what its round still lacks (issue 27).

Under ``budget_match`` each round's ``Quota.target`` is a promise made to every method alike; filters (a
method's own duplicate and answer checks, the runner's held-out check) can leave a round short of it, and
a comparison between methods with different amounts of synthetic data is not the one the flag asks for.
So, in one place for every method, after ``Method.propose`` and the runner's checks, while the kept
examples are fewer than the target, the runner asks the method for the remainder
(``Method.propose_more``), at most ``budget_match_rounds`` times, and checks each answer exactly as the
first (quota, ids, held-out copies). The method supplies only how to produce more: fresh teacher samples,
nothing already proposed, its analyses reused. The loop stops when

* ``target_reached``: the kept examples reach the target;
* ``rounds_used``: ``budget_match_rounds`` top-ups ran and the round is still short;
* ``method_has_no_more``: the method has nothing more to give (``propose_more`` returns None: the
  default), or a top-up proposed nothing and asked the teacher nothing;
* ``teacher_budget_spent``: the round's teacher allowance (``teacher_budget``) is spent before a top-up
  (refused, never asked past it), or what is left of it paid for nothing.

A shortfall that remains is the stage's ``shortfall`` flag, as without top-ups (``fairness.accounting``);
the stage records every round: what was asked, proposed and kept, the runner's rejections, the teacher
effort spent, and why it stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pada.run import fairness
from pada.teacher import usage_delta
from pada.types import Example, Quota

TARGET_REACHED = "target_reached"
ROUNDS_USED = "rounds_used"
NO_MORE = "method_has_no_more"
TEACHER_BUDGET = "teacher_budget_spent"
WHY = {
    ROUNDS_USED: "budget_match_rounds={rounds} top-ups were used",
    NO_MORE: "the method had nothing more to give after {used} top-up(s)",
    TEACHER_BUDGET: "a top-up was refused after {used}: the round's teacher allowance (teacher_budget) is spent",
}

More = Callable[[Quota, list[Example], int], "list[Example] | None"]


def rounds_of(cfg: Any) -> int:
    """How many top-ups a round of this cell may ask: ``budget_match_rounds`` under ``budget_match``, else 0
    (without budget_match there is no target to fill)."""
    return int(cfg.get("budget_match_rounds") or 0) if cfg.get("budget_match") else 0


def remainder(quota: Quota, kept: int) -> Quota:
    """What a top-up may add after ``kept`` examples: the target's rest and the room left under the
    round's limit; the teacher allowance stays the round's (the client counts it from the stage's start)."""
    limit = None if quota.limit is None else max(0, quota.limit - kept)
    target = None if quota.target is None else max(0, quota.target - kept)
    return replace(quota, limit=limit, target=target)


def allowance_spent(teacher: Any) -> bool:
    """True when the stage's teacher allowance (``Teacher.limit_effort``) has nothing left on some key."""
    left = teacher.effort_left() if teacher is not None else None
    return left is not None and min(left.values()) <= 0


@dataclass
class Filled:
    """An augment stage's proposals: the first and every top-up's, what the runner kept of them, its
    rejections by reason, the execution check's counts (None when off), and one record per round."""

    quota: Quota
    max_rounds: int
    proposed: list[Example] = field(default_factory=list)
    kept: list[Example] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    executed: dict[str, Any] | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None

    @property
    def short(self) -> bool:
        return self.quota.target is not None and len(self.kept) < self.quota.target

    def record(self) -> dict[str, Any]:
        """The stage's ``top_up``: the bound, top-ups used, why it stopped, and per round (0 = ``propose``)
        what was asked for, proposed and kept, the runner's rejections and the teacher effort spent."""
        return {
            "max_rounds": self.max_rounds,
            "rounds_used": len(self.rounds) - 1,
            "stopped": self.stopped,
            "per_round": self.rounds,
        }

    def why(self) -> str:
        """Why the top-ups left the round short, for the shortfall's ``why``; '' when it is not short."""
        if not self.short or self.stopped not in WHY:
            return ""
        return WHY[self.stopped].format(rounds=self.max_rounds, used=len(self.rounds) - 1)


class TopUp:
    """The runner's checks on each round's proposals, and the bounded loop of top-ups around a method."""

    def __init__(self, method: str, check: Any, train: list[Example], teacher: Any, filled: Filled):
        self.method, self.check, self.train, self.teacher, self.filled = method, check, train, teacher, filled

    def add(self, new: list[Example], quota: Quota, asked: int | None, before: dict[str, Any] | None) -> None:
        """Check one round's proposals (over its quota or a reused id: PadaError), drop held-out copies,
        keep the rest and record the round."""
        fairness.check_quota(self.method, new, quota)
        fairness.check_output(self.method, new, self.train + self.filled.proposed)
        kept, rejected, executed = self.check.filter(new)
        filled = self.filled
        filled.proposed, filled.kept = filled.proposed + new, filled.kept + kept
        filled.rejected.update(rejected)
        filled.executed = merge_executed(filled.executed, executed)
        row = {"round": len(filled.rounds), "asked": asked, "proposed": len(new), "kept": len(kept)}
        row["rejected"] = dict(sorted(rejected.items()))
        if before is not None:
            row["teacher_spent"] = fairness.effort_of(usage_delta(self.teacher.usage(), before)["total"])
        filled.rounds.append(row)

    def run(self, more: More) -> Filled:
        """Top-ups while the round is short: at most ``max_rounds``, each asking ``more(rest, proposed,
        round)`` for the rest; sets ``Filled.stopped`` (None when the round has no target)."""
        filled = self.filled
        while filled.short:
            used = len(filled.rounds) - 1
            if used >= filled.max_rounds:
                filled.stopped = ROUNDS_USED
                return filled
            if allowance_spent(self.teacher):
                filled.stopped = TEACHER_BUDGET
                return filled
            rest = remainder(filled.quota, len(filled.kept))
            before = self.teacher.usage() if self.teacher is not None else None
            new = more(rest, filled.proposed, used + 1)
            if new is None:
                filled.stopped = NO_MORE
                return filled
            self.add(new, rest, rest.target, before)
            if not new and not any(filled.rounds[-1].get("teacher_spent", {}).values()):
                limited = self.teacher is not None and self.teacher.effort_left() is not None
                filled.stopped = TEACHER_BUDGET if limited else NO_MORE
                return filled
        filled.stopped = TARGET_REACHED if filled.quota.target is not None else None
        return filled


def merge_executed(total: dict[str, Any] | None, part: dict[str, Any] | None) -> dict[str, Any] | None:
    """Two rounds' execution-check counts (``pada.run.execution.tally``) added up; None when neither ran."""
    if total is None or part is None:
        return total if part is None else part
    causes = Counter(total["unconfirmed"]) + Counter(part["unconfirmed"])
    return {
        "confirmed": total["confirmed"] + part["confirmed"],
        "cleared": total["cleared"] + part["cleared"],
        "unconfirmed": dict(sorted(causes.items())),
    }

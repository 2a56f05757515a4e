"""A test-only method that proposes nothing and records each after_next_eval call (named by method._target_)."""

from __future__ import annotations

from pada.methods.base import IterationState, Method
from pada.types import Example

CALLS: list[tuple[str, list[tuple[str, bool]], list[tuple[str, bool]]]] = []


class HookProbe(Method):
    name = "hook_probe"

    def propose(self, state: IterationState) -> list[Example]:
        return []

    def after_next_eval(self, augment_dir, before, after) -> None:
        CALLS.append(
            (
                augment_dir.name,
                [(r.item_id, r.correct) for r in before],
                [(r.item_id, r.correct) for r in after],
            )
        )

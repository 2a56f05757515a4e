"""A test-only method (named by method._target_) that proposes fixed questions: to plant held-out near-copies or
to exceed its quota, so the runner's fairness checks can be seen to act on any method's output."""

from __future__ import annotations

from pada.methods.base import IterationState, Method
from pada.types import Example

SEEN: list[IterationState] = []


class Planted(Method):
    name = "planted"

    def propose(self, state: IterationState) -> list[Example]:
        SEEN.append(state)
        return [
            planted(question, f"planted/{state.iteration}/{i}") for i, question in enumerate(self.cfg.plant)
        ]


def planted(question: str, example_id: str) -> Example:
    return Example(example_id, question, "It is 1.\n#### 1", "1", "synthetic:planted", {"question": question})


class PlantedMore(Planted):
    """Planted, and for the runner's budget_match top-up ``r`` the questions of ``method.more[r - 1]``
    (None past the list: nothing more to give)."""

    name = "planted_more"

    def propose_more(
        self, state: IterationState, proposed: list[Example], top_up: int
    ) -> list[Example] | None:
        SEEN.append(state)
        if top_up > len(self.cfg.more):
            return None
        questions = self.cfg.more[top_up - 1]
        return [planted(q, f"planted/{state.iteration}/more{top_up}/{i}") for i, q in enumerate(questions)]


class PlantedWithGuidance(Planted):
    """Planted, with prompt text of its own composed in code (``Method.instruction_texts``)."""

    name = "planted_guidance"
    instruction_texts = ("Make the student practise {skill} with a brand new problem about it.",)

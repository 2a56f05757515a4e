"""A test-only method that asks the teacher to paraphrase every seed (named by method._target_)."""

from __future__ import annotations

from pada.methods.base import IterationState, Method
from pada.types import Example


class TeacherProbe(Method):
    name = "teacher_probe"

    def propose(self, state: IterationState) -> list[Example]:
        chats = [[{"role": "user", "content": ex.prompt}] for ex in state.seed_data]
        from pada.teacher import Request

        answers = state.teacher.complete_many([Request("paraphrase", chat) for chat in chats])
        return [
            Example(f"{ex.id}-para", text, ex.target, ex.answer, "synthetic:teacher_probe")
            for ex, text in zip(state.seed_data, answers, strict=True)
            if text is not None
        ]


class TeacherProbeTwoRoles(TeacherProbe):
    """Also asks the teacher to verify every paraphrase (role verification): two roles a route can split."""

    name = "teacher_probe_two_roles"

    def propose(self, state: IterationState) -> list[Example]:
        from pada.teacher import Request

        proposed = super().propose(state)
        chats = [[{"role": "user", "content": f"Is this right? {ex.prompt}"}] for ex in proposed]
        state.teacher.complete_many([Request("verification", chat) for chat in chats])
        return proposed

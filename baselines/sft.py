"""SFT-only: train on the seed set and nothing else. The floor every augmentation method must beat."""

from __future__ import annotations

from pada.methods.base import IterationState, Method, register_method
from pada.types import Example


@register_method("sft")
class SFTOnly(Method):
    name = "sft"

    def propose(self, state: IterationState) -> list[Example]:
        return []

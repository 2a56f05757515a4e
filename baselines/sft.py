"""SFT-only: train on the seed set and nothing else. The floor every augmentation method must beat.

``sft_val`` is the equal-information control: SFT on the seed set plus every labelled validation item (the
runner adds them; the method itself still sees nothing). PaDA-Agent reads the gold answers of the validation
items its student fails, a subset of these, so a PaDA-Agent win over ``sft_val`` is not "more labelled
data". Its validation accuracy is on its own training data and means nothing (docs/baselines.md).
"""

from __future__ import annotations

from pada.methods.base import IterationState, Method
from pada.types import Example


class SFTOnly(Method):
    name = "sft"
    version = "1.0"  # bump when a change here can alter its output (pada/versions.py)

    def propose(self, state: IterationState) -> list[Example]:
        return []


class SFTOnValidation(SFTOnly):
    name = "sft_val"
    version = "1.0"  # bump when a change here can alter its output (pada/versions.py)
    trains_on_validation = True

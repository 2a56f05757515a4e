"""Base model: the student exactly as downloaded, no fine-tuning (the first row of the paper's Table 2).

The runner reads ``train: false`` from this method's config and skips every ``train_i`` stage; it scores
validation and test with the base weights (``Backend.generate(..., adapter=None)``). The seed set is still
drawn and written (so the cell directory has the same layout as every other method) but never used.
"""

from __future__ import annotations

from pada.errors import PadaError
from pada.methods.base import IterationState, Method
from pada.types import Example


class BaseModel(Method):
    name = "base"
    version = "1.0"  # bump when a change here can alter its output (pada/versions.py)

    def __init__(self, cfg):
        super().__init__(cfg)
        if cfg.get("train", True) or cfg.loop.iterations:
            raise PadaError(
                "method 'base' evaluates the untrained model: keep method.train=false and "
                "method.loop.iterations=0 (use method=sft to train on the seed set)"
            )

    def propose(self, state: IterationState) -> list[Example]:
        return []

"""A test-only method (named by method._target_) that renders one prompt template from ``method.prompts_dir`` and
proposes the first seed item, relabelled: its augment stage depends on that template's text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pada.methods.base import IterationState, Method
from pada.teacher import render
from pada.teacher.schemas import Paraphrase
from pada.types import Example


class TemplateProbe(Method):
    name = "template_probe"
    version = "test"

    def propose(self, state: IterationState) -> list[Example]:
        prompt = render(
            "paraphrase",
            "v1",
            schema=Paraphrase,
            directory=Path(self.cfg.prompts_dir),
            question="Two plus two?",
        )
        (state.workdir / "rendered.txt").write_text("\n".join(c for _, c in prompt.messages))
        return [dataclasses.replace(state.seed_data[0], id="copy-0", source="synthetic:template_probe")]

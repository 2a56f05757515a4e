"""The simulated task (SIMULATION): arithmetic word problems from pada.sim.world, generated, not loaded."""

from __future__ import annotations

import random
from pathlib import Path

from omegaconf import OmegaConf

from pada.sim.world import Problem, sample_problem
from pada.tasks.base import Splits, Task, register_task
from pada.tasks.gsm8k import GSM8K
from pada.types import Example


@register_task("sim_arith")
class SimArith(Task):
    name = "sim_arith"
    version = "1.0"

    def example(self, problem: Problem, example_id: str, source: str = "seed") -> Example:
        return Example(
            id=example_id,
            prompt=self.user_prompt(problem.question),
            target=problem.solution,
            answer=str(problem.answer),
            source=source,
            meta={"skill": problem.skill, "phrasing": problem.phrasing, "magnitude": problem.magnitude},
        )

    def _split(self, name: str, size: int, offset: int) -> list[Example]:
        rng = random.Random(
            self.cfg.world_seed * 1000 + offset
        )  # one stream per split: sizes are independent
        weights = OmegaConf.to_container(self.cfg.frequencies)
        return [self.example(sample_problem(rng, weights), f"sim/{name}/{i}") for i in range(size)]

    def load(self, data_dir: Path | None) -> Splits:
        return Splits(
            pool=self._split("pool", self.cfg.pool_size, 0),
            val=self._split("val", self.cfg.val_size, 1),
            test=self._split("test", self.cfg.test_size, 2),
            files={"generated": f"pada.sim.world v{self.version} world_seed={self.cfg.world_seed}"},
        )

    def extract(self, output: str) -> str | None:
        return GSM8K.extract(self, output)  # same '#### N' then last-number rule, driven by cfg.extraction

    def is_correct(self, extracted: str | None, example: Example) -> bool:
        return extracted is not None and extracted == example.answer

"""The simulated task (SIMULATION): arithmetic word problems from pada.sim.world, generated, not loaded."""

from __future__ import annotations

import random
from pathlib import Path

from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.sim.world import Problem, sample_problem
from pada.tasks.base import Splits, Task
from pada.tasks.gsm8k import GSM8K
from pada.types import Example


class SimArith(Task):
    name = "sim_arith"
    version = "2.0"  # 2.0: disjoint splits (1.0 shared 47% of test questions with the pool)
    version_sources = ("pada.sim.world", "pada.tasks.gsm8k")  # problems, and the extraction it borrows

    def example(self, problem: Problem, example_id: str, source: str = "seed") -> Example:
        return Example(
            id=example_id,
            prompt=self.user_prompt(problem.question),
            target=problem.solution,
            answer=str(problem.answer),
            source=source,
            meta={"skill": problem.skill, "phrasing": problem.phrasing, "magnitude": problem.magnitude},
        )

    def _split(self, name: str, size: int, offset: int, exclude: set[str], distinct: bool) -> list[Example]:
        """``size`` items drawn from the world's frequencies, skipping questions in ``exclude`` (and, when
        ``distinct``, repeats): held-out splits are sets of distinct questions, and the pool never holds a
        validation or test question. Skipping slightly flattens the frequencies of the smallest templates."""
        rng = random.Random(self.cfg.world_seed * 1000 + offset)  # one stream per split
        weights = OmegaConf.to_container(self.cfg.frequencies)
        items, seen, draws = [], set(exclude), 0
        while len(items) < size:
            draws += 1
            if draws > 100 * size:
                raise PadaError(
                    f"sim_arith: cannot draw {size} {name} items outside the other splits; "
                    "lower task.{name}_size or widen the world"
                )
            problem = sample_problem(rng, weights)
            prompt = self.user_prompt(problem.question)
            if prompt in seen:
                continue
            if distinct:
                seen.add(prompt)
            items.append(self.example(problem, f"sim/{name}/{len(items)}"))
        return items

    def load(self, data_dir: Path | None) -> Splits:
        test = self._split("test", self.cfg.test_size, 2, set(), distinct=True)
        val = self._split("val", self.cfg.val_size, 1, {e.prompt for e in test}, distinct=True)
        pool = self._split("pool", self.cfg.pool_size, 0, {e.prompt for e in test + val}, distinct=False)
        return Splits(
            pool=pool,
            val=val,
            test=test,
            files={"generated": f"pada.sim.world v{self.version} world_seed={self.cfg.world_seed}"},
        )

    def extract(self, output: str) -> str | None:
        return GSM8K.extract(self, output)  # same '#### N' then last-number rule, driven by cfg.extraction

    def is_correct(self, extracted: str | None, example: Example) -> bool:
        return extracted is not None and extracted == example.answer

"""Overrides shared by the cell tests that run the simulated world end to end at a few seconds per cell."""

from __future__ import annotations


def sim_overrides(val: int, test: int = 16) -> list[str]:
    """``experiment=sim`` with 16 seed items and 8 synthetic ones, budget- and step-matched, one epoch,
    ``val`` validation and ``test`` test items, no wandb."""
    return [
        "experiment=sim",
        "budget=16",
        "synthetic_budget=8",
        "budget_match=true",
        "trainer.match_steps=true",
        "trainer.epochs=1",
        f"task.limits.val={val}",
        f"task.limits.test={test}",
        "wandb.mode=disabled",
    ]


# A multiple-choice item world for the PaDA-Agent generation tests: every item has these four choices.
PLANETS = ["Mars", "Jupiter", "Venus", "Earth"]


def planet_item(question: str) -> dict:
    """A multiple-choice item (ARC's synthetic format) with ``question`` and PLANETS, answer B."""
    return {"question": question, "choices": PLANETS, "answer": "B", "explanation": "Jupiter is largest."}

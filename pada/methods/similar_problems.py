"""LLM2LLM's request for new problems like one wrong seed: the wrong item shown with its answer, and ``n`` new
problems asked in ONE request, answered as ``{"problems": [n items]}`` in the task's synthetic format.

Shared by the two methods that write error-correcting problems: LLM2LLM (baselines/llm2llm.py, its
``response_format: json_list``) and PaDA-Agent's LLM2LLM-style error-correcting examples (pada/agent/method.py,
``generation.correction_format: json_list``; the paper, §3.4). Measured on the real Qwen2.5-Coder-0.5B
teacher and real wrong ARC seeds (docs/real_cpu.md): asked one item per request with the wrong question in
view, the teacher copied it back (LLM2LLM: 27 of 36 too similar; PaDA-Agent's error-correction row of the
quick demo-real: 19 duplicates of 24); this prompt (llm2llm_generation.v3) asks for a new question, not a
reworded copy, and lists the item's fields instead of the JSON Schema document.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from pydantic import BaseModel, Field, create_model

from pada.tasks.synthetic import SyntheticFormat
from pada.teacher import render
from pada.teacher.examples import field_lines
from pada.teacher.prompts import Prompt
from pada.types import Example

ROLE = "generation"  # the teacher role that answers it (its sampling, cache lane and effort accounting)
TEMPLATE, VERSION = "llm2llm_generation", "v3"  # pada/prompts/llm2llm_generation.v3.j2
MAX_PER_REQUEST = 10  # the official LLM2LLM loop never asks for more than 10 problems at once


@functools.cache
def problem_list(schema: type[BaseModel], n: int) -> type[BaseModel]:
    """The schema of one answer holding ``n`` problems: ``{"problems": [<schema>] * n}``, exactly ``n`` items
    (a grammar-constrained teacher then writes all of them; llama.cpp enforces minItems/maxItems). The class
    name (``<Item>List<n>``) is part of a native request's cache key with the schema itself."""
    field = Field(min_length=n, max_length=n, description=f"exactly {n} new problems")
    return create_model(f"{schema.__name__}List{n}", problems=(list[schema], field))


def problems_asked(pending: int, attempt: int) -> int:
    """How many problems attempt ``attempt`` (0-based) asks of one wrong seed that still needs ``pending``:
    the official ``generated_instructions_per_seed_task + attempt``, at most ``MAX_PER_REQUEST``
    (SqueezeAILab/LLM2LLM GSM8K/generate_data.py)."""
    return min(pending + attempt, MAX_PER_REQUEST)


def similar_problems_prompt(
    fmt: SyntheticFormat,
    seed: Example,
    n: int,
    task_description: str,
    previous: Sequence[str] = (),
) -> Prompt:
    """The llm2llm_generation.v3 prompt: ``seed`` in the format's own shape, answer included, and ``n`` new
    problems asked as one JSON list; ``previous``: questions already written for it (shown, to be avoided)."""
    return render(
        TEMPLATE,
        VERSION,
        fields=field_lines(fmt.schema),
        previous=list(previous),
        task_description=task_description,
        example=fmt.prompt_examples([fmt.shot(seed)])[0],
        num_aug=n,
    )

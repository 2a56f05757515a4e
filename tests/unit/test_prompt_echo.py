"""The runner's prompt-echo check (pada/run/echo.py): an item that repeats the teacher's instructions is no
training problem, whichever method proposed it."""

from __future__ import annotations

import json

import pytest
from conftest import compose_config, real_data_dir

from pada.run.echo import ECHO_WORDS, PromptEcho, format_parts, instruction_parts, template_parts
from pada.run.fairness import Decontaminator

# Kept by two real demo-real runs (docs/real_cpu.md): PaDA-Agent's strategy guidance and LLM2LLM's list request
ECHOES = [
    "The student model shows this failure pattern, 'Lack of Understanding': The model lacks the ability to "
    "understand the concepts or principles involved in the problem.",
    "The student was given this problem, shown with its correct answer: A group of Canada geese left a "
    "Florida lake in the spring.",
]
FRESH = "Which gas do plants take in from the air to make their food?"


def _echo() -> PromptEcho:
    from pada.agent.method import PadaAgent

    return PromptEcho(instruction_parts(PadaAgent.instruction_texts))


@pytest.mark.parametrize("question", ECHOES)
def test_the_echoes_real_runs_kept_are_found(question):
    assert _echo().found_in(question)


def test_a_problem_is_not_an_echo_even_when_it_fills_a_slot():
    echo = _echo()
    assert not echo.found_in(FRESH)
    # a pattern's name and description fill the guidance's fields: never instruction text themselves
    assert not echo.found_in("Lack of Understanding of Variables: the model did not identify the variables")


def test_slots_and_fields_end_a_run_of_instruction_tokens():
    assert template_parts("Write {{ n }} new problems {# note #} now {% if x %}") == [
        "Write ",
        " new problems ",
        " now ",
        "",
    ]
    assert format_parts('Pattern "{name}": {description}\nWrite more.') == [
        'Pattern "',
        '": ',
        "\nWrite more.",
    ]
    echo = PromptEcho(["one two three four five", "six seven eight nine ten eleven"], n=ECHO_WORDS)
    assert not echo.found_in("one two three four five six seven")  # across two parts: no run of 6
    assert echo.found_in("So: six, seven - EIGHT nine ten eleven!")  # words only, any case


def test_the_runner_s_check_names_the_echo_before_any_held_out_reason():
    check = Decontaminator([], echo=_echo())
    from planted_method import planted

    examples = [planted(question, f"p/{i}") for i, question in enumerate([*ECHOES, FRESH])]
    assert check.reasons(examples) == ["prompt_echo", "prompt_echo", None]


@pytest.mark.skipif(real_data_dir() is None, reason="needs PADA_DATA_DIR with the benchmark files")
@pytest.mark.parametrize("task", ["arc_challenge", "gsm8k", "mmlu", "mbpp", "humaneval"])
def test_no_real_benchmark_item_reads_as_an_echo(task):
    """False positives on real data: every item of the task's local files, as rendered for the student."""
    from pada.tasks.base import build_task

    cfg = compose_config([f"task={task}", f"paths.data_dir={real_data_dir()}"])
    splits = build_task(cfg.task).load(real_data_dir())
    items = [*splits.pool, *splits.val, *splits.test]
    check = Decontaminator([], template=cfg.task.get("prompt_template"), echo=_echo())
    flagged = [ex.id for ex, reason in zip(items, check.reasons(items), strict=True) if reason]
    assert len(items) > 100 and flagged == [], json.dumps(flagged[:5])

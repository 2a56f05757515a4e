"""Does a grammar-bound small teacher copy the prompt's example answer? (issue 27, docs/teacher.md)

Serves a GGUF teacher with llama.cpp (one thread), takes the first N ARC-Challenge validation items, answers
each with a wrong letter ("The best answer is <letter>."), asks the teacher for an error analysis
(``error_analysis.v3``, temperature 0, the schema as llama.cpp's grammar) once with the example answer
shown and once without it, and counts the answers that repeat the example's ``missing_skill``; then it
summarises the no-example analyses as one pattern (``pattern_summary.v2``) and drafts its strategy.

Usage: python experiments/example_answer_probe.py GGUF --data-dir DIR [--items 9]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from openai import OpenAI
from pydantic import BaseModel

from pada.teacher.examples import EXAMPLES
from pada.teacher.local_server import LlamaCppServer
from pada.teacher.prompts import Prompt, render
from pada.teacher.schemas import ErrorAnalysis, PatternSummary, Strategy

TASK = "science multiple-choice"


def ask(client: OpenAI, model: str, messages: tuple, schema: type[BaseModel], temperature: float = 0.0):
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": role, "content": text} for role, text in messages],
        response_format={"type": "json_object", "schema": schema.model_json_schema()},
        max_tokens=200,
        temperature=temperature,
        seed=0,
    )
    return schema.model_validate_json(answer.choices[0].message.content)


def analysis_prompt(item: dict) -> Prompt:
    stem, choices = item["question"]["stem"], item["question"]["choices"]
    wrong = next(c["label"] for c in choices if c["label"] != item["answerKey"])
    question = stem + "\n" + "\n".join(f"{c['label']}. {c['text']}" for c in choices)
    return render(
        "error_analysis",
        "v3",
        schema=ErrorAnalysis,
        task_description=TASK,
        question=question,
        student_output=f"The best answer is {wrong}.",
        extracted=wrong,
        gold=item["answerKey"],
        verdict="incorrect",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--items", type=int, default=9)
    args = parser.parse_args()
    lines = (args.data_dir / "arc" / "ARC-Challenge-Dev.jsonl").read_text().splitlines()[: args.items]
    prompts = [analysis_prompt(json.loads(line)) for line in lines]
    example_skill = EXAMPLES["ErrorAnalysis"]["missing_skill"]
    with LlamaCppServer(args.gguf, Path(".cache/pada/teacher_server"), threads=1) as server:
        client = OpenAI(base_url=server.base_url, api_key="local")
        bare = []
        for label, pick in (
            ("example shown", lambda p: p.messages),
            ("no example", lambda p: p.without_example),
        ):
            answers = [ask(client, server.model, pick(p), ErrorAnalysis) for p in prompts]
            copies = sum(a.missing_skill.strip() == example_skill for a in answers)
            print(
                f"{label}: {copies} of {len(answers)} analyses copy the example's missing_skill", flush=True
            )
            bare = answers
        analyses = [f"{a.error.strip()} Missing skill: {a.missing_skill.strip()}" for a in bare]
        print("\n".join(f"- {text}" for text in analyses))
        summary = render(
            "pattern_summary", "v2", schema=PatternSummary, task_description=TASK, analyses=analyses
        )
        pattern = ask(client, server.model, summary.without_example, PatternSummary)
        print(f"pattern: {pattern.name!r}: {pattern.description}")
        strategy = render(
            "strategy",
            "v2",
            schema=Strategy,
            task_description=TASK,
            pattern_name=pattern.name,
            pattern_description=pattern.description,
        )
        print("strategy:", ask(client, server.model, strategy.without_example, Strategy, 0.7).strategy)


if __name__ == "__main__":
    main()

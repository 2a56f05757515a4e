"""Structured output with a real small teacher: prompt vs native mode, JSON-Schema-document vs example-answer
prompt versions, three PaDA roles, one answer each, no re-asks (so every failure shows).

    python experiments/structured_probe.py .cache/pada/teachers/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf

Serves the GGUF with llama-cpp-python (``make teacher-llamacpp``, ``make teacher-gguf``) on 127.0.0.1, asks
through pada's own client (``teacher=local_llamacpp``), prints one JSON line per request and each mode's usage.
Results and what they mean: docs/teacher.md "Structured output".
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from pada.teacher import Request, Teacher, render
from pada.teacher.local_server import LlamaCppServer
from pada.teacher.schemas import PatternSummary, Strategy, Verdict

ANALYSES = [
    "It multiplied the two prices instead of adding them. Missing skill: choosing the operation from 'in total'",
    "It multiplied 3 by 12 where the question asked for 3 + 12 apples. Missing skill: reading 'more' as addition",
    "It computed 5 * 4 for '5 more than 4'. Missing skill: translating 'more than' into addition",
]
TASK = {"task_description": "grade-school math"}
PATTERN = {
    "pattern_name": "Operation words misread",
    "pattern_description": "The model multiplies where the question's wording ('more than', 'in total') asks "
    "for addition.",
}
WRONG = {
    "question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
    "solution": "3 * 4 = 12\n#### 12",
}


def cases() -> list[tuple[str, str, type, dict]]:
    """(role, version, schema, variables): the schema-document version, then the example-answer one."""
    found = []
    for version in ("v1", "v2"):
        found.append(("pattern_summary", version, PatternSummary, {**TASK, "analyses": ANALYSES}))
        found.append(("strategy", version, Strategy, {**TASK, **PATTERN}))
    found += [("verification", version, Verdict, {**TASK, **WRONG}) for version in ("v1", "v3")]
    return found


CONF = Path(__file__).resolve().parents[1] / "conf" / "teacher"


def teacher_cfg(mode: str, server: LlamaCppServer) -> object:
    """conf/teacher/local_llamacpp.yaml on its default client, pointed at ``server``, in ``mode``."""
    own = OmegaConf.load(CONF / "local_llamacpp.yaml")
    own.pop("defaults")
    served = {"base_url": server.base_url, "model": server.model, "structured_output": mode}
    return OmegaConf.merge({"client": OmegaConf.load(CONF / "client" / "default.yaml")}, own, served)


def ask(server: LlamaCppServer, mode: str, folder: Path) -> None:
    cfg = teacher_cfg(mode, server)
    cfg.client.cache.path = str(folder / f"{mode}.sqlite")
    cfg.client.structured_reasks = 0  # every failure shows
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        for role, version, schema, variables in cases():
            start = time.time()
            prompt = render(role, version, schema=schema, **variables)
            answer = teacher.complete_many([Request(role, prompt, 0, schema)])[0]
            line = {"mode": mode, "prompt": f"{role}.{version}", "parsed": answer is not None}
            line |= {"answer": answer.model_dump() if answer else None, "seconds": round(time.time() - start)}
            print(json.dumps(line), flush=True)
        print(json.dumps({"mode": mode, "usage": teacher.usage()["total"]}), flush=True)


def main(gguf: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        with LlamaCppServer(Path(gguf), folder / "server") as server:
            for mode in ("prompt", "native"):
                ask(server, mode, folder)


if __name__ == "__main__":
    main(sys.argv[1])

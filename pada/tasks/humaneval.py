"""HumanEval (coding, evaluation-only): 164 test problems, pass@1 by running ``check`` in the sandbox.

A completion that does not define the entry point itself is appended to the prompt (the function header
and docstring), as lm-eval's ``humaneval`` builds its predictions. A completion that defines it (the whole
function, as the prompt asks) gets the prompt's preamble instead: everything in the prompt except the entry
point's own definition (imports such as ``from typing import List``, helper functions the prompt defines).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pada.tasks.base import Splits
from pada.tasks.code import CodeTask
from pada.tasks.files import check_unique_ids, hashes, read_jsonl_rows, require_files
from pada.types import Example

_KEYS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def _check_row(row: dict) -> str | None:
    """What is wrong with a HumanEval row (for an error naming file:line), or None."""
    if not all(isinstance(row[k], str) for k in _KEYS):
        return f"{', '.join(_KEYS)} must be strings"
    if not row["test"].strip() or not defines(row["prompt"], row["entry_point"]):
        return "test must be non-empty and prompt must define entry_point"
    return None


def defines(code: str, name: str) -> bool:
    """Whether ``code`` has a ``def name(`` line (at any indentation); ``code`` need not parse."""
    return (
        re.search(rf"^[ \t]*(async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.MULTILINE) is not None
    )


def preamble(prompt: str, entry_point: str) -> str:
    """The prompt without the entry point's definition (decorators, signature, docstring).

    A prompt that does not parse keeps everything before its ``def entry_point(`` line.
    """
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        match = re.search(rf"^[ \t]*def[ \t]+{re.escape(entry_point)}[ \t]*\(", prompt, re.MULTILINE)
        return prompt[: match.start()] if match else prompt
    lines = prompt.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            del lines[first : node.end_lineno]
            break
    return "".join(lines)


class HumanEval(CodeTask):
    name = "humaneval"
    # 1.1: tests run in a judge process the code cannot reach (forged passes fail); 1.2: the solution is a
    # module (its main block does not run), stdin empty, namedtuple and other builtin-subclass results compare
    version = "1.2"
    version_sources = ("pada.tasks.files", "pada.sandbox.runner", "pada.sandbox.boot")

    def _rows(self, data_dir: Path | None) -> tuple[list[dict], dict[str, str]]:
        if data_dir is None:
            from pada.tasks.files import load_hub_dataset as load_dataset

            return [dict(r) for r in load_dataset(self.cfg.hub_id)["test"]], {}
        folder = Path(data_dir) / self.cfg.local_subdir
        name = self.cfg.file if (folder / self.cfg.file).is_file() else f"{self.cfg.file}.gz"
        require_files(folder, [name], "HumanEval", f"{self.cfg.local_subdir}/{self.cfg.file}[.gz]")
        return read_jsonl_rows(folder / name, _KEYS, self.bad_rows_sink, _check_row), hashes(
            folder, [name], self.cfg.local_subdir
        )

    def _example(self, row: dict) -> Example:
        return Example(
            id=row["task_id"],
            prompt=self.cfg.prompt_template.format(prompt=row["prompt"]),
            target=f"```python\n{row['prompt']}{row['canonical_solution']}```",
            answer=row["canonical_solution"],
            meta={
                "tests": f"{row['test']}\ncheck({row['entry_point']})",
                "entry_point": row["entry_point"],
                "header": row["prompt"],
            },
        )

    def program(self, code: str, example: Example) -> tuple[str, str]:
        entry, header = example.meta["entry_point"], example.meta["header"]
        code = preamble(header, entry) + "\n" + code if defines(code, entry) else header + code
        return super().program(code, example)

    def load(self, data_dir: Path | None) -> Splits:
        rows, files = self._rows(data_dir)
        check_unique_ids([r["task_id"] for r in rows], "HumanEval")
        return Splits(pool=[], val=[], test=[self._example(r) for r in rows], files=files)

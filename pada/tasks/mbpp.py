"""MBPP (coding) with the official split by task_id: 1-10 few-shot, 11-510 test, 511-600 validation,
601-974 train (the seed pool). An item fails when the generated code fails its asserts in the sandbox."""

from __future__ import annotations

from pathlib import Path

from pada.errors import PadaError
from pada.tasks.base import Splits
from pada.tasks.code import CodeTask, asserts_something
from pada.tasks.files import check_unique_ids, hashes, read_jsonl_rows, require_files
from pada.types import Example

_KEYS = ("task_id", "text", "code", "test_list", "test_setup_code")


def check_row(row: dict) -> str | None:
    """What is wrong with an MBPP row (for an error naming file:line), or None.

    An empty ``test_list``, or an entry that asserts nothing, would let any program count as correct."""
    tests = row["test_list"]
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t.strip() for t in tests):
        return (
            "test_list must be a non-empty list of assert strings (an item without tests passes any program)"
        )
    if not all(asserts_something(t) for t in tests):
        return "every test_list entry must be a Python assert statement (a test that asserts nothing passes any program)"
    if not all(isinstance(row[k], str) for k in ("text", "code", "test_setup_code")):
        return "text, code and test_setup_code must be strings"
    if isinstance(row["task_id"], bool) or not isinstance(row["task_id"], int):
        return "task_id must be an integer"
    return None


_SPLITS = {"fewshot": (1, 10), "test": (11, 510), "val": (511, 600), "pool": (601, 974)}


def split_of(task_id: int) -> str:
    for split, (low, high) in _SPLITS.items():
        if low <= task_id <= high:
            return split
    raise PadaError(f"MBPP task_id {task_id} is outside the official range 1-974")


class MBPP(CodeTask):
    name = "mbpp"
    # 1.1: tests run in a judge process the code cannot reach (forged passes fail); 1.2: the solution is a
    # module (its main block does not run), stdin empty, namedtuple and other builtin-subclass results compare
    version = "1.2"
    version_sources = ("pada.tasks.files", "pada.sandbox.runner", "pada.sandbox.boot")

    def _rows(self, data_dir: Path | None) -> tuple[list[dict], dict[str, str]]:
        if data_dir is None:
            from pada.tasks.files import load_hub_dataset as load_dataset

            dataset = load_dataset(self.cfg.hub_id, self.cfg.hub_config)
            return [dict(r) for split in dataset.values() for r in split], {}
        folder = Path(data_dir) / self.cfg.local_subdir
        require_files(folder, [self.cfg.file], "MBPP", f"{self.cfg.local_subdir}/{self.cfg.file}")
        rows = read_jsonl_rows(folder / self.cfg.file, _KEYS, self.bad_rows_sink, check_row)
        return rows, hashes(folder, [self.cfg.file], self.cfg.local_subdir)

    def _example(self, row: dict) -> Example:
        return self.make_example(
            f"mbpp/{row['task_id']}",
            row["text"],
            row["code"].replace("\r\n", "\n"),
            row["test_list"],
            row["test_setup_code"],
            task_id=row["task_id"],
        )

    def make_example(
        self, item_id: str, text: str, code: str, tests: list[str], setup: str = "", **meta
    ) -> Example:
        """An item in MBPP's shape; generated items (pada.tasks.synthetic) are built here too."""
        joined = "\n".join(tests)
        return Example(
            id=item_id,
            prompt=self.cfg.prompt_template.format(text=text, tests=joined),
            target=f"```python\n{code}\n```",
            answer=code,
            meta={**meta, "question": text, "tests": joined, "setup": setup, "text": text},
        )

    def load(self, data_dir: Path | None) -> Splits:
        rows, files = self._rows(data_dir)
        check_unique_ids([str(r["task_id"]) for r in rows], "MBPP")
        splits: dict[str, list[Example]] = {name: [] for name in _SPLITS}
        for row in sorted(rows, key=lambda r: r["task_id"]):
            splits[split_of(row["task_id"])].append(self._example(row))
        return Splits(files=files, **splits)

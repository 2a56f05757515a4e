"""GSM8K (reasoning). Validation is carved from train; the official test split is the test set.

Scoring follows lm-eval's gsm8k task: the strict ``#### <number>`` match, else (``extraction: flexible``)
the last number in the output; numbers are compared after removing ``,`` ``$`` and a trailing ``.``.
Deliberate difference from lm-eval: a "number" must hold a digit. lm-eval's regexes accept a run of
``.`` ``,`` ``$`` alone (``"72 left..."`` extracts ``"..."``), which scores a correct answer 0.
"""

from __future__ import annotations

import re
from pathlib import Path

from pada.errors import PadaError
from pada.io import sha256_file
from pada.tasks.base import Splits, Task, carve_validation
from pada.tasks.files import read_jsonl_rows
from pada.types import Example

# lm-eval's gsm8k regexes, except that each match must contain a digit (see the module docstring)
_STRICT = re.compile(r"#### (-?[0-9.,]*[0-9][0-9.,]*)")
_NUMBER = re.compile(r"-?[$0-9.,]*[0-9][$0-9.,]*")
_CALCULATOR = re.compile(r"<<[^>]*>>")  # GSM8K's calculator annotations, not natural text
_KEYS = ("question", "answer")


def _check_row(row: dict) -> str | None:
    """What is wrong with a GSM8K row (for an error naming file:line), or None."""
    if not all(isinstance(row[k], str) for k in _KEYS):
        return "question and answer must be strings"
    if final_answer(row["answer"]) is None:
        return "answer has no final '#### <number>' line"
    return None


def normalise_number(text: str) -> str:
    text = text.strip().replace(",", "").replace("$", "").rstrip(".")
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(value)


def final_answer(text: str) -> str | None:
    """The number on the first ``#### <number>`` line of ``text`` (lm-eval's strict match), normalised; None
    without one. The one reading of that line: scoring, gold answers, user tasks and the runner's semantic
    decontamination (``pada.run.semantic``) all use it."""
    match = _STRICT.search(text)
    return normalise_number(match.group(1)) if match else None


def extract_number(output: str, extraction: str) -> str | None:
    """``output``'s answer: its ``#### N`` line, else (``extraction == "flexible"``) its last number."""
    strict = final_answer(output)
    if strict is not None or extraction != "flexible":
        return strict
    numbers = _NUMBER.findall(output)
    return normalise_number(numbers[-1]) if numbers else None


def gold_answer(solution: str) -> str:
    answer = final_answer(solution)
    if answer is None:
        raise PadaError(f"GSM8K solution without a '#### <answer>' line: {solution[-80:]!r}")
    return answer


class GSM8K(Task):
    name = "gsm8k"
    version = "1.0"
    files = ("train.jsonl", "test.jsonl")

    def _rows_to_examples(self, rows: list[dict], split: str) -> list[Example]:
        examples = []
        for i, row in enumerate(rows):
            solution = _CALCULATOR.sub("", row["answer"])
            examples.append(
                Example(
                    id=f"gsm8k/{split}/{i}",
                    prompt=self.user_prompt(row["question"]),
                    target=solution,
                    answer=gold_answer(row["answer"]),
                    meta={"question": row["question"]},
                )
            )
        return examples

    def _read(self, data_dir: Path | None) -> tuple[dict[str, list[dict]], dict[str, str]]:
        if data_dir is None:
            from pada.tasks.files import load_hub_dataset as load_dataset

            dataset = load_dataset(self.cfg.hub_id, self.cfg.hub_config)
            return {s: list(dataset[s]) for s in ("train", "test")}, {}
        folder = Path(data_dir) / self.cfg.local_subdir
        missing = [f for f in self.files if not (folder / f).is_file()]
        if missing:
            raise PadaError(
                f"GSM8K files {missing} not found in {folder}; set paths.data_dir (or PADA_DATA_DIR) "
                f"to a folder holding {self.cfg.local_subdir}/train.jsonl and test.jsonl"
            )
        rows = {
            f.removesuffix(".jsonl"): read_jsonl_rows(folder / f, _KEYS, self.bad_rows_sink, check=_check_row)
            for f in self.files
        }
        hashes = {f"{self.cfg.local_subdir}/{f}": sha256_file(folder / f) for f in self.files}
        return rows, hashes

    def load(self, data_dir: Path | None) -> Splits:
        rows, hashes = self._read(data_dir)
        train = self._rows_to_examples(rows["train"], "train")
        test = self._rows_to_examples(rows["test"], "test")
        pool, val = carve_validation(train, self.cfg.val_size, self.cfg.split_seed)
        return Splits(pool=pool, val=val, test=test, files=hashes)

    def extract(self, output: str) -> str | None:
        return extract_number(output, self.cfg.extraction)

    def is_correct(self, extracted: str | None, example: Example) -> bool:
        return extracted is not None and extracted == example.answer

"""ARC-Challenge (knowledge): AI2's Train / Dev / Test files are the pool / validation / test splits."""

from __future__ import annotations

from pathlib import Path

from pada.tasks.base import Splits
from pada.tasks.files import check_unique_ids, hashes, read_jsonl_rows, require_files
from pada.tasks.multiple_choice import MultipleChoiceTask
from pada.types import Example


def _check_row(row: dict) -> str | None:
    """What is wrong with an AI2 ARC row (for an error naming file:line), or None."""
    question = row["question"]
    if not isinstance(question, dict) or not isinstance(question.get("stem"), str):
        return "question must be an object with a 'stem' string"
    choices = question.get("choices")
    if not isinstance(choices, list) or not choices:
        return "question.choices must be a non-empty list"
    if not all(isinstance(c, dict) and isinstance(c.get("text"), str) and "label" in c for c in choices):
        return "each of question.choices needs 'text' and 'label'"
    return None


_LOCAL = {"train": "Train", "val": "Dev", "test": "Test"}
_HUB = {"train": "train", "val": "validation", "test": "test"}


class ARCChallenge(MultipleChoiceTask):
    name = "arc_challenge"
    version = "1.1"  # 1.1: a letter in backticks, bold, brackets or $..$ is read (as lm-eval reads it)
    version_sources = ("pada.tasks.files",)

    def _local_rows(self, data_dir: Path) -> tuple[dict[str, list[dict]], dict[str, str]]:
        folder = Path(data_dir) / self.cfg.local_subdir
        names = {split: f"{self.cfg.file_prefix}-{part}.jsonl" for split, part in _LOCAL.items()}
        require_files(folder, list(names.values()), "ARC", f"{self.cfg.local_subdir}/{names['train']} etc.")
        rows = {}
        for split, name in names.items():
            raw = read_jsonl_rows(
                folder / name, ("id", "question", "answerKey"), self.bad_rows_sink, _check_row
            )
            rows[split] = [
                {
                    "id": r["id"],
                    "question": r["question"]["stem"],
                    "texts": [c["text"] for c in r["question"]["choices"]],
                    "labels": [c["label"] for c in r["question"]["choices"]],
                    "answerKey": r["answerKey"],
                }
                for r in raw
            ]
        return rows, hashes(folder, list(names.values()), self.cfg.local_subdir)

    def _hub_rows(self) -> dict[str, list[dict]]:
        from pada.tasks.files import load_hub_dataset as load_dataset

        dataset = load_dataset(self.cfg.hub_id, self.cfg.hub_config)
        return {
            split: [
                {
                    "id": r["id"],
                    "question": r["question"],
                    "texts": list(r["choices"]["text"]),
                    "labels": list(r["choices"]["label"]),
                    "answerKey": r["answerKey"],
                }
                for r in dataset[hub_split]
            ]
            for split, hub_split in _HUB.items()
        }

    def _examples(self, rows: list[dict], split: str) -> list[Example]:
        check_unique_ids([r["id"] for r in rows], f"ARC {split}")
        return [
            self.make_example(f"arc/{r['id']}", r["question"], r["texts"], r["labels"], r["answerKey"])
            for r in rows
        ]

    def load(self, data_dir: Path | None) -> Splits:
        rows, files = self._local_rows(data_dir) if data_dir is not None else (self._hub_rows(), {})
        examples = {split: self._examples(r, split) for split, r in rows.items()}
        return Splits(pool=examples["train"], val=examples["val"], test=examples["test"], files=files)

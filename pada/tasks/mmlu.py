"""MMLU (knowledge, evaluation-only): no seed pool; dev is the few-shot pool, val and test are scored.

Local files are Hendrycks' headerless CSVs ``<split>/<subject>_<split>.csv`` with the columns
question, A, B, C, D, answer letter; the subject comes from the file name.
"""

from __future__ import annotations

from pathlib import Path

from pada.errors import PadaError
from pada.tasks.base import Splits
from pada.tasks.files import check_unique_ids, hashes, read_csv_rows
from pada.tasks.multiple_choice import LETTERS, MultipleChoiceTask
from pada.types import Example

_LOCAL = {"fewshot": "dev", "val": "val", "test": "test"}
_HUB = {"fewshot": "dev", "val": "validation", "test": "test"}


class MMLU(MultipleChoiceTask):
    name = "mmlu"
    version = "1.1"  # 1.1: a letter in backticks, bold, brackets or $..$ is read (as lm-eval reads it)
    version_sources = ("pada.tasks.files",)

    def _local_rows(self, data_dir: Path) -> tuple[dict[str, list[dict]], dict[str, str]]:
        root = Path(data_dir) / self.cfg.local_subdir
        rows: dict[str, list[dict]] = {}
        files: dict[str, str] = {}
        for split, folder_name in _LOCAL.items():
            folder = root / folder_name
            paths = sorted(folder.glob(f"*_{folder_name}.csv"))
            if not paths:
                raise PadaError(
                    f"MMLU files not found in {folder}; set paths.data_dir (or --data-dir / PADA_DATA_DIR) to "
                    f"a folder holding {self.cfg.local_subdir}/{{dev,val,test}}/<subject>_<split>.csv"
                )
            rows[split] = [
                {
                    "subject": path.stem.removesuffix(f"_{folder_name}"),
                    "question": r[0],
                    "choices": r[1:5],
                    "answer": r[5],
                }
                for path in paths
                for r in read_csv_rows(path, 6, self.bad_rows_sink)
            ]
            files |= hashes(folder, [p.name for p in paths], f"{self.cfg.local_subdir}/{folder_name}")
        return rows, files

    def _hub_rows(self) -> dict[str, list[dict]]:
        from pada.tasks.files import load_hub_dataset as load_dataset

        dataset = load_dataset(self.cfg.hub_id, self.cfg.hub_config)
        return {
            split: [
                {
                    "subject": r["subject"],
                    "question": r["question"],
                    "choices": list(r["choices"]),
                    "answer": LETTERS[r["answer"]],
                }
                for r in dataset[hub_split]
            ]
            for split, hub_split in _HUB.items()
        }

    def _examples(self, rows: list[dict], split: str) -> list[Example]:
        counters: dict[str, int] = {}
        examples = []
        for row in rows:
            index = counters[row["subject"]] = counters.get(row["subject"], -1) + 1
            item_id = f"mmlu/{split}/{row['subject']}/{index}"
            labels = list(LETTERS[: len(row["choices"])])
            examples.append(
                self.make_example(
                    item_id, row["question"], row["choices"], labels, row["answer"], subject=row["subject"]
                )
            )
        check_unique_ids([e.id for e in examples], f"MMLU {split}")
        return examples

    def load(self, data_dir: Path | None) -> Splits:
        rows, files = self._local_rows(data_dir) if data_dir is not None else (self._hub_rows(), {})
        examples = {split: self._examples(r, split) for split, r in rows.items()}
        return Splits(
            pool=[], val=examples["val"], test=examples["test"], files=files, fewshot=examples["fewshot"]
        )

"""Reading benchmark files in their original formats, with errors that name the file and line."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

from pada.errors import PadaError
from pada.io import sha256_file


def require_files(folder: Path, names: list[str], task: str, layout: str) -> None:
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise PadaError(
            f"{task} files {missing} not found in {folder}; set paths.data_dir (or --data-dir / PADA_DATA_DIR) "
            f"to a folder holding {layout}"
        )


def _bad(message: str, skipped: list[str] | None) -> None:
    if skipped is None:
        raise PadaError(message + " (task.bad_rows=skip skips and counts such rows)")
    skipped.append(message)


def read_jsonl_rows(
    path: Path, keys: tuple[str, ...], skipped: list[str] | None = None
) -> list[dict[str, Any]]:
    """Rows of a (optionally gzipped) JSON-lines file; a bad line is an error naming ``path:line``, or,
    given a ``skipped`` list, is left out and described there."""
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                _bad(f"{path}:{number}: not valid JSON ({error.msg})", skipped)
                continue
            missing = [k for k in keys if k not in row]
            if missing:
                _bad(f"{path}:{number}: row lacks the field(s) {missing}", skipped)
                continue
            rows.append(row)
    return rows


def read_csv_rows(path: Path, columns: int, skipped: list[str] | None = None) -> list[list[str]]:
    """Rows of a headerless CSV file with exactly ``columns`` fields each (bad rows as in read_jsonl_rows)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    good = []
    for number, row in enumerate(rows, start=1):
        if len(row) != columns:
            _bad(f"{path}:{number}: expected {columns} columns, found {len(row)}", skipped)
            continue
        good.append(row)
    return good


def hashes(folder: Path, names: list[str], prefix: str) -> dict[str, str]:
    return {f"{prefix}/{n}": sha256_file(folder / n) for n in names}


def check_unique_ids(ids: list[str], where: str) -> None:
    seen: set[str] = set()
    duplicates = sorted({i for i in ids if i in seen or seen.add(i)})
    if duplicates:
        raise PadaError(f"duplicate ids in {where}: {duplicates[:5]}")


def load_hub_dataset(hub_id: str, config: str | None = None):
    """``datasets.load_dataset`` with one clear error when the Hub cannot be reached (air-gapped hosts)."""
    from datasets import load_dataset

    try:
        return load_dataset(hub_id, config)
    except (ConnectionError, OSError, ValueError) as exc:
        raise PadaError(
            f"cannot load {hub_id} from the HF Hub ({type(exc).__name__}); set paths.data_dir (or PADA_DATA_DIR) "
            "to a folder with the original benchmark files"
        ) from exc

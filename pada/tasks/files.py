"""Reading benchmark files in their original formats, with errors that name the file and line."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Callable
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
    path: Path,
    keys: tuple[str, ...],
    skipped: list[str] | None = None,
    check: Callable[[dict[str, Any]], str | None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of a (optionally gzipped) JSON-lines file; a bad line is an error naming ``path:line``, or,
    given a ``skipped`` list, is left out and described there.

    Bad: not UTF-8, not valid JSON (a truncated last line too), not a JSON object (a file holding one JSON
    array says so), lacking one of ``keys``, or a row for which ``check(row)`` returns a problem.
    A gzip stream that is cut or corrupt raises PadaError naming the file."""
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                problem, row = _parse_line(raw, number, keys, check)
                if problem:
                    _bad(f"{path}:{number}: {problem}", skipped)
                elif row is not None:
                    rows.append(row)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise PadaError(f"{path}: not a readable gzip file ({error}); re-download it") from error
    return rows


def _parse_line(raw: bytes, number: int, keys: tuple[str, ...], check) -> tuple[str | None, dict | None]:
    """(problem, None) for a bad line, (None, row) for a good one, (None, None) for a blank one."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1})", None
    if not line.strip():
        return None, None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        array = " (the file looks like one JSON array; JSON lines has one object per line)"
        return (
            f"not valid JSON ({error.msg}){array if number == 1 and line.lstrip().startswith('[') else ''}",
            None,
        )
    if not isinstance(row, dict):
        array = (
            "; the file holds a JSON array, JSON lines has one object per line"
            if isinstance(row, list)
            else ""
        )
        return f"a JSON {type(row).__name__}, not an object{array}", None
    missing = [k for k in keys if k not in row]
    if missing:
        return f"row lacks the field(s) {missing} (it has {sorted(row)[:8]})", None
    problem = check(row) if check else None
    return (problem, None) if problem else (None, row)


def read_utf8(path: Path) -> str:
    """The file's text; a byte that is not UTF-8 is a PadaError naming ``path:line``."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise PadaError(f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x})") from error


def read_csv_rows(path: Path, columns: int, skipped: list[str] | None = None) -> list[list[str]]:
    """Rows of a headerless CSV file with exactly ``columns`` fields each (bad rows as in read_jsonl_rows)."""
    reader = csv.reader(io.StringIO(read_utf8(path), newline=""))
    try:
        rows = list(reader)
    except csv.Error as error:
        raise PadaError(f"{path}:{reader.line_num}: not valid CSV ({error})") from error
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

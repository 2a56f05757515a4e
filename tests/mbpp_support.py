"""A tiny MBPP in its file format for cell tests: ``add_<i>`` problems under the ids pada's MBPP split reads
(few-shot 1-10, test 11-510, validation 511-600, pool 601-974), a few of each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IDS = [*range(1, 3), *range(11, 17), *range(511, 517), *range(601, 613)]  # few-shot, test, val, pool


def mbpp_rows() -> list[dict[str, Any]]:
    """One row per id in IDS; a test may replace rows before writing them."""
    return [
        {
            "task_id": i,
            "text": f"Write a function add_{i} that adds {i} to a number.",
            "code": f"def add_{i}(x):\n    return x + {i}",
            "test_list": [f"assert add_{i}(1) == {1 + i}"],
            "test_setup_code": "",
        }
        for i in IDS
    ]


def write_mbpp(folder: Path, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True)
    (folder / "mbpp.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

"""Idempotent stages: each writes into a temporary dir, then renames it into place with a done marker.

The marker records a key derived from the stage's inputs (config and upstream keys). A re-run whose key
matches skips the stage; a killed run leaves no marker, so that stage runs again from scratch.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pada.io import read_json, stable_hash, write_json

DONE = ".done.json"


class StopRequested(Exception):  # noqa: N818  (a control-flow signal, not an error)
    """Raised after the stage named by ``run.stop_after`` completes."""


@dataclass
class StageResult:
    name: str
    path: Path
    key: str
    info: dict[str, Any]  # what the stage returned (counts, metrics); stored in its marker
    seconds: float
    cached: bool


class Stages:
    def __init__(self, run_dir: Path, stop_after: str | None = None):
        self.run_dir = Path(run_dir)
        self.stop_after = stop_after
        self.results: dict[str, StageResult] = {}

    def run(self, name: str, inputs: dict[str, Any], work: Callable[[Path], dict[str, Any]]) -> StageResult:
        key = stable_hash({"stage": name, **inputs})
        out = self.run_dir / name
        marker = out / DONE
        if marker.is_file() and (done := read_json(marker))["key"] == key:
            result = StageResult(name, out, key, done["info"], done["seconds"], cached=True)
        else:
            result = self._execute(name, key, out, work)
        self.results[name] = result
        if self.stop_after == name:
            raise StopRequested(name)
        return result

    def _execute(self, name: str, key: str, out: Path, work: Callable[[Path], dict[str, Any]]) -> StageResult:
        tmp = self.run_dir / f".{name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        started = time.perf_counter()
        info = work(tmp)
        seconds = time.perf_counter() - started
        write_json(tmp / DONE, {"key": key, "info": info, "seconds": seconds})
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        return StageResult(name, out, key, info, seconds, cached=False)

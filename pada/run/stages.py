"""Idempotent stages: each writes into its own temporary dir, then renames it into place with a done marker.

The marker records a key derived from the stage's inputs (config, component versions, data hashes, upstream
keys), a manifest of every file the stage's work wrote (relative name, size, sha256) and the sha256 of every
prompt template it rendered (pada/dependencies.py). A re-run skips the stage only when the key matches, the
directory still holds exactly those files, and no template it rendered has changed; otherwise the stage runs
again from scratch. A killed run leaves no marker, so that stage runs again. Only one process works on a cell at a time
(``cell_lock``); temporary dirs carry a per-process random suffix all the same, so a stray writer can never
wipe or rename another's work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from pada import dependencies
from pada.errors import PadaError
from pada.io import read_json, sha256_file, stable_hash, umask_mode, write_json
from pada.versions import stage_versions

DONE = ".done.json"
LOCK = ".lock"  # the cell lock (filelock: flock(2), released by the OS when its holder dies)
OWNER = ".lock.owner"  # who holds the lock: pid and host, for the waiting process's message
PARTIAL = ".partial-"  # temporary stage dirs are ``.<stage>.partial-<random>``
# Files up to this size are re-hashed when a finished stage is reused; larger ones (model weights) are
# checked by size only, so a cached re-run of a 1B full fine-tune stays seconds, not a re-read of GBs.
VERIFY_HASH_MAX_BYTES = 64 << 20
log = logging.getLogger("pada")


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
    shared: list[dict[str, Any]] = field(
        default_factory=list
    )  # units reused or computed (pada/run/shared.py)


def manifest(directory: Path) -> dict[str, dict[str, Any]]:
    """``{relative name: {"bytes": size, "sha256": hex}}`` for every file under ``directory`` but the marker."""
    files = sorted(p for p in Path(directory).rglob("*") if p.is_file() and p.name != DONE)
    return {
        str(p.relative_to(directory)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files
    }


def mismatch(directory: Path, expected: dict[str, dict[str, Any]]) -> str | None:
    """Why ``directory`` does not hold exactly the files ``expected`` lists, or None when it does."""
    present = {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file() and p.name != DONE}
    if missing := sorted(set(expected) - present):
        return f"missing {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
    if extra := sorted(present - set(expected)):
        return f"unlisted file {extra[0]}"
    for name, want in expected.items():
        path = directory / name
        if path.stat().st_size != want["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, the marker says {want['bytes']}"
        if want["bytes"] <= VERIFY_HASH_MAX_BYTES and sha256_file(path) != want["sha256"]:
            return f"{name} differs from the marker's sha256"
    return None


def read_marker(marker: Path) -> dict[str, Any]:
    """A stage's done marker; PadaError naming it when it is cut, not JSON, or lacks key/info/seconds.

    Markers are written atomically, so a broken one was edited or damaged outside pada: the stage is not
    re-run over it silently, and nothing finished is overwritten."""
    try:
        done = read_json(marker)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        problem = f"unreadable ({type(error).__name__})"
    else:
        ok = (
            isinstance(done, dict) and isinstance(done.get("key"), str) and isinstance(done.get("info"), dict)
        )
        if ok and isinstance(done.get("seconds"), int | float):
            return done
        problem = "not a marker (needs key, info, seconds)"
    raise PadaError(f"stage marker {marker} is {problem}; delete {marker.parent} to recompute that stage")


class Stages:
    def __init__(self, run_dir: Path, stop_after: str | None = None):
        self.run_dir = Path(run_dir)
        self.stop_after = stop_after
        self.results: dict[str, StageResult] = {}
        self._shared: list[dict[str, Any]] = []  # the running stage's shared units (note_shared)

    def note_shared(self, record: dict[str, Any]) -> None:
        """Record, in the running stage's marker, a shared unit its work used (``Unit.record``)."""
        self._shared.append(record)

    def run(self, name: str, inputs: dict[str, Any], work: Callable[[Path], dict[str, Any]]) -> StageResult:
        key = stable_hash({"stage": name, **inputs, **stage_versions(name)})
        out = self.run_dir / name
        result = self._reuse(name, key, out)
        if result is None:
            result = self._execute(name, key, out, work)
        self.results[name] = result
        if self.stop_after == name:
            raise StopRequested(name)
        return result

    def _reuse(self, name: str, key: str, out: Path) -> StageResult | None:
        marker = out / DONE
        if not marker.is_file():
            return None
        done = read_marker(marker)
        if done["key"] != key:
            return None
        if "files" not in done:
            log.warning(
                "stage %s: its marker lists no files (written before manifests); running it again", name
            )
            return None
        if reason := mismatch(out, done["files"]):
            log.warning(
                "stage %s: its files do not match its done marker (%s); running it again", name, reason
            )
            return None
        if edited := dependencies.changed(done.get("uses", {})):
            log.info("stage %s: %s changed since it ran; running it again", name, edited)
            return None
        uses, shared = done.get("uses", {}), done.get("shared", [])
        return StageResult(name, out, _with_uses(key, uses), done["info"], done["seconds"], True, shared)

    def _execute(self, name: str, key: str, out: Path, work: Callable[[Path], dict[str, Any]]) -> StageResult:
        # Left in place if the work fails (what it wrote helps debugging); the next holder of the lock removes it.
        self.run_dir.mkdir(
            parents=True, exist_ok=True
        )  # Cell.run() without the runner's lock made no dir yet
        tmp = Path(tempfile.mkdtemp(dir=self.run_dir, prefix=f".{name}{PARTIAL}"))
        tmp.chmod(umask_mode(directory=True))  # mkdtemp makes 0700; the stage dir keeps this mode
        started, self._shared = time.perf_counter(), []
        with dependencies.recording() as uses:
            info = work(tmp)
        seconds, shared = time.perf_counter() - started, self._shared
        done = {"key": key, "info": info, "seconds": seconds, "files": manifest(tmp), "uses": uses}
        write_json(tmp / DONE, {**done, **({"shared": shared} if shared else {})})
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        return StageResult(name, out, _with_uses(key, uses), info, seconds, False, shared)

    def refresh(self, result: StageResult) -> None:
        """Re-record ``result``'s manifest after an idempotent hook amended its files (the patterns report's
        before/after scores); the caller holds the cell lock."""
        marker = result.path / DONE
        write_json(marker, {**read_json(marker), "files": manifest(result.path)})


def _with_uses(key: str, uses: dict[str, str]) -> str:
    """The key later stages build on: the input key, plus the text hashes of the templates the stage rendered,
    so a re-run under an edited template also re-runs everything downstream of it."""
    return stable_hash({"key": key, "uses": uses}) if uses else key


def _owner(run_dir: Path) -> str:
    with contextlib.suppress(OSError, ValueError, KeyError):
        owner = read_json(run_dir / OWNER)
        return f"pid {owner['pid']} on {owner['host']}"
    return "another process"


@contextlib.contextmanager
def cell_lock(run_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the cell's lock: one process works on a cell at a time.

    A second process on the same cell waits for the first to finish (then finds its stages done), for at
    most ``timeout`` seconds (None: as long as it takes), and then raises PadaError naming the holder.
    Stale temporary stage dirs of a killed holder are removed once the lock is held.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_dir / LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning("cell %s is being run by %s; waiting for it to finish", run_dir.name, _owner(run_dir))
        try:
            lock.acquire(timeout=-1 if timeout is None else timeout)
        except Timeout:
            raise PadaError(
                f"cell {run_dir} is still being run by {_owner(run_dir)} after {timeout:g} s "
                f"(run.lock_timeout); wait for it or stop it"
            ) from None
    try:
        write_json(run_dir / OWNER, {"pid": os.getpid(), "host": socket.gethostname()})
        for stale in run_dir.glob(f".*{PARTIAL}*"):
            shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        lock.release()

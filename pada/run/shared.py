"""A content-addressed store of stage outputs shared by every cell: a training or an evaluation whose output
is fully determined by the same inputs is computed once and reused by the other cells.

In one seed of a Table 2 plan, SFT, AugGPT, LLM2LLM and PaDA-Agent each train their round-0 model on the
same seed set with the same (step-matched) trainer config, and evaluate it on the same validation items:
the same computation up to four times. The runner keys such a unit by what determines its output (the
training data's hash, the resolved trainer config, the training seed, the model, the task and its data
files, the component versions and library versions, the upstream unit's key), never by the method's name
(``unit_context``), so two cells share a unit exactly when their inputs coincide; sft_val's training set
(seed + validation) or a method that changes the trainer config gets another key.

Layout under ``run.shared_stages`` (default ``${paths.cache_dir}/shared_stages``)::

    <kind>/<key>/            the unit's files and its done marker (key, info, manifest, who computed it)
    <kind>/<key>.lock        filelock: a second cell waits for the first computation instead of repeating it
    <kind>/.<key>.partial-*  a computation in progress (or a killed one's leftovers, removed by the next holder)

An entry counts as done only when its marker is readable, names its key, and the directory holds exactly
the files its manifest lists (``pada.run.stages.mismatch``: sizes, sha256 up to VERIFY_HASH_MAX_BYTES);
anything else (a partial, corrupted or hand-edited entry) is computed again, never reused. The cell links
(or copies) the entry's files into its own stage dir, so every cell dir stays complete by itself, and its
stage marker records which units were reused from which key (results.json ``shared_stages``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from pada import dependencies
from pada.errors import PadaError
from pada.io import read_json, stable_hash, umask_mode, write_json
from pada.run.identity import identity_of
from pada.run.provenance import package_versions
from pada.run.stages import DONE, PARTIAL, manifest, mismatch

log = logging.getLogger("pada.run")
# Top-level config keys that act only through what the unit key holds explicitly (the training data, the
# resolved trainer config, the evaluated items and lengths), or only in stages that are never shared (the
# teacher, quotas and decontamination act in augment_<i>): left out, so methods that differ only there share.
METHOD_ONLY_KEYS = (
    "method",
    "teacher",
    "teacher_budget",
    "decontamination",
    "budget_match",
    "budget_match_rounds",
    "synthetic_budget",
    "synthetic_per_seed",
    "synthetic_per_iteration",
)
# Libraries whose numerics decide a training's or an evaluation's output; the cell's own stage keys do not
# carry them, but a shared store outlives one checkout's environment.
LIBRARIES = ("torch", "transformers", "peft", "lightning", "safetensors", "tokenizers", "vllm")


def unit_context(resolved: dict[str, Any], versions: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    """What every shared unit of a cell depends on besides its own inputs: the cell's identity
    (``identity_of`` of the resolved config) less METHOD_ONLY_KEYS, the task and world versions (not the
    method's), the data files' sha256 and the versions of LIBRARIES installed."""
    identity = {k: v for k, v in identity_of(resolved).items() if k not in METHOD_ONLY_KEYS}
    return {
        "cell": identity,
        "versions": {k: v for k, v in versions.items() if k != "method"},
        "data": data,
        "libraries": package_versions(LIBRARIES),
    }


@dataclass(frozen=True)
class Unit:
    """One shared unit as a cell used it: its entry dir, what its work returned, and whether this cell
    computed it (``reused`` False) or found it done (True)."""

    kind: str
    key: str
    path: Path
    info: dict[str, Any]
    reused: bool
    computed_by: str

    def record(self, name: str) -> dict[str, Any]:
        """The entry results.json's ``shared_stages`` lists for it (``name``: train, eval:val, ...)."""
        return {
            "unit": name,
            "key": self.key,
            "reused": self.reused,
            "computed_by": self.computed_by,
        }


class SharedStore:
    """Units under ``root``; ``owner`` names the computing cell in each entry's marker; ``lock_timeout``:
    seconds to wait for another cell's computation of the same unit (None: as long as it takes)."""

    def __init__(self, root: Path, owner: str, lock_timeout: float | None = None):
        self.root, self.owner, self.lock_timeout = Path(root), owner, lock_timeout

    @staticmethod
    def key(kind: str, inputs: dict[str, Any]) -> str:
        """The unit's key: a sha256 of its kind and inputs (``stable_hash``)."""
        return stable_hash({"kind": kind, **inputs})

    def unit(self, kind: str, inputs: dict[str, Any], work: Callable[[Path], dict[str, Any]]) -> Unit:
        """The unit of ``kind`` keyed by ``inputs``: found done and verified, or computed now by ``work``
        (which writes its files into the directory it is given and returns a JSON-able info)."""
        key = self.key(kind, inputs)
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        with self._locked(folder / f"{key}.lock", kind, key):
            found = self._verified(folder / key, key)
            if found is not None:
                return Unit(kind, key, folder / key, found["info"], True, found.get("computed_by", "?"))
            return self._compute(folder, kind, key, work)

    @contextlib.contextmanager
    def _locked(self, path: Path, kind: str, key: str) -> Iterator[None]:
        lock = FileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.warning("shared %s unit %s is being computed by another cell; waiting for it", kind, key[:10])
            try:
                lock.acquire(timeout=-1 if self.lock_timeout is None else self.lock_timeout)
            except Timeout:
                raise PadaError(
                    f"shared {kind} unit {path.with_suffix('')} is still being computed by another cell "
                    f"after {self.lock_timeout:g} s (run.lock_timeout); wait for it or stop it"
                ) from None
        try:
            yield
        finally:
            lock.release()

    def _verified(self, entry: Path, key: str) -> dict[str, Any] | None:
        """The entry's marker when it is done and intact; None (with a warning) when it is absent,
        partial, corrupted or edited: the caller computes it again."""
        marker = entry / DONE
        if not marker.is_file():
            return None
        try:
            done = read_json(marker)
            problem = None if done.get("key") == key and isinstance(done.get("info"), dict) else "bad marker"
            problem = problem or mismatch(entry, done["files"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
            problem = f"unreadable marker ({type(error).__name__})"
        if problem is None and (edited := dependencies.changed(done.get("uses", {}))):
            problem = f"{edited} changed since"
        if problem is not None:
            log.warning("shared unit %s is not intact (%s); computing it again", entry, problem)
            return None
        for name in done.get("uses", {}):  # the cell's own stage marker records them as if rendered here
            dependencies.record(dependencies.ROOT / name)
        return done

    def _compute(self, folder: Path, kind: str, key: str, work: Callable[[Path], dict[str, Any]]) -> Unit:
        for stale in folder.glob(f".{key}{PARTIAL}*"):  # a killed holder's; we hold the lock now
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{key}{PARTIAL}"))
        tmp.chmod(umask_mode(directory=True))
        started = time.perf_counter()
        with dependencies.recording() as uses:
            info = work(tmp)
        done = {
            "key": key,
            "info": info,
            "seconds": time.perf_counter() - started,
            "files": manifest(tmp),
            "uses": uses,
            "computed_by": self.owner,
        }
        write_json(tmp / DONE, done)  # inside tmp: nothing is done until the rename below
        shutil.rmtree(folder / key, ignore_errors=True)  # a corrupted entry, never reused
        tmp.rename(folder / key)
        return Unit(kind, key, folder / key, info, False, self.owner)


def link_into(source: Path, target: Path, rename: dict[str, str] | None = None) -> None:
    """Hard-link every file of ``source`` (but its marker) into ``target``, keeping relative names (a file
    named in ``rename`` gets its new name); a copy where a link cannot be made (another filesystem)."""
    rename = rename or {}
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.name == DONE:
            continue
        relative = str(path.relative_to(source))
        destination = target / rename.get(relative, relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:
            shutil.copy2(path, destination)


def shared_root(run_cfg: Any) -> Path | None:
    """``run.shared_stages`` as a resolved directory, or None when it is null, false or empty (sharing
    off; ``PADA_SHARED_STAGES=""`` gives the empty string)."""
    value = run_cfg.get("shared_stages")
    if value in (None, False, ""):
        return None
    if value is True:
        raise PadaError("run.shared_stages=true: give a directory (default ${paths.cache_dir}/shared_stages)")
    return Path(str(value)).expanduser().resolve()

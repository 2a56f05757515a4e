"""Files a stage's work read whose text decides its output (teacher prompt templates).

While a stage runs, ``recording()`` collects each such file's name and sha256 (``record`` is called by
``pada.teacher.prompts.render``); the stage's done marker keeps them, and a re-run redoes the stage when any
of them has changed since (``changed``). So editing a template re-runs exactly the stages that rendered it,
and everything downstream of them, and nothing else.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from pada.io import sha256_file

ROOT = Path(__file__).resolve().parents[1]
_lock = threading.Lock()
_active: list[dict[str, str]] = []  # the recordings in progress (one per running stage)
_hashes: dict[
    tuple[str, int, int], str
] = {}  # (path, mtime_ns, size) -> sha256: a render per item stays cheap


def _name(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _digest(path: Path) -> str | None:
    try:
        stat = Path(path).stat()
    except FileNotFoundError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _hashes:
        _hashes[key] = sha256_file(path)
    return _hashes[key]


def record(path: Path) -> None:
    """Note that the running stage's output depends on ``path``'s text; a no-op outside a stage."""
    if _active:
        digest = _digest(Path(path).resolve())
        with _lock:
            for recording in _active:
                recording[_name(path)] = digest


@contextlib.contextmanager
def recording() -> Iterator[dict[str, str]]:
    """Collect ``{file name: sha256}`` of every file recorded inside the block."""
    used: dict[str, str] = {}
    with _lock:
        _active.append(used)
    try:
        yield used
    finally:
        with _lock:
            _active.remove(used)


def changed(used: dict[str, str]) -> str | None:
    """The first recorded file whose text is no longer what the stage used (or is gone), or None."""
    for name, digest in sorted(used.items()):
        path = Path(name) if Path(name).is_absolute() else ROOT / name
        if _digest(path.resolve()) != digest:
            return name
    return None

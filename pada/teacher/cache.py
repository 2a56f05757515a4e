"""Persistent teacher-response cache in SQLite, shared by every run and process on a host.

WAL mode lets many processes read while one writes; ``INSERT OR IGNORE`` makes two processes that fetch the
same key race harmlessly (the first answer wins, both keep going). The value is the raw provider answer, so
parsing or prompt-side changes never require re-asking the teacher for the same request.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from pada.errors import PadaError
from pada.types import Completion

MODES = ("readwrite", "readonly", "off")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class CacheMiss(PadaError):
    """A lookup missed in read-only mode: the run would need the network it was told not to use."""


class ResponseCache:
    def __init__(self, path: Path | None, mode: str = "readwrite"):
        if mode not in MODES:
            raise PadaError(f"unknown teacher.cache.mode '{mode}'; choose one of: {', '.join(MODES)}")
        self.mode, self.path = mode, path
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self._db = None if mode == "off" else self._connect(Path(path))

    def _connect(self, path: Path) -> sqlite3.Connection:
        if self.mode == "readonly":
            if not path.is_file():
                raise PadaError(f"teacher cache {path} does not exist; read-only mode needs a filled cache "
                                "(set teacher.cache.mode=readwrite to create it)")  # fmt: skip
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
            return db
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, timeout=30)  # timeout = busy wait on a lock
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable against process crashes
        db.execute(_SCHEMA)
        db.commit()
        return db

    def get(self, key: str) -> Completion | None:
        if self._db is None:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT text, prompt_tokens, output_tokens, finish_reason FROM completions WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                self.misses += 1
            else:
                self.hits += 1
        return Completion(*row) if row is not None else None

    def require_writable(self, key: str, role: str) -> None:
        """Called before a network request: read-only mode turns a miss into a clear error."""
        if self.mode == "readonly":
            raise CacheMiss(f"teacher cache miss for role '{role}' (key {key[:12]}) in read-only mode; "
                            "set teacher.cache.mode=readwrite to allow teacher calls")  # fmt: skip

    def put(self, key: str, completion: Completion) -> None:
        if self._db is None or self.mode != "readwrite":
            return
        row = (key, completion.text, completion.prompt_tokens, completion.output_tokens,
               completion.finish_reason, time.time())  # fmt: skip
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO completions VALUES (?, ?, ?, ?, ?, ?)", row)
            self._db.commit()

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

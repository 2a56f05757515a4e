"""Persistent teacher-response cache in SQLite, shared by every run and process on a host.

WAL mode lets many processes read while one writes; ``INSERT OR IGNORE`` makes two processes that fetch the
same key race harmlessly (the first answer wins, both keep going). The value is the raw provider answer, so
parsing or prompt-side changes never require re-asking the teacher for the same request.

WAL needs shared memory beside the database, which network file systems (NFS, Lustre, CIFS, ...) do not
provide (https://www.sqlite.org/wal.html): ``journal: auto`` uses SQLite's rollback journal (``delete``)
there. Read-only mode opens the file with ``mode=ro`` and, where SQLite cannot create its ``-shm`` file (a
read-only directory or medium), as ``immutable=1`` (https://www.sqlite.org/uri.html).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from pada.errors import PadaError
from pada.types import Completion

MODES = ("readwrite", "readonly", "off")
JOURNALS = ("auto", "wal", "delete")
# File systems where SQLite's WAL shared memory does not work across hosts (and may corrupt the cache)
NETWORK_FS = (
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "lustre",
    "gpfs",
    "beegfs",
    "ceph",
    "fuse.sshfs",
    "fuse.glusterfs",
    "glusterfs",
    "9p",
    "afs",
    "panfs",
    "fuse.s3fs",
    "wekafs",
)
log = logging.getLogger("pada.teacher")


def filesystem_type(path: Path, mounts: str | None = None) -> str:
    """The type of the file system holding ``path`` (the longest mount point above it in /proc/mounts);
    ``""`` when unknown (no /proc, e.g. macOS)."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
    target, best, kind = str(Path(os.path.abspath(path))), -1, ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best:
            best, kind = len(point), fields[2]
    return kind


def choose_journal(journal: str, path: Path) -> str:
    """``wal`` or ``delete``: ``auto`` is WAL except on a network file system."""
    if journal not in JOURNALS:
        raise PadaError(
            f"unknown teacher.client.cache.journal '{journal}'; choose one of: {', '.join(JOURNALS)}"
        )
    if journal != "auto":
        return journal
    kind = filesystem_type(path.parent)
    if kind in NETWORK_FS:
        log.info("teacher cache %s is on %s: using SQLite's rollback journal, not WAL", path, kind)
        return "delete"
    return "wal"


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


# SQLite's codes for a file that is not a database, or one whose pages are damaged
CORRUPT_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


def corrupt_error(path: Path | None, mode: str, error: sqlite3.Error) -> PadaError | None:
    """The one-line fix for a corrupt cache file, or None when ``error`` is not corruption. The cache only
    saves teacher calls, so moving the file aside loses nothing a re-run cannot fetch again."""
    if getattr(error, "sqlite_errorname", None) not in CORRUPT_CODES:
        return None
    rebuild = (
        "; read-only mode cannot rebuild it: point teacher.client.cache.path at a good copy, or set "
        "teacher.client.cache.mode=readwrite"
        if mode == "readonly"
        else ""
    )
    return PadaError(
        f"teacher cache {path} is corrupt ({error}); move it aside (`mv {path} {path}.corrupt`) and re-run: "
        f"the cache is rebuildable, a fresh one re-asks the teacher, which costs teacher calls{rebuild}"
    )


class CacheMiss(PadaError):
    """A lookup missed in read-only mode: the run would need the network it was told not to use."""


class ResponseCache:
    """Completions by request key in one SQLite file.

    ``mode``: readwrite | readonly | off. ``journal``: auto | wal | delete (readwrite only; see the module
    docstring). Raises PadaError, one line naming the file, when the cache cannot be opened or read."""

    def __init__(self, path: Path | None, mode: str = "readwrite", journal: str = "auto"):
        if mode not in MODES:
            raise PadaError(f"unknown teacher.cache.mode '{mode}'; choose one of: {', '.join(MODES)}")
        self.mode, self.path = mode, path
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self._db = None if mode == "off" else self._open(Path(path), journal)

    def _open(self, path: Path, journal: str) -> sqlite3.Connection:
        try:
            return self._connect_readonly(path) if self.mode == "readonly" else self._connect(path, journal)
        except (sqlite3.Error, OSError) as error:
            if isinstance(error, sqlite3.Error) and (corrupt := corrupt_error(path, self.mode, error)):
                raise corrupt from error
            fix = (
                "check the file and its permissions"
                if self.mode == "readonly"
                else "make its folder writable, or set teacher.client.cache.mode=readonly to only read it"
            )
            raise PadaError(
                f"teacher cache {path} cannot be opened in {self.mode} mode ({error}); {fix}"
            ) from error

    def _connect_readonly(self, path: Path) -> sqlite3.Connection:
        if not path.is_file():
            raise PadaError(
                f"teacher cache {path} does not exist; read-only mode needs a filled cache "
                "(set teacher.cache.mode=readwrite to create it)"
            )
        uri = Path(os.path.abspath(path)).as_uri()
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False, timeout=30)
        try:
            db.execute("SELECT COUNT(*) FROM completions").fetchone()
            return db
        except sqlite3.OperationalError:  # a WAL file whose -shm SQLite cannot create: read-only medium
            db.close()
        wal = Path(f"{path}-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            raise PadaError(
                f"teacher cache {path} has unmerged writes in {wal.name} and sits on a read-only "
                "medium; open it once read-write (or `sqlite3 FILE 'PRAGMA wal_checkpoint'`) "
                "before handing it over"
            )
        # immutable: no locks, no -shm; safe because nothing can write to a read-only medium meanwhile
        db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        db.execute("SELECT COUNT(*) FROM completions").fetchone()
        return db

    def _connect(self, path: Path, journal: str) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, timeout=30)  # timeout = busy wait on a lock
        chosen = choose_journal(journal, path)
        db.execute(f"PRAGMA journal_mode={chosen.upper()}")
        # WAL + NORMAL is durable against process crashes; a rollback journal needs FULL for the same
        db.execute("PRAGMA synchronous=NORMAL" if chosen == "wal" else "PRAGMA synchronous=FULL")
        db.execute(_SCHEMA)
        db.commit()
        return db

    def get(self, key: str) -> Completion | None:
        if self._db is None:
            return None
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT text, prompt_tokens, output_tokens, finish_reason FROM completions WHERE key = ?",
                    (key,),
                ).fetchone()
            except sqlite3.DatabaseError as error:  # damaged pages show up only when a lookup reads them
                raise corrupt_error(self.path, self.mode, error) or error from error
            if row is None:
                self.misses += 1
            else:
                self.hits += 1
        return Completion(*row) if row is not None else None

    def require_writable(self, key: str, role: str) -> None:
        """Called before a network request: read-only mode turns a miss into a clear error."""
        if self.mode == "readonly":
            raise CacheMiss(
                f"teacher cache miss for role '{role}' (key {key[:12]}) in read-only mode; "
                "set teacher.cache.mode=readwrite to allow teacher calls"
            )

    def put(self, key: str, completion: Completion) -> None:
        if self._db is None or self.mode != "readwrite":
            return
        row = (
            key,
            completion.text,
            completion.prompt_tokens,
            completion.output_tokens,
            completion.finish_reason,
            time.time(),
        )
        with self._lock:
            try:
                self._db.execute("INSERT OR IGNORE INTO completions VALUES (?, ?, ?, ?, ?, ?)", row)
                self._db.commit()
            except (
                sqlite3.Error
            ) as error:  # a full disk, a cache made read-only meanwhile: one line, not a trace
                self._db.rollback()
                if corrupt := corrupt_error(self.path, self.mode, error):
                    raise corrupt from error
                raise PadaError(
                    f"teacher cache {self.path} cannot store an answer ({error}); free space or "
                    "set teacher.client.cache.path to a writable folder"
                ) from error

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

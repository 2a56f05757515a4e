"""Persistent cache: separate samples, zero calls on a cached re-run, read-only mode, concurrent processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
import teacher_support  # noqa: F401 - registers the test scripts
from teacher_support import teacher_cfg

from pada.errors import PadaError
from pada.teacher import Request, Teacher
from pada.teacher.cache import CacheMiss, ResponseCache
from pada.types import Completion

CHAT = [{"role": "user", "content": "What is 2+2?"}]


def _teacher(tmp_path, **overrides) -> Teacher:
    cfg = teacher_cfg("scripted", tmp_path, model="test_counter", **overrides)
    return Teacher(cfg, cfg.client.cache.path)


def test_samples_are_cached_separately_and_rerun_makes_zero_calls(tmp_path):
    requests = [Request("generation", CHAT, i) for i in range(3)] + [Request("paraphrase", CHAT, 0)]
    with _teacher(tmp_path) as first:
        answers = first.complete_many(requests)
        assert first.provider.calls == 4
        assert first.usage()["cache"] == {"hits": 0, "misses": 4, "mode": "readwrite"}
    assert answers == [f"generation#{i}: What is 2+2?" for i in range(3)] + ["paraphrase#0: What is 2+2?"]
    with _teacher(tmp_path) as second:
        again = second.complete_many(requests)
        usage = second.usage()
        assert second.provider.calls == 0  # the "network" was never touched
    assert again == answers
    assert usage["roles"]["generation"] == usage["roles"]["generation"] | {
        "requests": 3,
        "calls": 0,
        "cache_hits": 3,
    }
    assert usage["cache"]["hits"] == 4


def test_key_changes_with_sampling_params_and_prompt_version(tmp_path):
    with _teacher(tmp_path) as teacher:
        teacher.complete("generation", CHAT)
        teacher.complete("generation", CHAT, temperature=0.5)
        teacher.complete("generation", CHAT, max_tokens=7)
        teacher.complete("generation", CHAT)  # identical to the first: a hit
        assert teacher.provider.calls == 3
        assert teacher.usage()["cache"]["hits"] == 1


def test_readonly_mode_serves_hits_and_fails_clearly_on_a_miss(tmp_path):
    with _teacher(tmp_path) as teacher:
        teacher.complete("strategy", CHAT)
    with _teacher(tmp_path, **{"client.cache.mode": "readonly"}) as teacher:
        assert teacher.complete("strategy", CHAT) == "strategy#0: What is 2+2?"
        with pytest.raises(CacheMiss, match="read-only mode; set teacher.cache.mode=readwrite"):
            teacher.complete("strategy", CHAT, sample_index=1)
        assert teacher.provider.calls == 0


def test_readonly_mode_without_a_cache_file_is_one_clear_error(tmp_path):
    with pytest.raises(PadaError, match="does not exist; read-only mode needs a filled cache"):
        _teacher(tmp_path, **{"client.cache.mode": "readonly"})


def test_cache_off_always_calls(tmp_path):
    with _teacher(tmp_path, **{"client.cache.mode": "off"}) as teacher:
        teacher.complete("generation", CHAT)
        teacher.complete("generation", CHAT)
        assert teacher.provider.calls == 2
    assert not (tmp_path / "teacher.sqlite").exists()


def _writer(path: str, worker: int, n: int) -> None:
    cache = ResponseCache(path)
    for i in range(n):
        cache.put(f"shared-{i}", Completion(f"w{worker}", 1, 1, "stop"))  # both race on the same keys
        cache.put(f"own-{worker}-{i}", Completion("x", 1, 1, "stop"))
    cache.close()


def test_concurrent_processes_share_one_cache(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    ResponseCache(path).close()  # create the schema once, as the first run would
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(path, w, 200)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM completions").fetchone()[0] == 200 + 3 * 200
    winners = {row[0] for row in db.execute("SELECT text FROM completions WHERE key LIKE 'shared-%'")}
    assert winners <= {"w0", "w1", "w2"}  # first writer wins per key; no row is torn or duplicated


def test_close_is_idempotent(tmp_path):
    teacher = _teacher(tmp_path)
    teacher.close()
    teacher.close()


def _fill(path, n: int = 3) -> None:
    cache = ResponseCache(path)  # readwrite: a WAL-mode file, as every run writes it
    for i in range(n):
        cache.put(f"k{i}", Completion(f"answer {i}", 1, 1, "stop"))
    cache.close()


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder on a read-only medium: a tmpfs remounted read-only (root), else a chmod 555 folder."""
    import os
    import subprocess

    folder = tmp_path / "medium"
    folder.mkdir()
    if os.geteuid() != 0:
        yield folder, lambda: folder.chmod(0o555)
        folder.chmod(0o755)
        return
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True
    ).returncode:
        pytest.skip("root without mount permission: cannot make a read-only medium")
    yield folder, lambda: subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_read_only_cache_is_read_from_a_read_only_medium(read_only_dir):
    folder, make_read_only = read_only_dir
    _fill(folder / "teacher.sqlite")
    make_read_only()
    with pytest.raises(OSError):
        (folder / "probe").write_text("x")  # the medium really is read-only
    cache = ResponseCache(folder / "teacher.sqlite", "readonly")
    assert len(cache) == 3 and cache.get("k1") == Completion("answer 1", 1, 1, "stop")
    with pytest.raises(CacheMiss):
        cache.require_writable("k9", "generation")
    cache.close()


def test_readwrite_cache_on_a_read_only_medium_is_one_error_line(read_only_dir):
    folder, make_read_only = read_only_dir
    _fill(folder / "teacher.sqlite")
    make_read_only()
    with pytest.raises(
        PadaError, match=r"teacher cache .*teacher.sqlite cannot be opened in readwrite mode"
    ) as error:
        ResponseCache(folder / "teacher.sqlite", "readwrite")
    assert "\n" not in str(error.value) and "cache.mode=readonly" in str(error.value)


@pytest.mark.parametrize(
    "content", [b"not a database at all" * 10, b"", b"SQLite format 3\x00" + b"\xff" * 200]
)
def test_unreadable_cache_is_one_error_line(tmp_path, content):
    path = tmp_path / "teacher.sqlite"
    path.write_bytes(content)
    with pytest.raises(
        PadaError, match=r"teacher cache .* (cannot be opened in readonly mode|is corrupt .* move it aside)"
    ) as error:  # an empty file is no table, not corruption
        ResponseCache(path, "readonly")
    assert "\n" not in str(error.value)


def test_unreadable_cache_through_the_cli_is_one_line(capsys, tiny_cell_overrides, tmp_path):
    from pada.cli import main

    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 100)
    args = [
        *tiny_cell_overrides,
        "method=pada",
        "teacher=scripted",
        "teacher.model=agent_test",
        "teacher.script_module=agent_support",
        "method.patterns.embedder=bundled:all-MiniLM-L6-v2",
        "teacher.client.cache.mode=readonly",
        f"teacher.client.cache.path={bad}",
    ]
    try:
        code = main(["run", *args])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("pada: error: teacher cache "), err


MOUNTS = """/dev/sda1 / ext4 rw 0 0
server:/export/home /home nfs4 rw 0 0
server:/scratch /home/user/scratch lustre rw 0 0
tmpfs /home/user/tmp tmpfs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/var/cache/x.sqlite", "ext4"),
        ("/home/a/.cache/x.sqlite", "nfs4"),
        ("/home/user/scratch/x.sqlite", "lustre"),
        ("/home/user/tmp/x", "tmpfs"),
        ("/homeless/x", "ext4"),
    ],
)
def test_filesystem_type_takes_the_longest_mount_point(path, kind):
    from pada.teacher.cache import filesystem_type

    assert filesystem_type(Path(path), MOUNTS) == kind


def test_network_file_system_gets_the_rollback_journal(tmp_path, monkeypatch):
    from pada.teacher import cache as cache_module

    monkeypatch.setattr(cache_module, "filesystem_type", lambda path, mounts=None: "nfs4")
    path = tmp_path / "shared.sqlite"
    cache = ResponseCache(path)  # journal=auto
    cache.put("k", Completion("a", 1, 1, "stop"))
    cache.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()
    monkeypatch.setattr(cache_module, "filesystem_type", lambda path, mounts=None: "ext4")
    ResponseCache(tmp_path / "local.sqlite").close()
    assert sqlite3.connect(tmp_path / "local.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(PadaError, match="journal"):
        ResponseCache(tmp_path / "x.sqlite", journal="memory")


def test_a_full_disk_while_storing_is_one_error_line(tmp_path):
    import os
    import subprocess

    folder = tmp_path / "small"
    folder.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True
        ).returncode
    ):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        cache = ResponseCache(folder / "teacher.sqlite")
        with pytest.raises(
            PadaError, match=r"teacher cache .* cannot store an answer \(database or disk is full"
        ) as error:
            for i in range(1000):
                cache.put(f"k{i}", Completion("x" * 4000, 1, 1, "stop"))
        assert "\n" not in str(error.value)
        cache.close()
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


CORRUPT_FIX = ("is corrupt", "move it aside", ".corrupt", "rebuildable", "costs teacher calls")


@pytest.mark.parametrize("mode", ["readwrite", "readonly"])
@pytest.mark.parametrize("content", [b"not a database at all" * 10, b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_corrupt_cache_says_to_move_it_aside_in_every_mode(tmp_path, content, mode):
    path = tmp_path / "teacher.sqlite"
    path.write_bytes(content)
    with pytest.raises(PadaError) as error:
        ResponseCache(path, mode)
    message = str(error.value)
    assert "\n" not in message and all(part in message for part in CORRUPT_FIX), message
    assert "make its folder writable" not in message and "permissions" not in message


def test_corruption_found_after_opening_is_the_same_one_line(tmp_path):
    path = tmp_path / "teacher.sqlite"
    cache = ResponseCache(path, "readwrite", "delete")  # one file: the damage below is all there is
    for i in range(200):
        cache.put(f"k{i}", Completion(f"answer {i} " * 50, 1, 1, "stop"))
    cache.close()
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page after the schema page
    path.write_bytes(bytes(data))
    cache = ResponseCache(path, "readwrite", "delete")
    for call in (lambda: cache.get("k150"), lambda: cache.put("new", Completion("x", 1, 1, "stop"))):
        with pytest.raises(PadaError) as error:
            call()
        assert all(part in str(error.value) for part in CORRUPT_FIX), str(error.value)

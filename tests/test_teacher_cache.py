"""Persistent cache: separate samples, zero calls on a cached re-run, read-only mode, concurrent processes."""

from __future__ import annotations

import multiprocessing
import sqlite3

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

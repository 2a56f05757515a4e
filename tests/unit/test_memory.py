"""pada/models/memory.py: a process's own peak, and freed large blocks going back to the OS (no model)."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from pada.errors import PadaError
from pada.models.memory import peak_rss_bytes, return_large_blocks

ROOT = Path(__file__).resolve().parents[2]
MB = 2**20
linux_glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="VmHWM and mallopt are Linux/glibc",
)


def _child(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return done.stdout


@linux_glibc
def test_a_childs_peak_is_its_own_not_the_larger_parents():
    ballast = bytearray(600 * MB)  # zero-filled: resident in this (the parent) process
    code = "from pada.models.memory import peak_rss_bytes; print(peak_rss_bytes())"
    child = int(_child(code))
    del ballast
    assert 5 * MB < child < 200 * MB  # an interpreter and pada.models.memory; ru_maxrss said > 600 MB
    assert peak_rss_bytes() > 600 * MB  # this process's own peak does include the ballast


# A heap left full of holes: a freed large block raises glibc's mmap threshold, then 8 MB blocks come from
# the heap between small live ones, and are freed. Prints the resident MB the freed blocks left behind.
FRAGMENT = """
import sys
from pada.models.memory import return_large_blocks
if sys.argv[1] == "fixed":
    assert return_large_blocks(128)
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
first = bytearray(16 * 2**20)
del first  # glibc's default now serves blocks under 16 MB from the heap
before = rss()
large, small = [], []
for _ in range(40):
    large.append(bytearray(8 * 2**20))
    small.append(bytearray(2048))
del large
print(rss() - before)
"""


@linux_glibc
def test_freed_large_blocks_go_back_to_the_os_with_a_fixed_mmap_threshold():
    kept_by_default = float(_child(FRAGMENT, "default"))
    kept_fixed = float(_child(FRAGMENT, "fixed"))
    assert kept_by_default > 200  # of the 320 MB freed: glibc's rising threshold keeps them resident
    assert kept_fixed < 20


def test_no_threshold_leaves_the_allocator_alone():
    assert return_large_blocks(None) is False


@pytest.mark.parametrize("bad", [0, -1, 32 * 1024 + 1])
def test_a_threshold_outside_glibcs_range_is_one_error_line(bad):
    with pytest.raises(PadaError, match=f"run.malloc_mmap_threshold_kib={bad} is outside 1..32768"):
        return_large_blocks(bad)


# The heap left full of holes as above (glibc's default threshold), then trimmed as the runner's TrimHeap
# callback does after every CPU micro-batch. Prints the resident MB the freed blocks left behind.
TRIMMED = FRAGMENT.replace(
    "print(rss() - before)",
    "from pada.models.memory import trim_heap\ntrim_heap()\nprint(rss() - before)",
)


@linux_glibc
def test_a_trim_returns_the_freed_blocks_the_default_threshold_keeps():
    assert float(_child(TRIMMED, "default")) < 20  # untrimmed: > 200 MB (test above)


def test_the_trim_callback_trims_after_every_micro_batch(monkeypatch):
    from pada.training import callbacks

    calls = []
    monkeypatch.setattr(callbacks, "trim_heap", lambda: calls.append(1))
    for batch_idx in range(3):
        callbacks.TrimHeap().on_train_batch_end(None, None, None, None, batch_idx)
    assert calls == [1, 1, 1]

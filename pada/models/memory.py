"""Keep a CPU cell's resident memory near what it uses (a real-model cell on CPU within 2 GB).

Measured on SmolLM2-135M (float32, 0.54 GB of weights; docs/real_cpu.md, "Memory"; experiments/bench/memory_real.py):

* glibc's malloc raises its mmap threshold each time a large block is freed (up to 32 MiB), so after the
  first few steps the activations of every layer (1-30 MB tensors) come from the heap, and the heap keeps
  what they freed: one LoRA training step of 2 x 250 tokens left ~0.5 GB more resident than it used.
  ``return_large_blocks`` fixes the threshold (which also turns the raising off), so each large tensor is
  its own mapping, returned to the OS when freed.
* with glibc's default, what the heap keeps grows step by step (1.87 GB after one step of a real 135M
  LoRA training, 2.24 GB after five); ``TrimHeap`` (pada/training/callbacks.py) trims after every
  micro-batch on CPU, which holds it at the first step's level (1.97 GB) at ~4% of the step's CPU time.
* after training, the trainer's model and activations are freed by Python but glibc keeps the pages, so the
  evaluation's own model copy came on top of them; ``release_memory`` (``gc.collect`` + ``malloc_trim(0)``)
  returns them between stages.

Neither changes a computed number: they decide where freed memory goes, not what is computed.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc

from pada.errors import PadaError

M_MMAP_THRESHOLD = -3  # glibc malloc.h: mallopt's parameter for the mmap threshold
MAX_MMAP_THRESHOLD_KIB = 32 * 1024  # glibc refuses more on 64-bit (HEAP_MAX_SIZE / 2)


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): its allocator is left as it is
        return None


def trim_heap() -> None:
    """Ask glibc to return the free pages inside its heap to the OS (``malloc_trim(0)``; a no-op elsewhere)."""
    libc = _libc()
    with contextlib.suppress(AttributeError):
        if libc is not None:
            libc.malloc_trim(0)


def release_memory() -> None:
    """Collect garbage, then return free heap pages to the OS (between stages)."""
    gc.collect()
    trim_heap()


def return_large_blocks(threshold_kib: int | None) -> bool:
    """Serve every allocation of at least ``threshold_kib`` KiB by its own mmap, unmapped when freed.

    Calls glibc's ``mallopt(M_MMAP_THRESHOLD, bytes)``, which also disables the dynamic threshold (glibc's
    malloc(3) manual, "M_MMAP_THRESHOLD"). ``None`` leaves glibc's default. Returns whether it was set
    (False off glibc, where it has no effect). Raises PadaError outside 1..32768 KiB (glibc's range on 64-bit).
    """
    if threshold_kib is None:
        return False
    if not 0 < threshold_kib <= MAX_MMAP_THRESHOLD_KIB:
        raise PadaError(
            f"run.malloc_mmap_threshold_kib={threshold_kib} is outside 1..{MAX_MMAP_THRESHOLD_KIB} "
            "(glibc's range); set a KiB value in it or null"
        )
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold_kib) * 1024))


def peak_rss_bytes() -> int:
    """This process's own peak resident set, bytes.

    Linux: ``VmHWM`` from /proc/self/status, the high-water mark of this process image. Not
    ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries the parent's high-water mark across fork + exec, so
    a cell started from a 2 GB test process reported 2 GB whatever it used. Elsewhere ``ru_maxrss`` (bytes
    on macOS, KiB on other systems), which may include the parent's.
    """
    import resource
    import sys

    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024

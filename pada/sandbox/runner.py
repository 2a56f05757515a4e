"""Run untrusted Python programs, each in its own process, and return a verdict.

Two isolation levels; ``isolation_level()`` says which one is in force on this host:

* ``namespaces`` (root, util-linux ``unshare``): the child runs in fresh network and PID namespaces as
  the unprivileged user ``nobody``. No network device but loopback-down exists, no host process is visible
  (a fresh /proc) or killable, every process the program starts dies with it, and it can write only to its own temp dir and
  to world-writable directories (``/tmp``, ``/var/tmp``, ``/dev/shm``).
* ``guarded`` (anything else): same user as the harness; an audit hook inside the child refuses socket
  connects/binds and signals to other processes; the process group is killed on timeout. Audit hooks stop
  accidents, not a determined attacker (ctypes can bypass them): use ``namespaces`` for untrusted code.

Both levels: a fresh temp cwd (also HOME and TMPDIR), an empty environment (no parent secrets), rlimits on
CPU time (the time limit that decides), address space, file size (which also caps stdout/stderr: they go to
files) and open files, a generous wall-time backstop that kills the whole process group, and a marker
written only after the last line ran.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from pada.errors import PadaError

_BOOT = (Path(__file__).parent / "boot.py").read_text(encoding="utf-8")
_NOBODY = 65534  # the judge (runs the tests and writes the pass marker)
_SOLUTION_UID = 65533  # the model's code: another unprivileged uid, so it cannot signal or trace the judge
Program = str | tuple[str, str]  # (solution, tests), or one string run whole (no tests kept apart)


WALL_PER_CPU = (
    12  # wall backstop / CPU limit: a CPU-bound program meets its CPU limit first up to load 12/core
)


@dataclass(frozen=True)
class Limits:
    """Per-program limits. CPU time decides (``cpu_s``, RLIMIT_CPU of each process): a busy host slows the
    wall clock, not the CPU time a program needs, so a neighbour's load never fails a correct solution
    (MBPP 123's reference needs 2.5 CPU s and took 7.5 s of wall time at load 10). ``timeout_s`` is only a
    wall-clock backstop for programs that sleep or block without using CPU."""

    timeout_s: float = 120.0  # wall backstop for sleeping or blocked programs: WALL_PER_CPU x cpu_s
    cpu_s: int = 10  # CPU seconds (RLIMIT_CPU): the limit that decides; MBPP references need at most ~2.5 s
    memory_mb: int = (
        1024  # address space (RLIMIT_AS); a Python interpreter needs ~30 MB, tests far less than 1 GB
    )
    file_size_mb: int = 8  # any file the program writes, stdout/stderr included (RLIMIT_FSIZE)
    nproc: int = 64  # processes of the sandbox user (RLIMIT_NPROC); only under `namespaces` (user nobody)
    open_files: int = 256  # RLIMIT_NOFILE
    output_chars: int = 2000  # characters of stdout/stderr kept in the verdict


@dataclass(frozen=True)
class Verdict:
    """``kind``: passed | failed | timeout | exited_early | output_limit | cpu_limit | memory | crashed.
    ``duration_s``: wall seconds; ``cpu_s``: user + system CPU seconds of the program's processes that were
    reaped (``os.wait4``), what ``Limits.cpu_s`` bounds."""

    passed: bool
    kind: str
    returncode: int
    duration_s: float
    cpu_s: float
    stdout: str
    stderr: str
    truncated: bool
    isolation: str

    def to_dict(self) -> dict:
        return asdict(self)


def _world_reachable(path: str) -> bool:
    """Whether user ``nobody`` can execute or enter ``path`` (it and every parent have the x bit for others)."""
    target = Path(os.path.realpath(path))
    return all(p.stat().st_mode & stat.S_IXOTH for p in (target, *target.parents))


def _sandbox_python(isolation: str) -> str:
    """The harness's own interpreter if the sandbox user can run it, else the system one (stdlib suffices)."""
    if isolation == "guarded":
        return sys.executable
    for candidate in (sys.executable, shutil.which("python3.11"), "/usr/bin/python3"):
        if candidate and Path(candidate).exists() and _world_reachable(candidate):
            return candidate
    return sys.executable


@functools.cache
def isolation_level() -> str:
    """``namespaces`` when a probe child starts in new net+PID namespaces as ``nobody``; else ``guarded``."""
    if (
        os.environ.get("PADA_SANDBOX_ISOLATION") == "guarded"
        or os.geteuid() != 0
        or not shutil.which("unshare")
    ):
        return "guarded"
    probe = [*_namespace_prefix(), _sandbox_python("namespaces"), "-I", "-c", "pass"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=30, cwd="/")
    except (OSError, subprocess.TimeoutExpired):
        return "guarded"
    return "namespaces" if done.returncode == 0 else "guarded"


def _namespace_prefix() -> list[str]:
    # --kill-child: if unshare dies (killpg on timeout), its child, PID 1 of the namespace, dies, and with it
    # every process in the namespace, even ones that called setsid() to leave the process group.
    # --mount-proc: a /proc of the namespace only, so host processes' command lines are not listed.
    return [
        "unshare",
        "--net",
        "--pid",
        "--mount-proc",
        "--kill-child",
    ]  # root inside the namespaces until boot.py drops the judge and the solution to their own users


def _rlimits(limits: Limits, isolation: str) -> dict[str, int]:
    mib = 1 << 20
    rlimits = {
        "RLIMIT_CPU": limits.cpu_s,
        "RLIMIT_AS": limits.memory_mb * mib,
        "RLIMIT_FSIZE": limits.file_size_mb * mib,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_CORE": 0,
    }
    if isolation == "namespaces":  # counted per user: only safe when the user is nobody, not the harness's
        rlimits["RLIMIT_NPROC"] = limits.nproc
    return rlimits


def _kind(returncode: int, marker_ok: bool, stderr: str, timed_out: bool) -> str:
    if timed_out:
        return "timeout"
    if returncode == 0:
        return "passed" if marker_ok else "exited_early"
    signal_number = -returncode if returncode < 0 else returncode - 128
    if signal_number == signal.SIGXFSZ or "[Errno 27] File too large" in stderr:
        return "output_limit"
    if signal_number in (signal.SIGXCPU, signal.SIGKILL):
        return "cpu_limit"
    if "MemoryError" in stderr:
        return "memory"
    if returncode < 0 or returncode > 128:
        return "crashed"
    return "failed"


def _read_capped(path: Path, chars: int, tail: bool = False) -> tuple[str, bool]:
    """The first (or, for tracebacks, last) ``chars`` characters of a file, and whether it was cut."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if tail:
            handle.seek(max(0, size - chars * 4))
        text = handle.read(chars * 4).decode("utf-8", errors="replace")
    cut = size > len(text.encode()) or len(text) > chars
    return (text[-chars:] if tail else text[:chars]), cut


def _prepare(base: Path, program: Program, isolation: str) -> Path:
    solution, tests = (program, "") if isinstance(program, str) else program
    work, code = base / "work", base / "code"
    work.mkdir()
    code.mkdir(mode=0o700)  # read by the boot while still root (namespaces) or the harness's user
    (code / "solution.py").write_text(solution, encoding="utf-8")
    (code / "tests.py").write_text(tests, encoding="utf-8")
    if isolation == "namespaces":
        os.chmod(base, 0o711)  # the sandbox users may traverse to work/ but not read io/ or code/
        os.chown(work, _SOLUTION_UID, _SOLUTION_UID)
    (base / "io").mkdir(mode=0o700)
    return work


def _command(work: Path, limits: Limits, isolation: str, marker_fd: int, script: bool) -> list[str]:
    spec = {
        "solution_name": "__main__" if script else "solution",  # a module the tests import, or a script
        "rlimits": _rlimits(limits, isolation),
        "audit_guard": isolation == "guarded",
        "init": isolation == "namespaces",
        "marker_fd": marker_fd,
        "solution": str(work.parent / "code" / "solution.py"),
        "tests": str(work.parent / "code" / "tests.py"),
        "solution_uid": _SOLUTION_UID if isolation == "namespaces" else None,
        "judge_uid": _NOBODY if isolation == "namespaces" else None,
    }
    prefix = _namespace_prefix() if isolation == "namespaces" else []
    return [*prefix, _sandbox_python(isolation), "-I", "-c", _BOOT, json.dumps(spec)]


def _child_env(work: Path) -> dict[str, str]:
    # Built from nothing: API keys and tokens in the harness's environment never reach the program.
    return {"PATH": "/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8"}


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group already ended
        os.killpg(process.pid, signal.SIGKILL)


def run_program(program: Program, limits: Limits = Limits(), isolation: str | None = None) -> Verdict:
    """Execute ``program``: ``(solution, tests)``, or one string run whole; passed = the tests ran to their
    last line in the judge process (pada/sandbox/boot.py), which the solution's code cannot reach.

    A single string has no tests kept apart: it passes when it runs to its end, which code in it could fake
    (scoring always passes the pair). ``isolation``: ``namespaces`` | ``guarded``; None picks the strongest
    this host supports.
    """
    isolation = isolation or isolation_level()
    if isolation not in ("namespaces", "guarded"):
        raise PadaError(f"unknown sandbox isolation '{isolation}'; choose namespaces or guarded")
    nonce = secrets.token_hex(16)
    # The sandbox user must be able to enter its work dir: a private $TMPDIR would lock it out.
    parent = tempfile.gettempdir() if _world_reachable(tempfile.gettempdir()) else "/tmp"
    with tempfile.TemporaryDirectory(prefix="pada-sandbox-", dir=parent) as tmp:
        base = Path(tmp)
        work = _prepare(base, program, isolation)
        io = base / "io"
        with (
            open(io / "stdout", "wb") as out,
            open(io / "stderr", "wb") as err,
            open(io / "marker", "wb") as marker,
        ):
            start = time.monotonic()
            process = subprocess.Popen(
                _command(work, limits, isolation, marker.fileno(), isinstance(program, str)),
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                cwd=work,
                env=_child_env(work),
                start_new_session=True,  # its own process group, killed as one
                pass_fds=(marker.fileno(),),
                close_fds=True,
            )
            timed_out, cpu_s = _wait(process, nonce, limits.timeout_s)
            duration = time.monotonic() - start
        stdout, out_cut = _read_capped(io / "stdout", limits.output_chars)
        stderr, err_cut = _read_capped(io / "stderr", limits.output_chars, tail=True)
        marker_ok = (io / "marker").read_text(errors="replace") == nonce
    kind = _kind(process.returncode, marker_ok, stderr, timed_out)
    return Verdict(
        kind == "passed",
        kind,
        process.returncode,
        round(duration, 3),
        round(cpu_s, 3),
        stdout,
        stderr,
        out_cut or err_cut,
        isolation,
    )


def _wait(process: subprocess.Popen, nonce: str, timeout_s: float) -> tuple[bool, float]:
    """Wait for the program; a timer kills its group at the wall deadline. (killed for wall time, CPU
    seconds of the program's reaped processes).

    A blocking wait woken by the timer, rather than ``Popen.wait(timeout)``, whose polling sleeps add up
    to ~50 ms per program.
    """
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill_group(process)

    timer = threading.Timer(timeout_s, expire)
    timer.start()
    try:
        with contextlib.suppress(BrokenPipeError):  # a program may exit before reading its nonce
            process.stdin.write((nonce + "\n").encode())
            process.stdin.close()
        _, status, usage = os.wait4(process.pid, 0)  # Popen.wait, plus the CPU time of the whole tree
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        timer.cancel()
        _kill_group(process)  # leftovers of a finished program (guarded level: same group only)
    return expired.is_set(), usage.ru_utime + usage.ru_stime


def run_programs(
    programs: list[Program],
    limits: Limits = Limits(),
    workers: int | None = None,
    isolation: str | None = None,
) -> list[Verdict]:
    """``run_program`` over many programs, ``workers`` at a time (default: one per CPU core)."""
    if workers is not None and workers < 1:
        raise PadaError(f"sandbox workers={workers} must be at least 1")
    if not programs:
        return []
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: run_program(p, limits, isolation), programs))

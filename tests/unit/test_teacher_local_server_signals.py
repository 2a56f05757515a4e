"""A SIGTERM/SIGHUP to the owner of a LocalTeacherServer stops the server (no orphan) and exits 128 + signum.

The server is a stand-in (a few lines of python serving /health on 127.0.0.1), so no model is needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

STANDIN = "import http.server as h,signal,sys\nif sys.argv[2:]: signal.signal(signal.SIGTERM, signal.SIG_IGN)\nclass H(h.BaseHTTPRequestHandler):\n def do_GET(s):\n  s.send_response(200);s.end_headers();s.wfile.write(b'ok')\n def log_message(s,*a):pass\nh.HTTPServer(('127.0.0.1',int(sys.argv[1])),H).serve_forever()\n"

# How long the owner may take to unwind and exit: seconds when idle, but a suite on two busy cores
# (pytest -n 2 beside other jobs, load ~6) once took over 10; a hung owner still fails the test.
OWNER_EXIT_S = 60
OWNER = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from pada.teacher.local_server import LocalTeacherServer

    # An owner started by a plain shell: under `nohup` (as a CI runner may be) SIGHUP arrives ignored, and
    # the server rightly leaves an ignored signal alone, so the SIGHUP case would wait forever.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    # Likewise a shell's background job (`cmd &`, POSIX) starts with SIGINT ignored, and Python then keeps
    # it ignored: give the owner the KeyboardInterrupt a terminal's Ctrl-C would raise.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    class StandIn(LocalTeacherServer):
        def command(self):
            return [sys.executable, "-c", STANDIN, str(self.port), *sys.argv[2:]]

    work = Path(sys.argv[1])
    with StandIn(work / "model", work / "server", startup_s=20, stop_s=1) as server:
        print(server.process.pid, flush=True)
        while True:
            time.sleep(0.1)
    """
)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _start_owner(tmp_path: Path, *standin_args: str) -> tuple[subprocess.Popen, int]:
    """The owner process and its stand-in server's pid; ``standin_args`` (any) make it ignore SIGTERM."""
    script = f"STANDIN = {STANDIN!r}\n{OWNER}"
    owner = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path), *standin_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = owner.stdout.readline()
    assert line.strip().isdigit(), owner.communicate(timeout=OWNER_EXIT_S)
    return owner, int(line)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_to_owner_stops_the_server(tmp_path: Path, signum: int) -> None:
    owner, server_pid = _start_owner(tmp_path)
    try:
        assert _alive(server_pid)
        owner.send_signal(signum)
        _, stderr = owner.communicate(timeout=OWNER_EXIT_S)
        deadline = time.monotonic() + 5
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(server_pid), "the teacher server outlived its owner"
        assert owner.returncode == 128 + signum
        assert stderr.strip().splitlines() == [
            f"pada: {signal.Signals(signum).name} received: stopping the local teacher server"
        ]
    finally:
        owner.kill()
        if _alive(server_pid):
            os.killpg(server_pid, signal.SIGKILL)


def test_repeated_sigterm_does_not_cut_the_cleanup_short(tmp_path: Path) -> None:
    """A second SIGTERM while ``stop()`` waits for a slow server must not abort it before its SIGKILL."""
    owner, server_pid = _start_owner(tmp_path, "ignore-sigterm")
    try:
        owner.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # inside stop()'s 1 s grace
        owner.send_signal(signal.SIGTERM)
        owner.communicate(timeout=OWNER_EXIT_S)
        deadline = time.monotonic() + 5
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(server_pid), "the teacher server outlived its owner"
        assert owner.returncode == 143
    finally:
        owner.kill()
        if _alive(server_pid):
            os.killpg(server_pid, signal.SIGKILL)


def test_ctrl_c_still_stops_the_server(tmp_path: Path) -> None:
    """SIGINT keeps Python's KeyboardInterrupt: the ``with`` unwinds and stops the server."""
    owner, server_pid = _start_owner(tmp_path)
    try:
        owner.send_signal(signal.SIGINT)
        _, stderr = owner.communicate(timeout=OWNER_EXIT_S)
        deadline = time.monotonic() + 5
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(server_pid), "the teacher server outlived its owner"
        assert "KeyboardInterrupt" in stderr
    finally:
        owner.kill()
        if _alive(server_pid):
            os.killpg(server_pid, signal.SIGKILL)


def test_handlers_are_restored_after_stop(tmp_path: Path) -> None:
    from pada.teacher.local_server import LocalTeacherServer

    class StandIn(LocalTeacherServer):
        def command(self) -> list[str]:
            return [sys.executable, "-c", STANDIN, str(self.port)]

    before = signal.getsignal(signal.SIGTERM)
    with StandIn(tmp_path / "model", tmp_path / "server", startup_s=20):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before

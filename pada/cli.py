"""``pada <subcommand>``: run (one cell or a Hydra sweep); later: analyze, data, exec, preflight, bench."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pada.errors import PadaError

# Config groups whose choice names a file: checked up front so a typo gets one line, not a Hydra trace.
_CHECKED_GROUPS = ("task", "method", "model", "trainer", "eval", "teacher", "launcher", "experiment", "paths")


def _check_overrides(overrides: list[str], conf_dir: Path) -> None:
    for override in overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if not sep or key not in _CHECKED_GROUPS:
            continue
        known = sorted(p.stem for p in (conf_dir / key).glob("*.yaml"))
        for choice in value.split(","):  # a -m sweep lists several
            if choice and choice != "null" and choice not in known:
                raise PadaError(f"unknown {key} '{choice}'; choose one of: {', '.join(known)}")


def _run(overrides: list[str]) -> int:
    from pada.run.app import CONF_DIR, hydra_main

    _check_overrides([o for o in overrides if not o.startswith("-")], CONF_DIR)
    sys.argv = ["pada run", *overrides]
    hydra_main()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="pada", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run", help="run one cell, or a sweep with -m (all arguments are Hydra overrides)", add_help=False
    )
    if argv[:1] == ["run"]:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            return _run(argv[1:])
        except PadaError as error:
            print(f"pada: error: {error}", file=sys.stderr)
            return 2
    data = sub.add_parser("data", help="inspect benchmark data").add_subparsers(
        dest="data_command", required=True
    )
    data_check = data.add_parser("check", help="load every split, count it, score every gold answer")
    data_check.add_argument("task", help="a task name (conf/task/<name>.yaml)")
    data_check.add_argument(
        "--data-dir", help="folder with the original files (default: $PADA_DATA_DIR, else the Hub)"
    )
    run_code = sub.add_parser(
        "exec", help="run a solution against its tests in the sandbox; print a JSON verdict"
    )
    run_code.add_argument("solution", help="the Python file under test")
    run_code.add_argument("--tests", required=True, help="Python asserts run after the solution")
    run_code.add_argument(
        "--timeout", type=float, default=10.0, help="wall-time limit in seconds (default 10)"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "exec":
            from pada.sandbox.cli import exec_main

            return exec_main(args.solution, args.tests, args.timeout)
        if args.command == "data":
            from pada.data_check import main as data_check_main

            return data_check_main(args.task, args.data_dir)
    except PadaError as error:
        print(f"pada: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

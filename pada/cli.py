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


def _analyze(args: argparse.Namespace) -> int:
    from analysis.report import analyze

    written = analyze(args.runs_dir, args.out, args.wandb_project, args.resamples, args.seed)
    for name, paths in written.items():
        print(f"{name}: {len(paths)} files under {args.out}")
    return 0


def _add_analyze(sub) -> None:
    from analysis.report import N_RESAMPLES, SEED

    cmd = sub.add_parser("analyze", help="Table 2, ablation, significance tests and plots from a runs dir")
    cmd.add_argument("runs_dir", nargs="?", type=Path, help="the runs dir (paths.runs_dir) to scan")
    cmd.add_argument("--out", type=Path, required=True, help="where tables, parquet and plots go")
    cmd.add_argument("--wandb-project", help="entity/project to read instead when no runs dir is given")
    cmd.add_argument("--resamples", type=int, default=N_RESAMPLES, help="bootstrap resamples")
    cmd.add_argument("--seed", type=int, default=SEED, help="bootstrap Generator seed")


def _add_data_and_exec(sub) -> None:
    data = sub.add_parser("data", help="inspect benchmark data").add_subparsers(
        dest="data_command", required=True
    )
    check = data.add_parser("check", help="load every split, count it, score every gold answer")
    check.add_argument("task", help="a task name (conf/task/<name>.yaml)")
    check.add_argument(
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


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "exec":
        from pada.sandbox.cli import exec_main

        return exec_main(args.solution, args.tests, args.timeout)
    if args.command == "data":
        from pada.data_check import main as data_check_main

        return data_check_main(args.task, args.data_dir)
    if args.command == "analyze":
        return _analyze(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="pada", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run", help="run one cell, or a sweep with -m (all arguments are Hydra overrides)", add_help=False
    )
    sub.add_parser(
        "preflight", help="check a sweep's prerequisites and print its plan (Hydra overrides)", add_help=False
    )
    _add_data_and_exec(sub)
    _add_analyze(sub)
    try:
        if argv[:1] == ["preflight"]:  # Hydra overrides, like run
            from pada.preflight import main as preflight_main

            return preflight_main(argv[1:])
        if argv[:1] == ["run"]:  # everything after 'run' belongs to Hydra
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            return _run(argv[1:])
        return _dispatch(parser.parse_args(argv))
    except PadaError as error:
        print(f"pada: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

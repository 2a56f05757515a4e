"""``pada <subcommand>``: run (one cell or a Hydra sweep); later: analyze, data, exec, preflight, bench."""

from __future__ import annotations

import argparse
import importlib.resources
import os
import re
import sys
from pathlib import Path
from typing import Any

from pada import task_files
from pada.errors import PadaError

# Config groups whose choice names a file: checked up front so a typo gets one line, not a Hydra trace.
_CHECKED_GROUPS = ("task", "method", "model", "trainer", "eval", "teacher", "launcher", "experiment", "paths")


def _search_dirs(overrides: list[str]) -> list[Any]:
    """The folders ``hydra.searchpath=[...]`` adds (``file://`` or ``pkg://`` entries): a user's own config
    folder holds group options (docs/extending.md), which must pass the check below like shipped ones."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    dirs: list[Any] = []
    for override in overrides:
        if override.lstrip("+~").partition("=")[0] != "hydra.searchpath":
            continue
        entries = OverridesParser.create().parse_override(override.lstrip("+~")).value()
        for entry in entries if isinstance(entries, list) else [entries]:
            scheme, _, where = str(entry).rpartition("://")
            if scheme == "pkg":
                package, _, below = where.partition("/")
                dirs.append(importlib.resources.files(package).joinpath(below))
            else:
                dirs.append(Path(where).expanduser())
    return dirs


def _check_overrides(overrides: list[str], conf_dir: Path) -> None:
    folders = [conf_dir, *_search_dirs(overrides)]
    for override in overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if not sep or key not in _CHECKED_GROUPS:
            continue
        options = [p for f in folders if f.joinpath(key).is_dir() for p in f.joinpath(key).iterdir()]
        stems = {Path(p.name).stem for p in options if p.name.endswith((".yaml", ".yml"))}
        known = sorted(stems | set(task_files.registered(key)))
        hint = " (or a path to a task YAML, task=path/to/my_task.yaml)" if key == task_files.GROUP else ""
        for choice in value.split(","):  # a -m sweep lists several
            if choice and choice != "null" and choice not in known:
                raise PadaError(f"unknown {key} '{choice}'; choose one of: {', '.join(known)}{hint}")


_SWEEP_FLAGS = ("-m", "--multirun")


def _first_of_sweep(override: str) -> str:
    """``task=gsm8k,mbpp`` -> ``task=gsm8k``: one job of a -m sweep, to check the overrides compose."""
    key, sep, value = override.partition("=")
    if not sep or any(c in value for c in "[]{}()'\""):
        return override
    return f"{key}={value.split(',')[0]}"


def _key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0].split("@")[0]


def _check_composes(overrides: list[str], conf_dir: Path) -> None:
    """Compose the config as ``pada run`` will, so an unknown key or a malformed override is one line.

    Hydra's own report of these is several lines and exit 1. Runs with other Hydra flags (--cfg, --help,
    --info, -c) are left to Hydra."""
    flags = [o for o in overrides if o.startswith("-")]
    if any(f not in _SWEEP_FLAGS for f in flags):
        return
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from pada.errors import unknown_key_error
    from pada.validate import check_override_types, check_writable, known_top_level_keys

    plain = [o for o in overrides if not o.startswith("-")]
    known = known_top_level_keys(conf_dir)
    for override in plain:
        key = (
            override.lstrip("+~").partition("=")[0].split(".")[0].split("@")[0].split("/")[0]
        )  # hydra/launcher=…: the group hydra
        if key and key not in known:
            raise unknown_key_error(key, sorted(known))
    jobs = [_first_of_sweep(o) for o in plain] if flags else plain
    parser = OverridesParser.create()
    for job in jobs:
        try:
            parser.parse_override(job)
        except HydraException as error:
            raise PadaError(f"cannot parse the override {job!r} ({str(error).splitlines()[0]})") from error
    try:
        groups = {p.name for p in conf_dir.iterdir() if p.is_dir()}
        # group choices, not values (and the search path a user's own group options are found on)
        choices = [j for j in jobs if _key(j) in groups or "/" in _key(j) or _key(j) == "hydra.searchpath"]
        with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir), job_name="pada"):
            cfg = compose("config", overrides=jobs)
            reference = compose("config", overrides=choices)
        runs_dir = cfg.paths.runs_dir
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        absent = re.match(r"Could not override '([^']+)'", lines[0]) if lines else None
        if absent:  # Hydra's advice would be to append the key as spelt, typo included
            from pada.config_keys import absent_key_message

            value = next((j.partition("=")[2] for j in jobs if _key(j) == absent[1]), "...")
            raise PadaError(absent_key_message(absent[1], value)) from error
        raise PadaError("; ".join(lines) or type(error).__name__) from error
    # values of keys the config has (plain or ++, which also sets method.loop's defaults), not added keys
    replaced = [j for j in jobs if j.startswith("++") or not j.startswith(("+", "~"))]
    values = [_key(j) for j in replaced if j not in choices and "=" in j]
    check_override_types(cfg, reference, [k for k in values if not k.startswith("hydra")])
    # Hydra writes its logs under the runs dir before pada's code runs: a read-only one fails here first
    check_writable(Path(runs_dir).expanduser(), "runs dir")


VERBOSE_FLAGS = ("-v", "--verbose")  # `pada run -v ...` = run.verbose=true (third-party INFO lines too)


def _run(overrides: list[str]) -> int:
    from pada.run.app import CONF_DIR, hydra_main
    from pada.run.loop import loop_override

    if any(o in VERBOSE_FLAGS for o in overrides):
        # First, not last: argparse takes no positional override after an option (`--cfg job`).
        overrides = ["run.verbose=true", *(o for o in overrides if o not in VERBOSE_FLAGS)]
    overrides = task_files.register(overrides, CONF_DIR)  # task=path/to/my_task.yaml
    overrides = [o if o.startswith("-") else loop_override(o) for o in overrides]  # method.loop.* -> ++
    _check_overrides([o for o in overrides if not o.startswith("-")], CONF_DIR)
    _check_composes(overrides, CONF_DIR)
    sys.argv = ["pada run", *overrides]
    hydra_main()
    return 0


def _bench(args: list[str]) -> int:
    """Run experiments/bench/cpu.py (or gpu.py with a leading 'gpu') from a source checkout."""
    import subprocess

    bench_dir = Path(__file__).resolve().parents[1] / "experiments" / "bench"
    script = bench_dir / ("gpu.py" if args[:1] == ["gpu"] else "cpu.py")
    if not script.is_file():
        raise PadaError(f"{script} not found; `pada bench` runs from a source checkout (git clone the repo)")
    return subprocess.call([sys.executable, str(script), *args[args[:1] == ["gpu"] :]])


def _analyze(args: argparse.Namespace) -> int:
    from analysis.report import analyze

    written = analyze(args.runs_dir, args.out, args.wandb_project, args.resamples, args.seed)
    print(summary(written, args.out))
    return 0


def summary(written: dict[str, list[Path]], out: Path) -> str:
    """What `pada analyze` prints: the main table (plain text) and where every output is."""
    table = next((p for p in written.get("table2", []) if p.suffix == ".txt"), None)
    lines = [table.read_text().rstrip(), ""] if table else ["no finished cell: Table 2 is empty", ""]
    files = [p for name, paths in written.items() if name not in ("data", "plots") for p in paths]
    lines.append(f"written under {out}/: {_braced(files)}")
    folders = [
        f"{name}/ ({len(written[name])} files: {_braced(written[name], by='suffix')})"
        for name in ("plots", "data")
        if written.get(name)
    ]
    return "\n".join(lines + ([f"  and {'; '.join(folders)}"] if folders else []))


def _braced(paths: list[Path], by: str = "stem") -> str:
    """``[a.md, a.tex, b.csv]`` -> ``a.{md,tex}, b.csv``; ``by="suffix"``: ``png, pdf`` (many stems)."""
    if by == "suffix":
        return ", ".join(dict.fromkeys(p.suffix.lstrip(".") for p in paths))
    stems: dict[str, list[str]] = {}
    for path in paths:
        stems.setdefault(path.stem, []).append(path.suffix.lstrip("."))
    return ", ".join(f"{s}.{{{','.join(x)}}}" if len(x) > 1 else f"{s}.{x[0]}" for s, x in stems.items())


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
    check.add_argument(
        "task", help="a task name (conf/task/<name>.yaml) or a path to a task YAML; task=... works too"
    )
    check.add_argument(
        "--data-dir", help="folder with the original files (default: $PADA_DATA_DIR, else the Hub)"
    )
    run_code = sub.add_parser(
        "exec", help="run a solution against its tests in the sandbox; print a JSON verdict"
    )
    run_code.add_argument("solution", help="the Python file under test")
    run_code.add_argument("--tests", required=True, help="Python asserts run after the solution")
    run_code.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="CPU-time limit in seconds (default 10; the wall-clock backstop is 12 times that)",
    )


def _add_status(sub) -> None:
    cmd = sub.add_parser(
        "status", help="each cell of the latest SLURM sweep: done, running, failed, not started"
    )
    cmd.add_argument("runs_dir", type=Path, help="the runs dir (paths.runs_dir) the sweep wrote to")
    cmd.add_argument(
        "--sweep", type=Path, help="a sweep record (RUNS_DIR/_sweeps/*.json); default: the latest"
    )


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "status":
        from pada.run.status import main as status_main

        return status_main(args.runs_dir, args.sweep)
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
        "run",
        help="run one cell, or a sweep with -m (Hydra overrides; -v: third-party log lines too)",
        add_help=False,
    )
    sub.add_parser(
        "preflight", help="check a sweep's prerequisites and print its plan (Hydra overrides)", add_help=False
    )
    _add_data_and_exec(sub)
    _add_analyze(sub)
    _add_status(sub)
    sub.add_parser(
        "bench", help="CPU benchmarks; `pada bench gpu` for the GPU one (--help for options)", add_help=False
    )
    try:
        if argv[:1] == ["preflight"]:  # Hydra overrides, like run
            from pada.preflight import main as preflight_main

            return preflight_main(argv[1:])
        if argv[:1] == ["run"]:  # everything after 'run' belongs to Hydra
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            return _run(argv[1:])
        if argv[:1] == ["bench"]:  # everything after 'bench' belongs to the benchmark script
            return _bench(argv[1:])
        return _dispatch(parser.parse_args(argv))
    except PadaError as error:
        print(f"pada: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``pada <subcommand>``: run (one cell or a Hydra sweep); later: analyze, data, exec, preflight, bench."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from pada import task_files
from pada.errors import PadaError


def _key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0].split("@")[0]


def _check_composes(job: list[str], conf_dir: Path) -> None:
    """Compose ``job`` (one cell's overrides: the first job of a -m sweep) as ``pada run`` will, so an
    unknown key or a malformed override is one line. Hydra's own report of these is several lines and exit 1."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from pada.errors import unknown_key_error
    from pada.validate import check_override_types, check_writable, known_top_level_keys

    known = known_top_level_keys(conf_dir)
    for override in job:
        key = (
            override.lstrip("+~").partition("=")[0].split(".")[0].split("@")[0].split("/")[0]
        )  # hydra/launcher=…: the group hydra
        if key and key not in known:
            raise unknown_key_error(key, sorted(known))
    try:
        groups = {p.name for p in conf_dir.iterdir() if p.is_dir()}
        # group choices, not values (and the search path a user's own group options are found on)
        choices = [j for j in job if _key(j) in groups or "/" in _key(j) or _key(j) == "hydra.searchpath"]
        with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir), job_name="pada"):
            cfg = compose("config", overrides=job)
            reference = compose("config", overrides=choices)
        runs_dir = cfg.paths.runs_dir
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        absent = re.match(r"Could not override '([^']+)'", lines[0]) if lines else None
        if absent:  # Hydra's advice would be to append the key as spelt, typo included
            from pada.config_keys import absent_override_message

            def compose_rest(rest: list[str]):
                with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir), job_name="pada"):
                    return compose("config", overrides=rest)

            raise PadaError(absent_override_message(job, absent[1], compose_rest)) from error
        raise PadaError("; ".join(lines) or type(error).__name__) from error
    # values of keys the config has (plain or ++, which also sets method.loop's defaults), not added keys
    replaced = [j for j in job if j.startswith("++") or not j.startswith(("+", "~"))]
    values = [_key(j) for j in replaced if j not in choices and "=" in j]
    check_override_types(cfg, reference, [k for k in values if not k.startswith("hydra")])
    # Hydra writes its logs under the runs dir before pada's code runs: a read-only one fails here first
    check_writable(Path(runs_dir).expanduser(), "runs dir")


VERBOSE_FLAGS = ("-v", "--verbose")  # `pada run -v ...` = run.verbose=true (third-party INFO lines too)


def _run(overrides: list[str]) -> int:
    from pada.run import sweep
    from pada.run.app import CONF_DIR, hydra_main
    from pada.run.loop import loop_override

    if any(o in VERBOSE_FLAGS for o in overrides):
        # First, not last: argparse takes no positional override after an option (`--cfg job`).
        overrides = ["run.verbose=true", *(o for o in overrides if o not in VERBOSE_FLAGS)]
    overrides = task_files.register(overrides, CONF_DIR)  # task=path/to/my_task.yaml
    overrides = [o if o.startswith("-") else loop_override(o) for o in overrides]  # method.loop.* -> ++
    plain = [o for o in overrides if not o.startswith("-")]
    flags = [o for o in overrides if o.startswith("-")]
    others = [f for f in flags if f not in sweep.SWEEP_FLAGS]  # --cfg job, --help, -c: left to Hydra
    cells = [plain] if others else sweep.jobs(plain, CONF_DIR, multirun=bool(flags))
    sweep.check_group_choices(cells, CONF_DIR)
    if not others:
        _check_composes(cells[0], CONF_DIR)
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
    if args.sensitivity:
        written["sensitivity"] = _sensitivity(args)
    print(summary(written, args.out))
    return 0


def _sensitivity(args: argparse.Namespace) -> list[Path]:
    """``--sensitivity NAME=RUNS_DIR``: PaDA-Agent's lead over the control in the runs dir (condition
    "main") and in each named one (analysis/sensitivity.py)."""
    import numpy as np

    from analysis import sensitivity

    if args.runs_dir is None:
        raise PadaError("--sensitivity compares runs dirs: pass the main runs dir too")
    conditions = [("main", args.runs_dir), *map(sensitivity.parse_condition, args.sensitivity)]
    rng = np.random.default_rng(args.seed)
    return sensitivity.write(conditions, args.out, rng, args.resamples)


def summary(written: dict[str, list[Path]], out: Path) -> str:
    """What `pada analyze` prints: the main table (plain text) and where every output is."""
    table = next((p for p in written.get("table2", []) if p.suffix == ".txt"), None)
    lines = [table.read_text().rstrip(), ""] if table else ["no finished cell: Table 2 is empty", ""]
    shown = next((p for p in written.get("sensitivity", []) if p.suffix == ".txt"), None)
    lines += [shown.read_text().rstrip(), ""] if shown else []
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
    cmd.add_argument(
        "--sensitivity",
        action="append",
        metavar="NAME=RUNS_DIR",
        help="also PaDA-Agent's lead over the control in this runs dir (repeatable): sensitivity.{md,txt,csv}",
    )


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

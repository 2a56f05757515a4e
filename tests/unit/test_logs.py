"""`pada run`'s console: one line per event, no third-party banners by default, all of them with -v."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import warnings
from collections import Counter

import pytest

from pada import logs
from pada.cli import main

# Lines that only third-party libraries print: banners, tips, adverts and known deprecations.
BANNERS = (
    "GPU available",
    "TPU available",
    "litlogger",
    "Tip:",
    "LeafSpec",
    "`srun` command",
    "Running in WANDB offline mode",
    "HTTP Request:",
)
# Console prefixes: Hydra's "[time][logger][LEVEL] - ", pada's "[HH:MM:SS] " or "[HH:MM:SS] LEVEL logger: ",
# Lightning's own "LEVEL: ". The same event printed through two handlers differs only in this prefix.
PREFIX = re.compile(r"^(\[[^\]]*\]\[[^\]]*\]\[[A-Z]+\] - |\[\d\d:\d\d:\d\d\] ([A-Z]+ \S+: )?|[A-Z]+: )")


def _run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pada.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WANDB_MODE": "offline", **(env or {})},
    )


def test_default_console_has_one_line_per_event_and_no_banners(tiny_cell_overrides):
    """A real process (import order and Hydra's handlers are what duplicated Lightning's lines)."""
    overrides = [o for o in tiny_cell_overrides if not o.startswith("wandb.")] + ["trainer.max_steps=2"]
    proc = _run_cli(overrides)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    events = Counter(PREFIX.sub("", line) for line in lines)
    assert [e for e, n in events.items() if n > 1] == []
    assert [line for line in lines if any(b in line for b in BANNERS)] == []
    assert any("test accuracy" in line for line in lines) and any(
        line.startswith("results: ") for line in lines
    )


@pytest.fixture
def root_stream():
    """The root logger with one console handler, as Hydra's job logging sets it up."""
    root, stream = logging.getLogger(), io.StringIO()
    saved = root.handlers[:], root.level
    root.handlers[:] = [logging.StreamHandler(stream)]
    root.setLevel(logging.INFO)
    with warnings.catch_warnings():
        yield stream
        logging.captureWarnings(False)
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_warnings_and_errors_always_show_once(root_stream, capsys):
    logs.configure(verbose=False)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False")
    logging.getLogger("lightning.pytorch").warning("a real Lightning warning")
    logging.getLogger("httpx").info("HTTP Request: POST http://x 200 OK")
    logging.getLogger("pada.agent").info("pada iteration 0: detail")
    logging.getLogger("pada").error("a pada error")
    warnings.warn("an unexpected library warning", UserWarning, stacklevel=1)
    warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
    lines = [re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", line) for line in root_stream.getvalue().splitlines()]
    assert lines == [
        "WARNING lightning.pytorch: a real Lightning warning",
        "ERROR pada: a pada error",
        "WARNING py.warnings: UserWarning: an unexpected library warning (test_logs.py:"
        + lines[-1].rsplit(":", 1)[-1],
    ]
    assert capsys.readouterr().err == ""  # nothing through a library's own handler


def test_verbose_shows_third_party_info_once(root_stream, capsys):
    logs.configure(verbose=True)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False")
    logging.getLogger("pada.agent").info("pada iteration 0: detail")
    warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
    text = root_stream.getvalue()
    assert text.count("GPU available") == 1 and "pada iteration 0" in text and "LeafSpec" in text
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv", [["-v", "--cfg", "job"], ["-v", "experiment=sim", "--cfg", "job"]])
def test_dash_v_sets_run_verbose(capsys, argv):
    assert main(["run", *argv]) == 0  # an override before --cfg: -v's override must not land after it
    out = capsys.readouterr().out
    assert re.search(r"^  verbose: true$", out, re.M) and "progress: auto" in out


def test_printing_imports_are_muted():
    """transformers prints (not logs) a line on import when WANDB_MODE=offline; configure mutes it."""
    code = (
        "import logging, sys; logging.basicConfig(stream=sys.stdout); from pada import logs; "
        "logs.configure(); import transformers.integrations.integration_utils"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "WANDB_MODE": "offline"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WANDB offline" not in proc.stdout + proc.stderr


def test_console_format_is_short_for_pada_and_names_the_rest():
    formatter = logs.ConsoleFormatter()

    def line(name, level, message):
        return formatter.format(logging.LogRecord(name, level, __file__, 1, message, None, None))

    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] \[4/15\] cell ok", line("pada", logging.INFO, "[4/15] cell ok"))
    assert re.fullmatch(
        r"\[\d\d:\d\d:\d\d\] WARNING pada.teacher: slow", line("pada.teacher", logging.WARNING, "slow")
    )
    assert line("lightning.pytorch", logging.INFO, "x").endswith("] INFO lightning.pytorch: x")


def test_hydra_group_overrides_pass_the_key_check(tmp_path):
    """``hydra/job_logging=disabled`` (a Hydra config group, e.g. to silence the job log) is a known key."""
    from pada.cli import _check_composes
    from pada.run.app import CONF_DIR

    _check_composes(
        ["hydra/job_logging=disabled", "hydra/launcher=basic", f"paths.runs_dir={tmp_path}"], CONF_DIR
    )

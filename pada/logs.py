"""Console logging for ``pada run``: one line per event; third-party chatter only with ``-v``.

Hydra configures the root logger for each job (a console handler on stdout and a file handler in the job's
output dir). pada then, on every job (``configure``):

- removes the console handler Lightning adds to its own ``lightning`` logger, which also propagates to the
  root: without this every Lightning line is printed twice;
- sets third-party loggers (Lightning's banners and tips, HTTP clients, model loaders) to WARNING, or to
  INFO with ``run.verbose=true`` / ``pada run -v``;
- keeps pada's per-stage details (``DETAIL_LOGGERS``) in the job's log file but off the console;
- ignores the known, harmless third-party warnings in ``KNOWN_WARNINGS`` and prints every other warning
  as one log line (``logging.captureWarnings``), so it also lands in the job's log file.

Errors and warnings (WARNING and above, from any logger) always reach the console.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import sys
import warnings
from pathlib import Path

# Libraries whose INFO lines are banners, tips or per-request chatter; their warnings still show.
THIRD_PARTY_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning_fabric",
    "httpx",
    "httpx2",
    "httpcore",
    "openai",
    "anthropic",
    "botocore",
    "boto3",
    "urllib3",
    "filelock",
    "transformers",
    "sentence_transformers",
    "datasets",
    "huggingface_hub",
    "lm_eval",
    "vllm",
    "wandb",
    "matplotlib",
    "asyncio",
    "fsspec",
    "numexpr",
    "hydra_plugins",
    "submitit",
)
# Even with -v these stay at WARNING: their INFO dumps whole configs for every model load.
ALWAYS_QUIET = ("transformers", "datasets", "matplotlib", "asyncio", "fsspec")
# pada loggers whose INFO lines are per-stage detail: in the job's log file, on the console only with -v.
DETAIL_LOGGERS = ("pada.agent", "pada.teacher.requests")
# (category, message regex): third-party warnings that say nothing about this run; shown with -v.
KNOWN_WARNINGS = (
    # torch 2.13 deprecates LeafSpec; Lightning 2.6's _pytree still uses it (once per training)
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
    # Lightning sees srun on a SLURM host; pada starts one process per cell (submitit), not srun ranks
    (UserWarning, r"The `srun` command is available on your system but is not used"),
)
# Imports that print to stdout (not a logger) when they first run: imported early, with stdout muted.
_PRINTING_IMPORTS = (
    # transformers prints "[INFO] Running in WANDB offline mode" when WANDB_MODE=offline
    ("transformers.integrations.integration_utils", lambda: os.environ.get("WANDB_MODE") == "offline"),
)


class _ConsoleFilter(logging.Filter):
    """Drops pada's detail INFO lines from the console (the file handler still gets them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return not any(record.name == n or record.name.startswith(n + ".") for n in DETAIL_LOGGERS)


class ConsoleFormatter(logging.Formatter):
    """``[HH:MM:SS] message`` for pada's INFO lines; ``[HH:MM:SS] LEVEL logger: message`` for the rest.

    Set on the root's console handlers by ``use_console_format`` (not through ``hydra.job_logging``, so a
    ``hydra/job_logging=...`` override still works); the job's log file keeps Hydra's full format."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        mine = record.levelno == logging.INFO and record.name.split(".")[0] in ("pada", "hydra", "__main__")
        head = f"[{self.formatTime(record, self.datefmt)}]"
        text = (
            f"{head} {record.getMessage()}"
            if mine
            else f"{head} {record.levelname} {record.name}: {record.getMessage()}"
        )
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """``Category: message (file:line)`` on one line (the default adds the source line below)."""
    return f"{category.__name__}: {message} ({Path(filename).name}:{lineno})"


def _console_handlers() -> list[logging.Handler]:
    """The root's console handlers: plain ``logging.StreamHandler`` as Hydra's logging config builds them
    (subclasses are files, or pytest's capture, which keep their own format)."""
    return [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]


def use_console_format() -> None:
    """``ConsoleFormatter`` on every console handler of the root logger (Hydra's job or hydra logging)."""
    for handler in _console_handlers():
        handler.setFormatter(ConsoleFormatter())


def configure(verbose: bool = False) -> None:
    """Apply the rules above to the current process's logging. Idempotent; call after Hydra's setup.

    Args:
        verbose: third-party INFO lines, pada's detail lines and the known warnings are shown too.
    """
    with contextlib.suppress(ImportError):
        importlib.import_module("lightning")  # it adds its handler on import: import it before removing it
    if not verbose:
        _import_quietly()
    level = logging.INFO if verbose else logging.WARNING
    for name in THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True  # one line, through the root's handlers (console and the job's log file)
        logger.setLevel(logging.WARNING if name in ALWAYS_QUIET else level)
    use_console_format()
    for handler in _console_handlers():
        for old in [f for f in handler.filters if isinstance(f, _ConsoleFilter)]:
            handler.removeFilter(old)
        if not verbose:
            handler.addFilter(_ConsoleFilter())
    for category, pattern in KNOWN_WARNINGS:
        warnings.filterwarnings("default" if verbose else "ignore", message=pattern, category=category)
    warnings.formatwarning = _one_line_warning  # after Lightning's import, which installs its own
    logging.captureWarnings(False)  # re-capture: whoever replaced showwarning since (a test) is undone
    logging.captureWarnings(bool(logging.getLogger().handlers))  # no handlers: stderr as usual


def _import_quietly() -> None:
    for module, prints in _PRINTING_IMPORTS:
        if module in sys.modules or not prints():
            continue
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(ImportError):
            importlib.import_module(module)

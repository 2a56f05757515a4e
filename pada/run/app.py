"""The Hydra application behind ``pada run``: one call per cell (or per sweep job with ``-m``)."""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from pada.errors import PadaError
from pada.run.conf import CONF_DIR
from pada.validate import environment_message

# A fresh random id per composed config (use_cache: one value for all of a run's references), so two
# runs started in the same second get separate Hydra output dirs.
OmegaConf.register_new_resolver("pada_run_id", lambda: secrets.token_hex(4), use_cache=True, replace=True)
log = logging.getLogger("pada")


def _quiet_libraries(cfg: DictConfig) -> None:
    from transformers.utils import logging as hf_logging

    from pada import logs, progress

    hf_logging.disable_progress_bar()  # a bar per model load/save buries the per-cell progress lines
    logs.configure(verbose=bool(cfg.run.get("verbose", False)))  # after Hydra's per-job logging setup
    progress.configure(cfg.run.get("progress", "auto"))


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    from pada.run.runner import run_cell
    from pada.run.stages import StopRequested

    try:
        _quiet_libraries(cfg)
        results = run_cell(cfg)
    except StopRequested as stop:
        log.info("stopped after stage %s as requested (run.stop_after)", stop)
        return None
    except PadaError as error:
        print(f"pada: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # the running stage is not marked done; teacher answers so far are cached
        print(
            "pada: interrupted: the running stage is not marked done (teacher answers received so far are "
            "cached); the same command resumes",
            file=sys.stderr,
        )
        sys.exit(130)
    except OSError as error:  # a full disk, a read-only or forbidden folder: the machine's, not a bug
        message = environment_message(error)
        if message is None:
            raise
        print(f"pada: error: {message}", file=sys.stderr)
        sys.exit(2)
    if _in_sweep():  # pada.progress.SweepProgress logs the cell's line, with its place in the sweep
        from pada import progress

        progress.finished_cell(results["cell"]["name"])
        return results["metrics"]["test"]["accuracy"]
    from pada.progress import percent

    tag = " [SIMULATION]" if results["simulation"] else ""
    accuracy = percent(results["metrics"]["test"]["accuracy"])
    log.info("%s%s test accuracy %s", results["cell"]["name"], tag, accuracy)
    print(f"results: {Path(cfg.paths.runs_dir).resolve() / results['cell']['name'] / 'results.json'}")
    return results["metrics"]["test"]["accuracy"]  # a sweeper can optimise on it

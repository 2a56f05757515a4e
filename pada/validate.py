"""Checks of a whole cell configuration and its environment, run before any stage (nothing gets marked done).

Each failure is a ``PadaError`` naming the key, the bad value and what would be accepted: the CLI prints it
as one line ``pada: error: ...`` and exits 2 (docs/lifecycle.md, bad input).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pada.config_keys import check_read
from pada.display import display_of
from pada.errors import PadaError, unknown_key_error

_OPTIONAL_KEY = re.compile(r"oc\.select:([A-Za-z_][A-Za-z0-9_]*)")


def known_top_level_keys(conf_dir: Path) -> set[str]:
    """Keys a cell config may have at its top level: config.yaml's own and its groups', every experiment's
    top-level keys, and the optional keys read with ``${oc.select:key,...}`` anywhere under ``conf_dir``."""
    keys = {p.name for p in conf_dir.iterdir() if p.is_dir()} | {"hydra", "defaults"}
    for path in [conf_dir / "config.yaml", *sorted((conf_dir / "experiment").glob("*.yaml"))]:
        keys |= set(OmegaConf.load(path).keys()) if path.is_file() else set()
    for path in conf_dir.rglob("*.yaml"):
        keys |= set(_OPTIONAL_KEY.findall(path.read_text(encoding="utf-8")))
    return {str(k) for k in keys}


# Keys whose default is null but whose value, when set, is a number (null keeps meaning "not set")
NULLABLE_NUMBERS = {
    "trainer.max_steps": int,
    "trainer.peak_flops": float,
    "eval.max_new_tokens": int,
    "eval.lm_eval.limit": int,
    "task.limits.val": int,
    "task.limits.test": int,
    "task.sandbox.workers": int,
    "method.loop.early_stop_patience": int,
    "synthetic_budget": int,
    "synthetic_per_seed": float,
    "synthetic_per_iteration": int,
    "run.lock_timeout": float,
    "run.malloc_mmap_threshold_kib": int,
    "teacher.client.requests_per_minute": float,
    "teacher.client.tokens_per_minute": float,
}


# Bool keys that also take a word (checked again, with its meaning, where the key is read): run.eval_val's
# ``needed`` scores validation only where something reads it (pada.run.loop.scores_validation).
BOOL_WORDS = {"run.eval_val": ("needed",)}


def check_override_types(cfg: DictConfig, reference: DictConfig, keys: list[str]) -> None:
    """Each overridden key keeps the type of its default in ``reference`` (the config composed without
    value overrides): an int stays an int, a float any number, a bool a bool. Null defaults of known
    numeric keys (NULLABLE_NUMBERS) take null or that number. Raises PadaError naming the key and value."""
    for key in keys:
        try:
            value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
            default = OmegaConf.select(reference, key, default=None, throw_on_missing=False)
        except Exception:  # noqa: BLE001 - an interpolation that resolves only at run time: checked there
            continue
        if value is None:
            continue
        kind = NULLABLE_NUMBERS.get(key) if default is None else type(default)
        if kind is bool:
            ok = isinstance(value, bool) or value in BOOL_WORDS.get(key, ())
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            continue
        if not ok:
            expected = {bool: "true or false", int: "an integer", float: "a number"}[kind]
            if key in BOOL_WORDS:
                expected = f"true, false or {' or '.join(BOOL_WORDS[key])}"
            raise PadaError(
                f"{key}={value!r} must be {expected}"
                + (f" (the default is {default!r})" if default is not None else "")
            )


def _integer(cfg: DictConfig, key: str, minimum: int) -> None:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PadaError(f"{key}={value!r} must be an integer >= {minimum}")


def stage_names(iterations: int, lm_eval: bool) -> list[str]:
    """Every stage a cell with ``iterations`` augmentation rounds may run, in order."""
    names = ["seed"]
    for i in range(iterations + 1):
        names += [f"train_{i}", f"eval_{i}"] + ([f"augment_{i}"] if i < iterations else [])
    return [*names, "test", *(["lm_eval"] if lm_eval else [])]


def check_config(cfg: DictConfig, iterations: int, conf_dir: Path | None) -> None:
    """Types and choices of the keys a stage would otherwise trip over mid-run.

    ``iterations``: the method's augmentation rounds (for ``run.stop_after``); ``conf_dir``: the config
    folder, for unknown top-level keys (None skips that check). Raises PadaError on the first problem.
    """
    if conf_dir is not None:
        known = known_top_level_keys(conf_dir)
        for key in cfg:
            if str(key) not in known:
                raise unknown_key_error(str(key), sorted(known))
    _integer(cfg, "budget", 1)
    _integer(cfg, "seed", 0)
    display_of(cfg.method.name, cfg.method.get("display"))  # a bad row label fails now, not in `pada analyze`
    from pada.training.train import validate as validate_trainer

    validate_trainer(cfg.trainer)
    _check_wandb_project(cfg)
    lm_eval = OmegaConf.select(cfg, "eval.lm_eval")
    if lm_eval is not None and lm_eval.get("enabled"):
        from pada.inference.lm_eval_scores import check_pada_task_shots

        check_pada_task_shots(lm_eval, bool(OmegaConf.select(cfg, "task.fewshot.n", default=0)))
    stop = cfg.run.get("stop_after")
    names = stage_names(iterations, bool(OmegaConf.select(cfg, "eval.lm_eval.enabled")))
    if stop is not None and stop not in names:
        raise PadaError(
            f"run.stop_after={stop!r} is not a stage of this cell; choose one of: {', '.join(names)}"
        )
    if conf_dir is not None:  # last: the checks above name a key's own alternatives (display, trainer)
        check_read(OmegaConf.to_container(cfg, resolve=False))  # a key no code reads (a typo) is an error


def check_adapter(cfg: DictConfig, model_path: str | None) -> None:
    """``trainer.lora`` against what will use it, before any stage (pada/training/lora_check.py): vLLM's
    limits when evaluation (eval=vllm, or lm_eval with model=vllm) loads the adapter, and, given
    ``model_path``, the module names against the student's architecture (its config on the meta device, no
    weights). Nothing to check when the method does not train. Raises PadaError."""
    from pada.inference.base import backend_class
    from pada.inference.vllm_backend import VLLMBackend
    from pada.training.lora_check import check_lora_targets, check_vllm_adapter, meta_model

    if not cfg.method.get("train", True) or cfg.trainer.mode != "lora":
        return
    if issubclass(backend_class(cfg.eval), VLLMBackend):
        check_vllm_adapter(cfg.trainer, cfg.eval.max_lora_rank, "eval.max_lora_rank")
    lm_eval = OmegaConf.select(cfg, "eval.lm_eval")
    if lm_eval is not None and lm_eval.get("enabled") and lm_eval.get("model") == "vllm":
        check_vllm_adapter(cfg.trainer, lm_eval.max_lora_rank, "eval.lm_eval.max_lora_rank")
    if model_path is not None:
        check_lora_targets(cfg.trainer, meta_model(model_path, cfg.model.get("revision")))


WANDB_PROJECT_REFUSED = "/\\#?%:"  # wandb_settings.validate_project; an init that fails runs untracked


def _check_wandb_project(cfg: DictConfig) -> None:
    """A tracked cell's ``wandb.project`` must be a name wandb accepts, or every cell would run untracked
    (a warning each); the run id is made valid by pada.tracking.run_id, the project is the user's choice."""
    project = OmegaConf.select(cfg, "wandb.project")
    if OmegaConf.select(cfg, "wandb.mode") == "disabled" or not isinstance(project, str):
        return
    refused = sorted({c for c in project if c in WANDB_PROJECT_REFUSED})
    if refused or len(project) > 128:
        raise PadaError(
            f"wandb.project={project!r} is refused by wandb (no {' '.join(WANDB_PROJECT_REFUSED)}, at most "
            f"128 characters{'; it has ' + ' '.join(refused) if refused else ''}); choose another name"
        )


MIN_FREE_MB = 64  # below this a stage cannot write its outputs (a LoRA adapter of a 1B model is ~20-50 MB)


def check_writable(folder: Path, what: str, min_free_mb: int = MIN_FREE_MB) -> None:
    """``folder`` exists or can be made, a file can be written in it, and ``min_free_mb`` MiB are free."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise PadaError(
            f"{what} {folder} is not writable ({error.strerror}); choose a writable folder"
        ) from error
    free = shutil.disk_usage(folder).free // (1 << 20)
    if free < min_free_mb:
        raise PadaError(
            f"{what} {folder} has {free} MiB free, less than the {min_free_mb} MiB a cell needs; "
            "free space or choose another folder"
        )


# OS errors that come from the machine, not from pada: one line instead of a traceback (docs/lifecycle.md, bad input)
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EMFILE}


def environment_message(error: OSError) -> str | None:
    """The one-line message for an OSError caused by the environment (full disk, read-only, permissions)."""
    if error.errno not in ENVIRONMENT_ERRNOS:
        return None
    where = f": {error.filename}" if error.filename else ""
    return f"{error.strerror or os.strerror(error.errno)}{where}; nothing of the failed stage was marked done"

"""The checks of one cell's config: each returns its problem (one line saying what to fix) or None.

Values as ``pada run`` checks them, GPU, model in the local cache, data, method on task, teacher (every
route, probed with a real request: probe.py), LoRA adapter; the launcher and the disk once per sweep.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pada.errors import PadaError
from pada.preflight.probe import probe_teacher


def check_key(cfg: DictConfig) -> str:
    """``cfg`` without its seed, plus whether the seed is valid: what ``check_values`` depends on, so a
    seed sweep checks each distinct setting once."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    seed = tree.pop("seed", None)
    valid = isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0
    return json.dumps(tree, sort_keys=True, default=str) + ("" if valid else f" seed={seed!r}")


def check_values(cfg: DictConfig) -> str | None:
    """What ``pada run`` checks before any stage (pada/validate.py): types, choices, stage names, keys."""
    from pada.run.app import CONF_DIR
    from pada.run.loop import loop_config
    from pada.validate import check_config

    try:
        check_config(cfg, loop_config(cfg.method).iterations, CONF_DIR)
    except PadaError as error:
        return str(error)
    return None


def check_gpu(cfg: DictConfig) -> str | None:
    if not wants_gpu(cfg):
        return None
    import torch

    return (
        None
        if torch.cuda.is_available()
        else "no CUDA GPU visible here, but the config trains/evaluates on cuda"
    )


def wants_gpu(cfg: DictConfig) -> bool:
    return cfg.eval.get("device", "cpu") != "cpu" or cfg.trainer.accelerator in ("gpu", "cuda")


def check_model(cfg: DictConfig) -> str | None:
    from pada.models.loading import resolve_model_path

    if cfg.model.builder == "tiny":
        return None
    try:
        path = resolve_model_path(cfg.model, Path(cfg.paths.cache_dir))
    except PadaError as error:
        return str(error)
    if Path(path).is_dir():
        return None
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(path, "config.json", revision=cfg.model.get("revision")), str):
        return None
    return (
        f"model {path} is not in the local HF cache: run `huggingface-cli download {path}` on a node with "
        "network (gated: accept the licence and set HF_TOKEN) or set model.path to a local copy"
    )


def check_data(cfg: DictConfig) -> str | None:
    from pada.run.naming import data_dir
    from pada.tasks import build_task, sample_seed_set

    try:
        splits = build_task(cfg.task).load(data_dir(cfg))
        sample_seed_set(splits.pool, cfg.budget, cfg.seed)
    except PadaError as error:
        return f"task {cfg.task.name}: {error}"
    return None


def check_method(cfg: DictConfig) -> str | None:
    from pada.inference.base import backend_class
    from pada.methods.base import build_method, check_cell
    from pada.run.fairness import check_config
    from pada.run.loop import cell_loop, check_augments
    from pada.tasks import build_task

    try:
        loop = cell_loop(cfg)
        method = build_method(cfg.method)
        check_config(cfg, method)  # quotas, budget_match, match_steps, eval_val: as the runner will
        check_cell(build_task(cfg.task), method)
        check_augments(method, loop)
        backend_class(cfg.eval)
    except PadaError as error:
        return f"{cfg.method.name} on {cfg.task.name}: {error}"
    return None


def check_adapter(cfg: DictConfig) -> str | None:
    """``trainer.lora`` against vLLM's limits and the student's module names (pada.validate.check_adapter),
    from the model's config only; skipped for the names when the model is not here yet (check_model says
    so; a tiny model is built on first run, and the run checks it before any stage)."""
    from pada.validate import check_adapter

    if cfg.model.builder == "tiny":
        built = Path(cfg.paths.cache_dir).expanduser() / "models" / f"tiny-{cfg.model.variant}"
        path = str(built) if (built / "config.json").is_file() else None
    else:
        path = None if check_model(cfg) else str(cfg.model.path)
    try:
        check_adapter(cfg, path)
    except PadaError as error:
        return str(error)
    return None


def _routed(teacher_cfg: DictConfig) -> dict[str, DictConfig]:
    """Each teacher the config asks (``teacher.routes``): ``{"default": the teacher, <route>: its
    teacher}``, each without routes; PadaError for a malformed route (pada/teacher/routes.py)."""
    from pada.teacher.routes import resolve

    routed, _ = resolve(OmegaConf.to_container(teacher_cfg, resolve=True))
    return {name: OmegaConf.create(settings) for name, settings in routed.items()}


def check_teacher(cfg: DictConfig) -> str | None:
    """The first problem of the teacher, or of any route's teacher (``teacher.routes``): a malformed route,
    a missing key, an endpoint that does not answer the probe. Never falls back to the default teacher."""
    if cfg.teacher.provider == "none":
        return None
    from pada.teacher.providers import provider_class

    try:
        teachers = _routed(cfg.teacher)
        for teacher in teachers.values():
            provider_class(teacher).check_credentials(teacher)
    except PadaError as error:
        return f"teacher {cfg.teacher.provider}: {error}"
    for name, teacher in teachers.items():
        route = "" if name == "default" else f" (teacher.routes.{name})"
        if teacher.provider != "scripted" and (problem := probe_teacher(teacher, route)):
            return problem
    return None


def check_launcher(hydra_cfg: DictConfig) -> list[str]:
    """launcher=slurm: sbatch on PATH, the request fits a partition (sinfo), no signal of our own."""
    launcher = hydra_cfg.hydra.launcher
    if "SlurmLauncher" not in launcher.get("_target_", ""):
        return []
    if shutil.which("sbatch") is None:
        return ["launcher=slurm but `sbatch` is not on PATH: run from a SLURM login node, or LAUNCHER=local"]
    from pada.run.cluster import check_resources

    problems = check_resources(OmegaConf.to_container(launcher, resolve=True))
    if "signal" in (launcher.get("additional_parameters") or {}):
        problems.append(
            "hydra.launcher.additional_parameters.signal replaces submitit's USR2 handling (no "
            "requeue on timeout); remove it: signal_delay_s sets when the signal comes"
        )
    return problems


def check_disk(cfg: DictConfig, need_gb: float) -> str | None:
    path = Path(cfg.paths.runs_dir).expanduser().resolve()
    while not path.exists():
        path = path.parent
    free_gb = shutil.disk_usage(path).free / 1e9
    return (
        None
        if free_gb >= need_gb
        else f"{free_gb:.1f} GB free under {path}; the plan needs ~{need_gb:.0f} GB"
    )

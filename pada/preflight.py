"""``pada preflight [overrides]``: check a sweep's prerequisites and print its plan before submitting it.

Checks GPU, model access, data, teacher credentials, the launcher and disk for every distinct setting in the
sweep; prints the number of jobs and estimated GPU hours and teacher tokens/dollars (from the config's
``plan`` section: estimates, labelled as such). Any problem: the list of fixes and exit status 1.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel

from pada.config_keys import absent_override_message
from pada.errors import PadaError


def _compose(overrides: list[str], hydra: bool = False) -> DictConfig:
    """The composed config of one cell; composed once per distinct override list (``_compose_cells``)."""
    from pada.run.app import CONF_DIR

    key = (tuple(overrides), hydra)
    if key not in _COMPOSED:
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            _COMPOSED[key] = _composed(overrides, hydra)
    return _COMPOSED[key]


# One process, one sweep: every cell's config is composed once, shared by the checks, the plan and the
# per-stage call estimates (a 1,000-cell sweep composed each cell twice, at ~0.5 s a composition).
_COMPOSED: dict[tuple[tuple[str, ...], bool], DictConfig] = {}


def _composed(overrides: list[str], hydra: bool) -> DictConfig:
    """``compose`` inside an initialised Hydra; a misspelt key or an unknown option is one PadaError line."""
    try:
        return compose("config", overrides=overrides, return_hydra_config=hydra)
    except HydraException as error:
        first = str(error).splitlines()[0]
        absent = re.match(r"Could not override '([^']+)'", first)
        if absent:  # a misspelt key: the same line as `pada run` gives
            raise PadaError(absent_override_message(overrides, absent[1], _compose)) from error
        raise PadaError(f"config does not compose: {first}") from error


_SEED = re.compile(r"seed=(\d+)")


def _compose_cells(cells: list[list[str]]) -> list[DictConfig]:
    """Every cell's config, Hydra initialised once for all of them, and composed once per distinct setting:
    cells that differ only in ``seed=<n>`` share one composition, copied with their seed (a plain value:
    ``${seed}`` references resolve from it, as after Hydra's own override)."""
    from pada.run.app import CONF_DIR

    def setting(cell: list[str]) -> tuple[str, ...]:
        return tuple(o for o in cell if not _SEED.fullmatch(o))

    missing = list(dict.fromkeys(setting(c) for c in cells if (setting(c), False) not in _COMPOSED))
    if missing:
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            for key in missing:
                _COMPOSED[(key, False)] = _composed(list(key), False)
    composed = []
    for cell in cells:
        cfg = _COMPOSED[(setting(cell), False)]
        seeds = [int(m[1]) for o in cell if (m := _SEED.fullmatch(o))]
        if seeds:
            cfg = cfg.copy()
            cfg.seed = seeds[-1]
        composed.append(cfg)
    return composed


def _setting(cfg: DictConfig) -> str:
    """``cfg`` without its seed, plus whether the seed is valid: what ``_check_values`` depends on, so a
    seed sweep checks each distinct setting once."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    seed = tree.pop("seed", None)
    valid = isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0
    return json.dumps(tree, sort_keys=True, default=str) + ("" if valid else f" seed={seed!r}")


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """One override list per cell: the config's hydra.sweeper.params crossed with the CLI's sweeps, every
    form of Hydra's sweep syntax read by Hydra's parser (pada.run.sweep), as ``pada run -m`` reads them."""
    from pada.run import sweep
    from pada.run.conf import CONF_DIR

    given = sweep.axes(overrides, CONF_DIR)
    fixed = [values[0] for values in given if len(values) == 1]
    sweeper = _compose(fixed, hydra=True).hydra.sweeper.get("params") or {}
    keys = {o.partition("=")[0].lstrip("+~") for o in overrides}
    params = [f"{k}={v}" for k, v in sweeper.items() if k not in keys]
    cells = [list(cell) for cell in itertools.product(*given, *sweep.axes(params, CONF_DIR))]
    sweep.check_group_choices(cells, CONF_DIR)
    return cells


def _check_model(cfg: DictConfig) -> str | None:
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


def _check_data(cfg: DictConfig) -> str | None:
    from pada.run.runner import _data_dir
    from pada.tasks import build_task, sample_seed_set

    try:
        splits = build_task(cfg.task).load(_data_dir(cfg))
        sample_seed_set(splits.pool, cfg.budget, cfg.seed)
    except PadaError as error:
        return f"task {cfg.task.name}: {error}"
    return None


def _check_method(cfg: DictConfig) -> str | None:
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


def _check_values(cfg: DictConfig) -> str | None:
    """What ``pada run`` checks before any stage (pada/validate.py): types, choices, stage names, keys."""
    from pada.run.app import CONF_DIR
    from pada.run.loop import loop_config
    from pada.validate import check_config

    try:
        check_config(cfg, loop_config(cfg.method).iterations, CONF_DIR)
    except PadaError as error:
        return str(error)
    return None


def _check_adapter(cfg: DictConfig) -> str | None:
    """``trainer.lora`` against vLLM's limits and the student's module names (pada.validate.check_adapter),
    from the model's config only; skipped for the names when the model is not here yet (_check_model says
    so; a tiny model is built on first run, and the run checks it before any stage)."""
    from pada.validate import check_adapter

    if cfg.model.builder == "tiny":
        built = Path(cfg.paths.cache_dir).expanduser() / "models" / f"tiny-{cfg.model.variant}"
        path = str(built) if (built / "config.json").is_file() else None
    else:
        path = None if _check_model(cfg) else str(cfg.model.path)
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


def _check_teacher(cfg: DictConfig) -> str | None:
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


def probe_teacher(teacher_cfg: DictConfig, route: str = "") -> str | None:
    """Send one real request (a few tokens, one attempt, uncached) to the endpoint; the problem, or None.

    A wrong model name, a closed port or a refused key then shows before a sweep is submitted, not as a
    sweep of cells whose every teacher call failed. Under ``teacher.structured_output=native`` a second
    request carries a one-field schema in the provider's native form, so a server that refuses the field
    (llama-cpp-python's HTTP 500 on json_schema, a Bedrock model without tool use) shows here too.
    ``teacher_cfg``: one teacher without routes (``_check_teacher`` probes each route's); ``route`` names
    the route in the problem, e.g. `` (teacher.routes.analysis)``.
    """
    from pada.teacher import Teacher

    cfg = OmegaConf.merge(
        teacher_cfg,
        {"client": {"cache": {"mode": "off"}, "retry": {"max_attempts": 1}, "structured_reasks": 0}},
    )
    where = f"teacher {cfg.provider}{route} model {cfg.model}" + (
        f" at {cfg.base_url}" if cfg.get("base_url") else ""
    )
    try:
        with Teacher(cfg, None) as teacher:
            teacher.complete(
                "preflight", [{"role": "user", "content": "Reply with the word OK."}], max_tokens=8
            )
            if teacher.structured_output == "native":
                _probe_native(teacher)
    except Exception as error:  # noqa: BLE001 - any failure of the probe is the problem to report
        return f"{where}: the probe request failed: {error}"
    return served_model_problem(cfg, where)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def served_model_problem(cfg: Any, where: str) -> str | None:
    """A local OpenAI-compatible server serving one model that is not ``cfg.model``; None otherwise.

    llama-cpp-python's server answers any model name with the one model it serves, so a config naming another
    model would cache that server's answers under the wrong model. Checked for configs that speak its own
    structured-output form (``native_form: json_object_schema``) on loopback URLs only: `transformers serve`
    lists its HF cache, not what it serves (and refuses wrong names itself), and a remote gateway may list
    less than it serves."""
    import json
    import urllib.parse
    import urllib.request

    base = cfg.get("base_url") or ""
    llama_cpp = cfg.get("provider") == "openai" and cfg.get("native_form") == "json_object_schema"
    if not llama_cpp or urllib.parse.urlsplit(base).hostname not in LOOPBACK:
        return None
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/models", timeout=10) as answer:
            served = [m.get("id") for m in json.loads(answer.read()).get("data", [])]
    except (OSError, ValueError, AttributeError):
        return None  # no model list: nothing to compare
    if len(served) != 1 or served[0] == cfg.model:
        return None  # a multi-model server routes by name and refuses unknown ones itself
    return (
        f"{where}: the server serves only '{served[0]}', not '{cfg.model}' (a local llama.cpp server "
        f"answers any name with its own model, and the answers would be cached under '{cfg.model}'); serve "
        f"'{cfg.model}' or set teacher.model={served[0]}"
    )


class _Probe(BaseModel):
    ok: bool


def _probe_native(teacher: Any) -> None:
    """One request with a one-field schema in the native form: raises StructuredOutputRefused when the server
    refuses the field; an answer that does not parse is fine here (the field was taken)."""
    from pada.teacher import StructuredOutputError

    chat = [{"role": "user", "content": 'Reply with {"ok": true}.'}]
    with contextlib.suppress(StructuredOutputError):
        teacher.complete("preflight", chat, schema=_Probe, max_tokens=32)


def _wants_gpu(cfg: DictConfig) -> bool:
    return cfg.eval.get("device", "cpu") != "cpu" or cfg.trainer.accelerator in ("gpu", "cuda")


def _check_gpu(cfg: DictConfig) -> str | None:
    if not _wants_gpu(cfg):
        return None
    import torch

    return (
        None
        if torch.cuda.is_available()
        else "no CUDA GPU visible here, but the config trains/evaluates on cuda"
    )


def _check_launcher(hydra_cfg: DictConfig) -> list[str]:
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


def _check_disk(cfg: DictConfig, need_gb: float) -> str | None:
    path = Path(cfg.paths.runs_dir).expanduser().resolve()
    while not path.exists():
        path = path.parent
    free_gb = shutil.disk_usage(path).free / 1e9
    return (
        None
        if free_gb >= need_gb
        else f"{free_gb:.1f} GB free under {path}; the plan needs ~{need_gb:.0f} GB"
    )


NO_PLAN = "unknown (no plan section)"  # an estimate the config gives no number for is not 0


def _trainings(cfg: DictConfig) -> int:
    return 0 if cfg.method.get("train", True) is False else _rounds(cfg) + 1


def _gpu_hours(cfg: DictConfig) -> float | str:
    """GPU hours of one cell from ``plan.gpu_hours_per_round``, or why it is unknown."""
    hours = (cfg.get("plan") or {}).get("gpu_hours_per_round")
    cpu_only = not _wants_gpu(cfg) and cfg.model.get("builder") != "hf"  # the tiny or simulated student
    if _trainings(cfg) == 0 or cpu_only:
        return 0.0
    return NO_PLAN if hours is None else _trainings(cfg) * float(hours)


def _teacher_tokens(cfg: DictConfig) -> float | str:
    """Teacher tokens of one cell from ``plan.teacher_tokens_per_round[<method>]`` (scaled by the budget
    when ``plan.tokens_per_seeds`` is set), 0 without a teacher or rounds, else why it is unknown."""
    iterations = _rounds(cfg)
    if iterations == 0 or (cfg.get("teacher") or {}).get("provider", "none") == "none":
        return 0.0
    estimate = cfg.get("plan")
    per_round = (estimate or {}).get("teacher_tokens_per_round") or {}
    if cfg.method.name not in per_round:
        return (
            NO_PLAN
            if estimate is None
            else f"unknown (plan.teacher_tokens_per_round has no {cfg.method.name})"
        )
    tokens = float(per_round[cfg.method.name]) * iterations
    if estimate.get("tokens_per_seeds"):  # estimates given per N seeds scale with the cell's budget
        tokens *= cfg.budget / float(estimate.tokens_per_seeds)
    return tokens


def _dollars(cfg: DictConfig, tokens: float | str) -> float | str:
    """Dollars at the teacher's blended price; 0 for a free teacher even when its tokens are unknown."""
    price = cfg.teacher.get("pricing") or {}
    blended = (float(price.get("input_per_mtok", 0.0)) + float(price.get("output_per_mtok", 0.0))) / 2
    if blended == 0 or isinstance(tokens, str):
        return 0.0 if blended == 0 else tokens
    return tokens / 1e6 * blended


def _total(values: list[float | str], digits: int | None) -> float | int | str:
    """The sum, or the first reason a value is unknown (a partial sum would read as the whole)."""
    unknown = [v for v in values if isinstance(v, str)]
    if unknown:
        return unknown[0]
    return int(sum(values)) if digits is None else round(sum(values), digits)


def plan(cells: list[DictConfig]) -> dict[str, Any]:
    """Jobs, GPU hours and teacher tokens/dollars from each cell's ``plan`` section (estimates; a string
    saying why when a cell that trains or calls the teacher has no number there), and the teacher calls of
    all cells' augment stages (``expected_calls``: an upper bound)."""
    hours = [_gpu_hours(cfg) for cfg in cells]
    tokens = [_teacher_tokens(cfg) for cfg in cells]
    dollars = [_dollars(cfg, t) for cfg, t in zip(cells, tokens, strict=True)]
    calls = sum(sum(sum(c.values()) for c in _calls_or_none(cfg).values()) for cfg in cells)
    return {
        "jobs": len(cells),
        "gpu_hours_estimate": _total(hours, 1),
        "teacher_calls_at_most": calls,
        "teacher_tokens_estimate": _total(tokens, None),
        "teacher_dollars_estimate": _total(dollars, 2),
    }


def _rounds(cfg: DictConfig) -> int:
    """The cell's augmentation rounds, or 0 for a broken ``method.loop`` (its own check reports why)."""
    from pada.run.loop import loop_config

    try:
        return loop_config(cfg.method).iterations
    except PadaError:
        return 0


def _calls_or_none(cfg: DictConfig) -> dict[str, dict[str, int]]:
    """``expected_calls``, or ``{}`` for a config too broken to estimate (its own check reports why)."""
    try:
        return expected_calls(cfg)
    except (PadaError, KeyError, AttributeError, TypeError, ValueError):
        return {}


def _asked(own: int, quota: Any) -> int:
    """Examples a round asks for: the method's own number, else the quota's target (budget_match) or
    limit (as baselines.common.allowance does)."""
    cap = quota.target if quota.target is not None else quota.limit
    if quota.target is not None:
        return quota.target
    return own if cap is None else min(own, cap)


def _stage_calls(
    cfg: DictConfig, name: str, added: int, quota: Any, verifies: bool
) -> tuple[dict[str, int], int]:
    """Teacher calls by role for one augment stage of method ``name`` (upper bounds where the number
    depends on the student's errors: every seed wrong, every validation item failed), and the most
    examples the stage can add (the training set of later rounds grows by it)."""
    m, seeds = cfg.method, int(cfg.budget)
    if name == "auggpt":  # k paraphrases per seed (baselines/auggpt.py), then one re-solve per paraphrase
        n = _asked(int(m.k) * seeds, quota)
        return {"paraphrase": n, **({"verification": n} if verifies else {})}, n
    if (
        name == "llm2llm"
    ):  # per unfilled wrong seed, attempt a asks min(need + a, 10) samples (one if numbered)
        pool = seeds + (0 if m.get("seeds_only", True) else added)
        asked = _asked(int(m.per_seed) * pool, quota)
        numbered = m.get("response_format") == "numbered"
        need = max(1, -(-asked // pool)) if pool else 1
        per_seed = sum(1 if numbered else min(need + a, 10) for a in range(int(m.max_attempts)))
        calls = {"generation": min(pool, asked) * per_seed}
        return {**calls, **({"verification": asked} if m.get("verify") else {})}, asked
    if name == "llms_as_instructors":  # one analysis per training error, per_error problems each
        errors = seeds + (0 if m.get("seeds_only") else added)
        n = _asked(int(m.per_error) * errors, quota)
        return {"error_analysis": errors, "generation": n}, n
    # PaDA-Agent (pada/agent/method.py): analyses of validation failures, a summary and a strategy per
    # pattern, then generation with QC re-asks (1 + max_regenerations per slot), a verification each
    val = cfg.task.get("val_size") or (cfg.task.get("limits") or {}).get("val") or int(m.max_analyses)
    analyses = min(int(m.max_analyses), int(val)) if m.get("use_validation", True) else 0
    clusters = _patterns(m.patterns, analyses)
    wrong = seeds if m.get("use_train_errors", True) else 0
    own = int(m.generation.strategy_examples) * bool(analyses) + int(m.generation.per_wrong_seed) * wrong
    n = _asked(own, quota)
    tries = n * (1 + int(m.qc.max_regenerations) if m.qc.enabled else 1)
    calls = {
        "error_analysis": analyses,
        "pattern_summary": clusters,
        "strategy": clusters,
        "generation": tries,
    }
    if m.qc.enabled and m.qc.verify and verifies:
        calls["verification"] = tries
    if m.qc.enabled and (m.qc.get("judge") or {}).get("enabled"):
        calls["judge"] = tries
    return calls, n


def _patterns(patterns: DictConfig, analyses: int) -> int:
    """The most patterns PaDA-Agent can find in ``analyses`` failures (pada/agent/clustering.py): one per
    failure (per_failure), one (single), k (fixed_k), else the elbow's k_min..k_max with K <= n /
    min_per_cluster."""
    if not analyses:
        return 0
    grouping = patterns.grouping
    if grouping == "per_failure":
        return analyses
    if grouping == "single":
        return 1
    if grouping == "fixed_k":
        return min(int(patterns.k), analyses)
    return min(int(patterns.k_max), max(int(patterns.k_min), analyses // int(patterns.min_per_cluster)))


def expected_calls(cfg: DictConfig) -> dict[str, dict[str, int]]:
    """Teacher calls per augment stage of one cell, by role: ``{"augment_0": {"paraphrase": 300, ...}}``.

    From the method's config and the cell's quotas (synthetic_budget / synthetic_per_iteration /
    budget_match, pada/run/fairness.py quota_for, assuming every earlier round added all it asked for).
    Upper bounds: cached answers cost nothing, and a method asks less when the student makes fewer errors.
    ``{}`` for a method without a teacher; methods unknown here are left out (no guess)."""
    from pada.run.fairness import quota_for
    from pada.run.loop import loop_config
    from pada.tasks import build_task
    from pada.tasks.synthetic import synthetic_format

    name, iterations = cfg.method.name, loop_config(cfg.method).iterations
    base = name.split("_")[0] if name.startswith("pada") else name
    if base not in ("auggpt", "llm2llm", "llms_as_instructors", "pada"):
        return {}
    verifies = synthetic_format(build_task(cfg.task)).verify_by_teacher
    stages, added = {}, 0
    for i in range(iterations):
        quota = quota_for(cfg, i, iterations, added)
        stages[f"augment_{i}"], n = _stage_calls(cfg, base, added, quota, verifies)
        added += n
    return stages


def preflight(overrides: list[str]) -> tuple[list[str], dict[str, Any]]:
    cell_overrides = expand_sweep(overrides)
    cells = _compose_cells(cell_overrides)
    problems: list[str] = []
    seen: set[str] = set()
    checks = [
        (_check_values, _setting),
        (_check_gpu, lambda c: "gpu"),
        (_check_model, lambda c: OmegaConf.to_yaml(c.model)),
        (_check_data, lambda c: f"{c.task.name}-{c.budget}"),
        (_check_method, lambda c: OmegaConf.to_yaml(c.task) + OmegaConf.to_yaml(c.method)),
        (_check_teacher, lambda c: OmegaConf.to_yaml(c.teacher)),
        (
            _check_adapter,
            lambda c: OmegaConf.to_yaml({k: c[k] for k in ("model", "trainer", "eval", "method")}),
        ),
    ]
    for cfg in cells:
        for check, key in checks:
            marker = f"{check.__name__}:{key(cfg)}"
            if marker not in seen:
                seen.add(marker)
                if problem := check(cfg):
                    problems.append(problem)
                    if check is _check_values:  # the other checks would trip over the same bad value
                        break
    first = cells[0]
    problems += _check_launcher(_compose(cell_overrides[0], hydra=True))
    if problem := _check_disk(first, float((first.get("plan") or {}).get("disk_gb", 1.0))):
        problems.append(problem)
    return list(dict.fromkeys(problems)), plan(cells)  # one line per distinct problem


def calls_lines(overrides: list[str]) -> list[str]:
    """One line per distinct (method, task, budget, quotas) of the sweep: its expected teacher calls per
    augment stage (``expected_calls``), e.g. ``auggpt on gsm8k budget=100: augment_0 <= 600 (paraphrase
    300 + verification 300)``."""
    lines, seen = [], set()
    for cfg in _compose_cells(expand_sweep(overrides)):
        quotas = [
            f"{k}={cfg.get(k)}"
            for k in ("synthetic_budget", "synthetic_per_iteration")
            if cfg.get(k) is not None
        ]
        head = " ".join([f"{cfg.method.name} on {cfg.task.name} budget={cfg.budget}", *quotas])
        if head in seen:
            continue
        seen.add(head)
        stages = _calls_or_none(cfg)
        if not stages:
            continue
        parts = [
            f"{n} <= {sum(c.values())} ({' + '.join(f'{r} {v}' for r, v in c.items() if v)})"
            for n, c in stages.items()
        ]
        lines.append(f"  teacher calls (estimate, at most) {head}: " + "; ".join(parts))
    return lines


def main(overrides: list[str]) -> int:
    from pada.run.app import CONF_DIR
    from pada.run.loop import loop_override
    from pada.task_files import register

    overrides = register(overrides, CONF_DIR)  # task=path/to/my_task.yaml, as `pada run`
    overrides = [o if o.startswith("-") else loop_override(o) for o in overrides]  # method.loop.* -> ++
    problems, summary = preflight(overrides)
    print("plan (estimates): " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    for line in calls_lines(overrides):
        print(line)
    if problems:
        print(f"preflight: {len(problems)} problem(s); fix these before submitting (nothing was submitted):")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("preflight: ok")
    return 0

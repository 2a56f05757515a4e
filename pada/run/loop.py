"""The loop settings of a cell: one config node, ``method.loop``, read by the runner alone.

Every method's YAML sets ``loop.iterations`` (there is no default: a method without it used to run zero
rounds silently); ``select`` and ``early_stop_patience`` have the defaults declared once here. The runner
enforces them identically for every method: how many augment rounds run, when the loop stops early and
which iteration's checkpoint is tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pada.errors import PadaError, unknown_key_error
from pada.types import Example

SELECTIONS = ("last", "best_val")
NEEDED = "needed"  # run.eval_val's third value: score validation only where something reads it
# Keys that lived directly under ``method`` before the loop node: a user YAML or an old override naming
# one gets one error line naming the new key, never a silently ignored value.
MOVED_KEYS = {
    f"method.{key}": f"method.loop.{key}" for key in ("iterations", "select", "early_stop_patience")
}


@dataclass(frozen=True)
class LoopConfig:
    """``method.loop``: ``iterations`` augmentation rounds (the student is trained ``iterations + 1``
    times), which checkpoint is tested, and the early stop."""

    iterations: int  # no default: every method YAML says how many rounds it runs (0: never augments)
    select: str = "last"  # the paper tests the final model; best_val peeks at validation to pick one
    early_stop_patience: int | None = None  # None runs every round, so methods are compared at equal rounds


LOOP_KEYS = tuple(f.name for f in fields(LoopConfig))


def loop_config(method_cfg: Any) -> LoopConfig:
    """The validated ``method.loop`` of a method config node (a DictConfig or a dict).

    Raises PadaError (one line) for a key moved into the loop node, a missing ``loop.iterations``, an
    unknown key inside ``loop`` (with a did-you-mean), or a value of the wrong type or range."""
    name = method_cfg.get("name", "?")
    for old, new in MOVED_KEYS.items():
        if old.split(".", 1)[1] in method_cfg:
            raise PadaError(f"method {name}: {old} moved to {new}; write it under loop: in the method YAML")
    loop = method_cfg.get("loop") or {}
    for key in loop:
        if str(key) not in LOOP_KEYS:
            raise unknown_key_error(str(key), LOOP_KEYS, prefix="method.loop.")
    if "iterations" not in loop:
        raise PadaError(
            f"method {name}: set loop.iterations in its YAML (augmentation rounds; 0 for a method that "
            "never adds training items, as sft)"
        )
    return _checked(LoopConfig(**{str(k): v for k, v in loop.items()}))


def cell_loop(cfg: Any) -> LoopConfig:
    """``loop_config`` of a whole cell config, plus what needs the rest of it: best_val needs validation
    scores, so with run.eval_val=false it would fail after the last training instead of before the first
    (``needed`` scores every round under best_val: ``scores_validation``)."""
    loop, eval_val = loop_config(cfg.method), eval_val_setting(cfg)  # a bad eval_val fails here too
    if loop.select == "best_val" and eval_val is False:
        raise PadaError(
            "method.loop.select=best_val needs run.eval_val=true (validation scores pick the round)"
        )
    return loop


def loop_override(override: str) -> str:
    """A command-line override as Hydra should get it: ``method.loop.<key>=v`` becomes
    ``++method.loop.<key>=v`` (add or override), since a method YAML sets only ``loop.iterations`` and the
    other keys default here. Raises PadaError for a moved key (naming the new one) or an unknown loop key."""
    key = override.lstrip("+~").partition("=")[0]
    if key in MOVED_KEYS:
        raise PadaError(f"{key} moved to {MOVED_KEYS[key]}; write {MOVED_KEYS[key]}=... instead")
    if not key.startswith("method.loop."):
        return override
    leaf = key.removeprefix("method.loop.")
    if leaf not in LOOP_KEYS:
        raise unknown_key_error(leaf, LOOP_KEYS, prefix="method.loop.")
    return override if override.startswith(("+", "~")) else f"++{override}"


def with_defaults(loop: dict[str, Any]) -> dict[str, Any]:
    """``method.loop`` as a plain dict with every default filled in: the cell identity uses it, so writing
    a default out (``select: last``) names the same cell as leaving it out."""
    defaults = {f.name: f.default for f in fields(LoopConfig) if f.name != "iterations"}
    return {**defaults, **loop}


def _checked(loop: LoopConfig) -> LoopConfig:
    if isinstance(loop.iterations, bool) or not isinstance(loop.iterations, int) or loop.iterations < 0:
        raise PadaError(f"method.loop.iterations={loop.iterations!r} must be an integer >= 0")
    if loop.select not in SELECTIONS:
        raise PadaError(f"method.loop.select={loop.select!r}; choose one of: {', '.join(SELECTIONS)}")
    patience = loop.early_stop_patience
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise PadaError(f"method.loop.early_stop_patience={patience!r} must be null or an integer >= 1")
    return loop


def check_augments(method: Any, loop: LoopConfig) -> None:
    """A method that augments (adds training items) must run at least one round: zero would be a silent
    no-op that reports the seed-only score under the method's name. ``method.augments`` None means
    ``method.needs_teacher``."""
    augments = method.augments if method.augments is not None else method.needs_teacher
    if augments and loop.iterations < 1:
        name = method.cfg.get("name", type(method).__name__)
        raise PadaError(
            f"method {name} augments (it adds training items) but method.loop.iterations="
            f"{loop.iterations}: it would never run; set loop.iterations>=1 (method=sft trains on the "
            "seed set alone)"
        )


def stalled(iterations: list[dict[str, Any]], patience: int | None) -> bool:
    """Early stop: validation accuracy has not beaten its earlier best for ``patience`` iterations
    (``iterations``: the per-iteration rows of results.json, each with ``val_accuracy``)."""
    scores = [row.get("val_accuracy") for row in iterations]
    if not patience or None in scores or len(scores) <= patience:
        return False
    return max(scores[-patience:]) <= max(scores[:-patience])


def selected(iterations: list[dict[str, Any]], how: str) -> int:
    """The index of the iteration whose checkpoint is tested: the last, or the best on validation
    (earliest on ties). Raises PadaError for best_val without validation scores."""
    if how == "last":
        return len(iterations) - 1
    scores = [row.get("val_accuracy") for row in iterations]
    if how != "best_val" or None in scores:
        raise PadaError(f"method.loop.select={how!r} needs last, or best_val with run.eval_val=true")
    return scores.index(max(scores))


def eval_val_setting(cfg: Any) -> bool | str:
    """``run.eval_val``: true, false or ``needed`` (default true); any other value is a PadaError (one line)."""
    value = cfg.run.get("eval_val", True)
    if isinstance(value, bool) or value == NEEDED:
        return value
    raise PadaError(f"run.eval_val={value!r} must be true, false or {NEEDED}")


def scores_validation(i: int, loop: LoopConfig, method: Any, eval_val: bool | str) -> bool:
    """Whether round ``i``'s eval stage (``eval_<i>``, of rounds 0..``loop.iterations``) scores validation.

    ``eval_val`` true: every round (per-iteration curves); false: none. ``needed``: only the rounds whose
    validation records something reads, since each validation item costs a generation (~0.8 CPU s on a real
    CPU cell) and skipping what nothing reads cannot change a result:

    * every round under ``loop.select=best_val`` (``selected`` compares every round's ``val_accuracy``);
    * every round followed by a possible augment round (``i < iterations``) under
      ``loop.early_stop_patience`` (``stalled`` reads the scores so far before each augment round);
    * a round followed by an augment round (``i < iterations``) when ``method.needs_val_eval``: the
      augment stage hands the method its validation failures (``fairness.failures``);
    * a round next to an augment round when ``method.scores_reports_on_validation``: the runner hands
      ``method.after_next_eval`` the validation records of the round before the augment round (``i <
      iterations``) and of the round after it (``i >= 1``).

    Everything else is scored by nobody: an SFT or AugGPT cell, the sft_val control (it trains on those
    items), and every method's last round unless one of the above reads it.
    """
    if eval_val != NEEDED:
        return bool(eval_val)
    before_augment = i < loop.iterations
    if loop.select == "best_val":
        return True
    if loop.early_stop_patience is not None and before_augment:
        return True
    if method.needs_val_eval and before_augment:
        return True
    return bool(method.scores_reports_on_validation and (before_augment or i >= 1))


@dataclass
class LoopState:
    """What one round of the loop hands the next: the data, the stage keys and the rows so far."""

    seed_data: list[Example]
    train_data: list[Example]  # seeds (plus validation for sft_val) plus everything added so far
    upstream: str  # key of the stage the next training depends on (seed, then each augment)
    previous: Path | None = None  # the last training's dir, with trainer.init_from=previous
    augment: Any = None  # the previous augment stage: scored by the method once the next eval is done
    rows: list[dict[str, Any]] = field(default_factory=list)  # results.json "iterations"
    trained: list[tuple[str, Path | None, Any]] = field(default_factory=list)  # (train key, adapter, eval)

"""Which methods are rows of which table, in what order and under what label: each method's ``display``
node (pada/display.py), never a list in code, so a new method appears in the tables with no code edit.

Where a display comes from: each finished cell's saved config (results.json ``provenance.config``), else
the shipped YAML of that name (conf/method/, for cells run before ``display`` existed and for the Table 2
caption's list of methods not run), else none: the method is then shown by its name and compared like a
baseline, never dropped.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pada.display import Display, display_of
from pada.errors import PadaError

CONF_METHODS = Path(__file__).resolve().parents[1] / "conf" / "method"
# Table 2 order by role: baselines, then controls, then methods without a display, then ours (last).
RANK = {"baseline": 0, "control": 1, None: 2, "ablation": 2, "ours": 3}


def base_name(key: str) -> str:
    """``sft [trainer.max_steps=5]`` -> ``sft``: a configuration row names its method first."""
    return key.partition(" [")[0]


@functools.cache
def shipped(conf_dir: Path = CONF_METHODS) -> dict[str, Display]:
    """The display of every method YAML in ``conf_dir`` that has one (an ablation's merged over the
    parents it names in ``defaults``, as Hydra composes it)."""
    out = {}
    for path in sorted(conf_dir.glob("*.yaml")):
        node = _composed(conf_dir, path.stem)
        if node.get("display") is not None:
            name = str(node.get("name", path.stem))
            out[name] = display_of(name, OmegaConf.to_container(node.display, resolve=False))
    return out


def _composed(conf_dir: Path, stem: str) -> DictConfig:
    own = OmegaConf.load(conf_dir / f"{stem}.yaml")
    parents = [d for d in own.get("defaults", []) if isinstance(d, str) and d != "_self_"]
    merged = [_composed(conf_dir, p) for p in parents if (conf_dir / f"{p}.yaml").is_file()]
    return OmegaConf.merge(*merged, own) if merged else own


@functools.cache
def shipped_untrained(conf_dir: Path = CONF_METHODS) -> frozenset[str]:
    """Shipped methods whose YAML says ``train: false`` (the base model): scored without training."""
    return frozenset(
        str(_composed(conf_dir, p.stem).get("name", p.stem))
        for p in sorted(conf_dir.glob("*.yaml"))
        if _composed(conf_dir, p.stem).get("train", True) is False
    )


def untrained(results: dict[str, Any]) -> str | None:
    """The method name of a finished cell whose saved config says ``method.train: false``, else None."""
    method = ((results.get("provenance") or {}).get("config") or {}).get("method") or {}
    return str(method["name"]) if isinstance(method, dict) and method.get("train", True) is False else None


def from_results(results: dict[str, Any]) -> tuple[str, Display] | None:
    """(method name, display) from a finished cell's saved config; None when it saved none."""
    method = ((results.get("provenance") or {}).get("config") or {}).get("method") or {}
    if not isinstance(method, dict) or "name" not in method or method.get("display") is None:
        return None
    return str(method["name"]), display_of(str(method["name"]), method["display"])


def merged(from_runs: dict[str, Display]) -> dict[str, Display]:
    """The displays the tables use: the runs' own over the shipped ones."""
    return {**shipped(), **from_runs}


def display(displays: dict[str, Display], key: str) -> Display:
    return displays.get(base_name(key)) or Display(label=base_name(key))


def focus_of(displays: dict[str, Display], found: set[str]) -> str | None:
    """The method every † claim is about: the one with role ours among the runs, else among the shipped
    YAMLs (its row is then shown empty); None when there is none. Two in the runs is a PadaError."""
    ours = sorted({base_name(m) for m in found if display(displays, m).role == "ours"})
    if not ours:
        ours = sorted(n for n, d in displays.items() if d.role == "ours")
    if len(ours) > 1:
        raise PadaError(
            f"display.role=ours on several methods ({', '.join(ours)}); one method is 'ours' "
            "(set the others' display.role to baseline)"
        )
    return ours[0] if ours else None


def _sort_key(displays: dict[str, Display], name: str) -> tuple[int, float, str]:
    shown = display(displays, name)
    order = shown.order if shown.order is not None else math.inf
    return RANK.get(shown.role, 2), order, name


def table2_methods(displays: dict[str, Display], found: set[str], focus: str | None) -> list[str]:
    """Table 2's rows: the methods the runs hold (baselines, controls, methods without a display, ablations
    of another method; never the focus's own ablations, which have their table), the focus last. A method
    no run holds is not a row (an empty row reads as a result): ``not_run`` names it for the caption."""
    ran = {base_name(m) for m in found if not _own_ablation(displays, base_name(m), focus)}
    ordered = sorted(ran - {focus}, key=lambda n: _sort_key(displays, n))
    return ordered + ([focus] if focus in ran else [])


def not_run(displays: dict[str, Display], found: set[str], focus: str | None) -> list[str]:
    """The shipped baselines and the focus that no run holds, in table order: Table 2's caption names them
    (a sweep that leaves out LLMs-as-Instructors says so, without an empty row)."""
    ran = {base_name(m) for m in found}
    expected = {n for n, d in displays.items() if d.role == "baseline"} | ({focus} if focus else set())
    return sorted(expected - ran, key=lambda n: _sort_key(displays, n))


def _own_ablation(displays: dict[str, Display], name: str, focus: str | None) -> bool:
    shown = display(displays, name)
    return shown.role == "ablation" and shown.parent == focus


def ablation_methods(displays: dict[str, Display], found: set[str], focus: str | None) -> list[str]:
    """The ablation table's rows: the focus, then its ablations the runs hold (by order, then name)."""
    names = {base_name(m) for m in found}
    ablations = sorted(
        (n for n in names if _own_ablation(displays, n, focus)), key=lambda n: _sort_key(displays, n)
    )
    return [focus, *ablations] if focus else []


def label(displays: dict[str, Display], key: str) -> str:
    """A row's printed name; a configuration row keeps its differing keys: ``SFT [trainer.max_steps=5]``."""
    _, bracket, rest = key.partition(" [")
    return display(displays, key).label + (f" [{rest}" if bracket else "")

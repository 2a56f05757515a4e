"""How a method appears in the analysis tables: the ``display`` node of its YAML (conf/method/).

``display`` never determines a cell's output, so it is not part of the cell identity
(pada/run/identity.py): relabelling a method reruns nothing. The analysis (analysis/rows.py) reads it
from each finished cell's saved config, falling back to the shipped YAMLs for cells that lack it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pada.errors import PadaError, unknown_key_error

# ours: the method every † claim is about (one per analysis); baseline: a Table 2 row it must beat;
# control: a Table 2 row it is compared with, shown only when run (sft_val); ablation: a row of the
# ablation table, compared with its ``parent``.
ROLES = ("ours", "baseline", "control", "ablation")


@dataclass(frozen=True)
class Display:
    """``label``: the row name printed in the tables; ``role``: one of ROLES (None: a method without a
    display node, shown by its name and compared like a baseline); ``parent``: for an ablation, the
    method it is compared with; ``order``: rows sort by role, then order (None last), then name."""

    label: str
    role: str | None = None
    parent: str | None = None
    order: int | None = None


FIELDS = tuple(f.name for f in fields(Display))


def display_of(name: str, node: Any) -> Display:
    """The validated display of method ``name`` from its ``display`` node (a mapping or None).

    Raises PadaError (one line) for an unknown key (with a did-you-mean), an unknown role, an ablation
    without a parent, or an order that is not an integer."""
    if node is None:
        return Display(label=name)
    for key in node:
        if str(key) not in FIELDS:
            raise unknown_key_error(str(key), FIELDS, prefix="method.display.", note=f" (method {name})")
    display = Display(**{"label": name, **{str(k): v for k, v in dict(node).items()}})
    if display.role is not None and display.role not in ROLES:
        raise PadaError(
            f"method.display.role={display.role!r} (method {name}); choose one of: {', '.join(ROLES)}"
        )
    if display.role == "ablation" and not display.parent:
        raise PadaError(f"method {name}: display.role=ablation needs display.parent (the method it ablates)")
    if display.order is not None and (isinstance(display.order, bool) or not isinstance(display.order, int)):
        raise PadaError(f"method.display.order={display.order!r} (method {name}) must be an integer or null")
    return display

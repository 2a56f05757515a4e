"""One registration mechanism for every plug-in point: a config node names its class with ``_target_``.

``_target_`` is Hydra's key for "the dotted path of the class this node configures" (hydra.utils.instantiate's
convention). pada resolves it itself instead of calling ``hydra.utils.instantiate``: each contract takes the
whole config node (``cls(cfg)``, a backend ``cls(model_path, cfg)``), and a wrong ``_target_`` must be one
``pada: error:`` line saying what to write, not a Hydra traceback. The contracts are documented in pada/api.py.

This module sits at the bottom of the package (it imports only pada.errors), so each contract's module can
build through it without import cycles.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, TypeVar

from pada.errors import PadaError

T = TypeVar("T")

# Keys of the mechanisms ``_target_`` replaced: a user's old YAML that still has one gets this hint.
# A leftover one is an error even beside a _target_: silently ignoring it would run something else.
REPLACED_KEYS = {
    "task.type": "`type: files` became `_target_: pada.tasks.user.UserTask` (a task from YAML and files)",
    "method.module": "`module: <your.module>` became `_target_: <your.module>.<YourClass>` (the class)",
    "eval.backend": "choose eval=transformers|vllm|openai, or name your Backend class with `_target_:`",
}
IMPORT_HINT = "it must be importable: `pip install -e` your package, or add its folder to PYTHONPATH"


def target_class(cfg: Any, contract: type[T], node: str) -> type[T]:
    """The class ``cfg._target_`` names, checked against ``contract``.

    ``node``: the config node's name for messages (``method``, ``task``, ``teacher``, ``eval``).
    Raises PadaError (one line) when a key ``_target_`` replaced is present (naming what to write instead),
    when ``_target_`` is missing, cannot be imported (with the ModuleNotFoundError text and the PYTHONPATH
    hint), names nothing in its module, is not a subclass of ``contract``, or leaves an abstract method of
    the contract unimplemented.
    """
    if not hasattr(cfg, "get"):
        raise PadaError(f"{node} must be a config node with a _target_, not {cfg!r}")
    for dotted, hint in REPLACED_KEYS.items():
        where, _, key = dotted.partition(".")
        if where == node and cfg.get(key) is not None:
            raise PadaError(f"{node}.{key} is no longer read: {hint}")
    path = cfg.get("_target_")
    if not path:
        raise PadaError(
            f"{node} has no _target_: name its class in its YAML, e.g. `_target_: my_package.module.MyClass` "
            f"(a subclass of {contract.__module__}.{contract.__name__}; see docs/extending.md)"
        )
    module_name, _, attribute = str(path).rpartition(".")
    if not module_name:
        raise PadaError(f"{node}._target_={path!r} is not a dotted path; write package.module.ClassName")
    try:
        module = importlib.import_module(module_name)
    except (ImportError, SyntaxError) as error:  # its own imports or code fail: the same fix-it line
        raise PadaError(f"{node}._target_={path!r} cannot be imported ({error}); {IMPORT_HINT}") from error
    cls = getattr(module, attribute, None)
    if cls is None:
        raise PadaError(f"{node}._target_={path!r}: module {module_name} has no {attribute!r}")
    if not (inspect.isclass(cls) and issubclass(cls, contract)):
        raise PadaError(
            f"{node}._target_={path!r} is not a {contract.__name__}: subclass "
            f"{contract.__module__}.{contract.__name__} (the contract: pada/api.py, docs/extending.md)"
        )
    if inspect.isabstract(cls) and cls.__new__ is object.__new__:  # a factory __new__ returns a subclass
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise PadaError(f"{node}._target_={path!r} does not implement {missing} ({contract.__name__})")
    return cls


def build(cfg: Any, contract: type[T], node: str, *args: Any) -> T:
    """``target_class(cfg, contract, node)(*args, cfg)``: the component a config node describes.

    ``args`` come before the node (a backend is built as ``cls(model_path, cfg)``); errors as target_class.
    """
    return target_class(cfg, contract, node)(*args, cfg)

"""The teacher probe: one real request to each teacher endpoint before a sweep is submitted, and the check
that a local llama.cpp server serves the model the config names.
"""

from __future__ import annotations

import contextlib
from typing import Any

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel


def probe_teacher(teacher_cfg: DictConfig, route: str = "") -> str | None:
    """Send one real request (a few tokens, one attempt, uncached) to the endpoint; the problem, or None.

    A wrong model name, a closed port or a refused key then shows before a sweep is submitted, not as a
    sweep of cells whose every teacher call failed. Under ``teacher.structured_output=native`` a second
    request carries a one-field schema in the provider's native form, so a server that refuses the field
    (llama-cpp-python's HTTP 500 on json_schema, a Bedrock model without tool use) shows here too.
    ``teacher_cfg``: one teacher without routes (``check_teacher`` probes each route's); ``route`` names
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


class _Probe(BaseModel):
    ok: bool


def _probe_native(teacher: Any) -> None:
    """One request with a one-field schema in the native form: raises StructuredOutputRefused when the server
    refuses the field; an answer that does not parse is fine here (the field was taken)."""
    from pada.teacher import StructuredOutputError

    chat = [{"role": "user", "content": 'Reply with {"ok": true}.'}]
    with contextlib.suppress(StructuredOutputError):
        teacher.complete("preflight", chat, schema=_Probe, max_tokens=32)


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

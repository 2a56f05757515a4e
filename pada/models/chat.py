"""Chat-template rendering with a pinned date: the same token ids on any calendar day.

Llama 3.x templates write ``Today Date: <date>`` into the system header from ``strftime_now`` (which
transformers defines as the wall clock) unless ``date_string`` is passed. Every path that renders a chat
template (training features, the transformers and vLLM backends, lm-eval, the OpenAI backend's server)
passes ``template_kwargs()``: ``strftime_now`` returning the pinned date and ``date_string`` formatted as
Llama's templates do. The date is the top-level config key ``chat_template_date`` (part of the cell
identity); the runner pins it with ``pin_date`` before anything renders.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pada.errors import PadaError

# Llama 3.x templates' own fallback when no strftime_now is defined: pinning it keeps their intended output
DEFAULT_DATE = "2024-07-26"
_pinned = {"date": DEFAULT_DATE}


def _parse(date: Any) -> dt.date:
    if isinstance(date, dt.date):
        return date
    try:
        return dt.date.fromisoformat(str(date))
    except ValueError as error:
        raise PadaError(f"chat_template_date={date!r} is not a date; write it as YYYY-MM-DD") from error


def pin_date(date: Any) -> None:
    """Render every later chat template with ``date`` (an ISO ``YYYY-MM-DD`` string or a ``date``)."""
    _pinned["date"] = _parse(date).isoformat()


def pinned_date() -> str:
    return _pinned["date"]


class FixedClock:
    """``strftime_now(format)`` for templates: the pinned date at midnight, formatted like ``strftime``."""

    def __init__(self, date: dt.date):
        self.moment = dt.datetime.combine(date, dt.time())

    def __call__(self, format: str) -> str:  # noqa: A002 - the template's own argument name
        return self.moment.strftime(format)


def date_string(date: Any = None) -> str:
    """The date as Llama 3.x templates print it (``26 Jul 2024``)."""
    return _parse(date or pinned_date()).strftime("%d %b %Y")


def template_kwargs(date: Any = None) -> dict[str, Any]:
    """Extra render variables for ``apply_chat_template``: they shadow transformers' wall-clock global."""
    return {"strftime_now": FixedClock(_parse(date or pinned_date())), "date_string": date_string(date)}


def apply_chat_template(tokenizer: Any, messages: list[dict[str, str]], **kwargs: Any) -> Any:
    """``tokenizer.apply_chat_template(messages, **kwargs)`` under the pinned date."""
    return tokenizer.apply_chat_template(messages, **kwargs, **template_kwargs())

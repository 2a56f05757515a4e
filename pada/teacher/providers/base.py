"""The provider interface: one async call that turns a chat into a Completion.

Providers translate SDK failures into three kinds: ``TransientError`` (rate limit, 5xx, timeout, dropped
connection), which the client retries with backoff; ``RequestRejected`` (this one request is invalid, e.g.
too long), counted and skipped; and ``FatalTeacherError`` (bad key, unknown model), which stops the run
with one line. SDK-internal retries are switched off so one policy (tenacity) owns retrying.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pada.errors import PadaError, clip
from pada.teacher.native import native_fields
from pada.types import Completion, SamplingParams

# HTTP statuses worth retrying: timeout, conflict/lock, rate limit, and every server-side failure.
RETRYABLE_STATUS = frozenset({408, 409, 429})


class TransientError(Exception):
    """A failure that may succeed on a later attempt; ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RequestRejected(Exception):
    """The provider refused this request (HTTP 400/413/422): no retry; the run goes on without it."""


class FatalTeacherError(PadaError):
    """A failure no retry can fix and every request would hit (authentication, permissions, unknown model)."""


class StructuredOutputRefused(FatalTeacherError):
    """The provider refused the native structured-output field itself: every request would hit the same
    refusal, so the run stops with one line naming the switch (``teacher.structured_output=prompt``)."""


@dataclass(frozen=True)
class Call:
    """Everything a provider needs for one request; also the material of the cache key."""

    role: str
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs, hashable and order-preserving
    params: SamplingParams
    sample_index: int = 0
    attempt: int = 0  # structured-output re-ask number; part of the cache key
    prompt_version: str | None = None
    # the answer's schema, set only under teacher.structured_output=native: the provider sends it in its
    # native structured-output field (``Provider.structured_fields``); None = free text (or prompt mode)
    schema: type[BaseModel] | None = None

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]

    def split_system(self) -> tuple[str | None, list[dict[str, str]]]:
        """Anthropic and Converse take the system prompt apart from the turns."""
        system = "\n\n".join(c for r, c in self.messages if r == "system") or None
        return system, [{"role": r, "content": c} for r, c in self.messages if r != "system"]


# Statuses that concern one request's content, not the account or the model: skip that request only.
REJECTED_STATUS = frozenset({400, 413, 422})


def retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (the delta-seconds form; dates are rare for LLM APIs)."""
    try:
        return float(headers.get("retry-after")) if headers is not None else None
    except (TypeError, ValueError):
        return None


def status_error(status: int | None, message: str, credential: str, headers: Any = None) -> Exception:
    """The exception for an HTTP error status; ``credential`` names what to check on 401/403."""
    if status is not None and (status in RETRYABLE_STATUS or status >= 500):
        return TransientError(message, retry_after(headers))
    if status in REJECTED_STATUS:
        return RequestRejected(message)
    if status in (401, 403):
        message += f"; check {credential} (or choose another teacher=...)"
    return FatalTeacherError(message)


def error_body(error: Any) -> str:
    """An SDK status error's response body as text: the server's reason for a 4xx/5xx (the SDKs' own
    message keeps only a JSON ``error.message`` and drops e.g. FastAPI's ``{"detail": ...}``)."""
    body = getattr(error, "body", None)
    if body is None:
        response = getattr(error, "response", None)
        body = getattr(response, "text", None) or str(error)
    return body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)


def redact(text: str, secrets: list[str | None]) -> str:
    """Remove secret values from an error message before it reaches a log or the terminal, then keep at most
    300 characters, cut at a sentence or word boundary with an ellipsis (``pada.errors.clip``)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return clip(text, 300)


class Provider(ABC):
    """Subclasses set ``name``; ``cfg`` is the teacher config node (conf/teacher/)."""

    name: str
    credential_hint: str = ""  # what to set when credentials are missing
    # local files whose text decides the answers (a fixture table): every request, cached or not, records
    # them for the running stage (pada.dependencies), so editing one re-runs the stages that asked
    dependency_files: tuple[Path, ...] = ()
    # the native structured-output forms it can send (pada.teacher.structured), the first by default; none:
    # prompt mode only (the schema is shown in the prompt and the answer parsed)
    native_forms: tuple[str, ...] = ()

    def __init__(self, cfg: Any):
        self.cfg = cfg

    @property
    def native_form(self) -> str | None:
        """``teacher.native_form`` if set, else this provider's default form; None without any."""
        return self.cfg.get("native_form") or (self.native_forms[0] if self.native_forms else None)

    def structured_fields(self, call: Call) -> dict[str, Any]:
        """The request fields that carry ``call.schema`` in ``native_form`` (none for a free-text call)."""
        if call.schema is None:
            return {}
        return native_fields(self.native_form, call.schema)

    @property
    def model_id(self) -> str:
        """Model plus its version: the provider-side identity that goes into the cache key."""
        version = self.cfg.get("model_version")
        return f"{self.cfg.model}@{version}" if version else str(self.cfg.model)

    @classmethod  # noqa: B027 - an optional hook: the scripted provider needs no credentials
    def check_credentials(cls, cfg: Any) -> None:
        """Raise PadaError naming what to set; runs before any work, without a network call."""

    @abstractmethod
    async def complete(self, call: Call) -> Completion:
        """Send one chat to the provider and return its answer.

        Args:
            call: the request (``Call``): ``messages`` as (role, content) pairs (``call.chat()`` gives the
                OpenAI shape, ``call.split_system()`` the Anthropic/Converse one), ``params`` (temperature,
                top_p, ``max_new_tokens``, stop, seed + ``sample_index``), and ``schema`` when the answer must
                follow one natively: send ``self.structured_fields(call)`` in the request and return the
                structured answer (a tool call's input, say) as JSON text.

        Returns:
            A ``Completion``: the answer ``text``, ``prompt_tokens`` / ``output_tokens`` as the provider
            counts them, and ``finish_reason`` ("stop", or "length" when cut at the token limit).

        Raises:
            TransientError: worth retrying (rate limit, 5xx, timeout, dropped connection); the client backs
                off (``retry_after`` honoured).
            RequestRejected: this request only is invalid (e.g. too long); counted and skipped.
            StructuredOutputRefused: the native structured-output field itself is refused; one line naming
                ``teacher.structured_output=prompt``.
            FatalTeacherError: no retry can fix it (bad key, unknown model); messages pass through ``redact``.

        Example:
            >>> class Echo(Provider):
            ...     name = "echo"
            ...     async def complete(self, call):
            ...         text = call.messages[-1][1]
            ...         return Completion(text, prompt_tokens=len(text.split()), output_tokens=len(text.split()),
            ...                           finish_reason="stop")
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass


def require_env(var: str, provider: str, alternative: str) -> str:
    value = os.environ.get(var)
    if not value:
        raise PadaError(
            f"teacher '{provider}' needs {var} in the environment; export it, or choose "
            f"another teacher ({alternative})"
        )
    return value

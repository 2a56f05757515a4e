"""One teacher client for every role: cached, rate-limited, retried, accounted, optionally schema-parsed.

The public API is synchronous (methods are plain Python); underneath, one event loop on a background
thread runs every request, so concurrency limits, rate limits and SDK connection pools are shared by all
calls of a run. Failures are never dropped silently: a request that exhausts its retries or never parses
comes back as ``None`` from ``complete_many`` and is counted in ``usage()``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from pydantic import BaseModel
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from pada import dependencies, progress
from pada.errors import PadaError
from pada.io import stable_hash
from pada.teacher.cache import ResponseCache
from pada.teacher.lanes import Lane, Messages, as_tuple, max_tokens_of
from pada.teacher.limits import RateLimiter
from pada.teacher.loop_thread import EventLoopThread
from pada.teacher.native import names_the_field
from pada.teacher.prompts import Prompt
from pada.teacher.providers import (
    Call,
    FatalTeacherError,
    Provider,
    RequestRejected,
    TransientError,
    build_provider,
)
from pada.teacher.providers.base import StructuredOutputRefused
from pada.teacher.routes import DEFAULT, resolve
from pada.teacher.structured import StructuredOutputError, parse_answer
from pada.teacher.usage import EFFORT_CHUNK, Usage, by_model, effort_of
from pada.types import Completion, SamplingParams

log = logging.getLogger("pada.teacher")
# One line per retried or failed request: in the job's log file, on the console only with -v (pada.logs
# DETAIL_LOGGERS); the console gets one summary line per stage instead (pada.run.spend.teacher_summary).
request_log = logging.getLogger("pada.teacher.requests")

# Finish reasons of an answer the server did not complete (no reason at all, vLLM's abort): never cached.
INCOMPLETE = frozenset({"None", "", "abort", "error"})


class TeacherCallFailed(Exception):
    """A request still failed after every retry (the run goes on; the failure is counted)."""


class TeacherFailed(PadaError):
    """A failed request under ``client.max_error_rate: 0`` (strict): the batch stops at once, so the stage
    that asked is never marked done and a re-run retries it (answers received so far stay cached)."""


@dataclass(frozen=True)
class Request:
    """One answer wanted from the teacher. ``sample_index`` separates n samples of the same prompt."""

    role: str
    messages: Messages
    sample_index: int = 0
    schema: type[BaseModel] | None = None
    max_tokens: int | None = None  # None = the role's (or the teacher's) configured default
    temperature: float | None = None
    completion: bool = False  # True (schema None): the answer is the Completion (text, finish_reason)


class TeacherCapReached(PadaError):
    """The cell's cap on teacher calls, tokens or dollars (``client.cell_caps``) is used up: one clear stop."""


class Teacher:
    """Built from a teacher config node (conf/teacher/); see ``build_teacher``. With ``teacher.routes``,
    the roles a route names ask that route's teacher (its own provider, model, sampling, cache identity and
    prices) and every other role the default teacher; one client, cache and accounting serves both."""

    def __init__(self, cfg: Any, cache_path: Path | None, provider: Provider | None = None):
        self.cfg = cfg
        # Plain copies of the settings read on every request (OmegaConf access costs ~10 us a key).
        settings = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
        routed, self._route_of = resolve(settings)  # a malformed route: one PadaError, nothing built
        # Providers first: credentials (of every route) fail before anything is created.
        providers = {
            name: build_provider(OmegaConf.create(s)) for name, s in routed.items() if name != DEFAULT
        }
        providers[DEFAULT] = provider or build_provider(cfg)
        self.lanes = {name: Lane.build(name, s, providers[name]) for name, s in routed.items()}
        default = self.lanes[DEFAULT]
        self.provider, self._identity = default.provider, default.identity
        self.structured_output, self.example_answers = default.structured_output, default.example_answers
        self._client = settings["client"]
        cache = self._client["cache"]
        self.cache = ResponseCache(cache_path, cache["mode"], cache.get("journal", "auto"))
        role_prices = {
            role: (self.lanes[name].pricing["input_per_mtok"], self.lanes[name].pricing["output_per_mtok"])
            for role, name in self._route_of.items()
        }
        self._usage = Usage(
            default.pricing["input_per_mtok"], default.pricing["output_per_mtok"], role_prices
        )
        self._loop: EventLoopThread | None = EventLoopThread()
        self._semaphore = asyncio.Semaphore(int(self._client["max_concurrency"]))
        rpm, tpm = self._client.get("requests_per_minute"), self._client.get("tokens_per_minute")
        self._requests_limit = RateLimiter(rpm) if rpm else None
        self._tokens_limit = RateLimiter(tpm) if tpm else None
        self.max_error_rate = float(self._client.get("max_error_rate", 0.0))
        self.caps = {k: v for k, v in (self._client.get("cell_caps") or {}).items() if v is not None}
        self._allowance: tuple[dict[str, float], dict[str, float]] | None = None  # (left, usage at start)
        self._effort: tuple[dict[str, int], dict[str, int]] | None = None  # (allowance, effort at start)
        self._in_flight = 0  # requests sent, not yet answered: counted against the call cap
        self.last_error: str | None = None  # the most recent failure, for the runner's one-line error
        self.last_retry: str | None = None  # the most recent retried error, for the stage's summary line

    def lane(self, role: str) -> Lane:
        """The teacher that answers ``role``: its route's, else the default."""
        return self.lanes[self._route_of.get(role, DEFAULT)]

    def max_tokens(self, role: str) -> int:
        """The output-token limit a request of ``role`` gets when it names none (``Request.max_tokens``
        None): the role's ``roles.<role>.max_tokens``, else ``sampling.max_tokens``, of its route's teacher."""
        return max_tokens_of(self.lane(role), role)

    def model_of(self, role: str) -> str:
        """``<provider>/<model>`` of the teacher that answers ``role`` (what results.json names per role)."""
        identity = self.lane(role).identity
        return f"{identity['provider']}/{identity['model']}"

    # -- public, synchronous ------------------------------------------------------------------------
    def complete(
        self,
        role: str,
        messages: Messages,
        *,
        sample_index: int = 0,
        schema: type[BaseModel] | None = None,
        **overrides: Any,
    ) -> str | BaseModel:
        """One answer: text, or a ``schema`` instance. Raises StructuredOutputError / TeacherCallFailed (also
        when the allowance of ``limit_effort`` is spent: the request is then never sent)."""
        request = Request(role, messages, sample_index, schema, **overrides)
        if (left := self.effort_left()) is not None and min(left.values()) <= 0:
            self._usage.add(role, over_budget=1)
            raise TeacherCallFailed(
                f"role '{role}': the stage's teacher allowance {self._effort[0]} is spent"
            )
        return self._loop.run(self._answer(request))

    def complete_many(self, requests: list[Request]) -> list[str | BaseModel | None]:
        """Answers in request order, fetched concurrently; ``None`` marks a counted failure, or a request
        refused because the allowance (``limit_effort``) was spent (counted ``over_budget``, never sent).

        Under an allowance the requests go in order, in chunks of ``EFFORT_CHUNK`` (fewer when fewer calls
        are left), and no chunk starts once any allowance is used up: the overshoot is at most one chunk's
        tokens, and the same requests are answered on every run, cached or not."""
        if self._effort is None:
            return self._loop.run(self._answer_all(requests))
        answers: list[str | BaseModel | None] = []
        while len(answers) < len(requests):
            left = self.effort_left()
            if min(left.values()) <= 0:
                break
            size = min(EFFORT_CHUNK, int(left["calls"])) if "calls" in left else EFFORT_CHUNK
            answers += self._loop.run(self._answer_all(requests[len(answers) : len(answers) + size]))
        for request in requests[len(answers) :]:
            self._usage.add(request.role, over_budget=1)
        return answers + [None] * (len(requests) - len(answers))

    def limit_effort(self, allowance: dict[str, int] | None) -> None:
        """From now on, answer ``complete_many`` requests only while the effort spent since this call
        (``pada.teacher.usage.effort_of``: calls and tokens as from an empty cache) is under ``allowance``
        (``{"calls": n, "tokens": n}``, either optional); None or {} lifts the limit. The runner sets one per
        augment stage from ``teacher_budget`` (pada/run/fairness.py)."""
        self._effort = (dict(allowance), self._effort_now()) if allowance else None

    def effort_left(self) -> dict[str, int] | None:
        """What is left of the allowance, per key (negative: overshot by that much); None without one."""
        if self._effort is None:
            return None
        allowance, start = self._effort
        now = self._effort_now()
        return {k: v - (now[k] - start[k]) for k, v in allowance.items()}

    def effort_used(self) -> dict[str, int]:
        """Calls and tokens (``effort_of``) spent since ``limit_effort`` set the allowance; zeros without one."""
        if self._effort is None:
            return {"calls": 0, "tokens": 0}
        now, start = self._effort_now(), self._effort[1]
        return {k: now[k] - start[k] for k in now}

    def _effort_now(self) -> dict[str, int]:
        return effort_of(self._usage.report()["total"])

    def samples(
        self,
        role: str,
        messages: Messages,
        n: int,
        *,
        schema: type[BaseModel] | None = None,
        **overrides: Any,
    ) -> list[str | BaseModel | None]:
        """``n`` independent samples of one prompt (sample indices 0..n-1, each cached on its own)."""
        return self.complete_many([Request(role, messages, i, schema, **overrides) for i in range(n)])

    def limit_spend(self, spent_before: dict[str, float]) -> None:
        """Enforce ``client.cell_caps`` from now on, given what the cell's finished stages already spent
        (``{"calls", "tokens", "dollars"}``, uncached). Cached answers are free and never counted."""
        left = {k: cap - spent_before.get(k, 0) for k, cap in self.caps.items()}
        self._allowance = (left, self._spent())

    def _spent(self) -> dict[str, float]:
        total = self._usage.report()["total"]
        return {
            "calls": total["calls"],
            "tokens": total["tokens_in"] + total["tokens_out"],
            "dollars": total["dollars"],
        }

    def _check_caps(self) -> None:
        if self._allowance is None:
            return
        left, start = self._allowance
        now = self._spent()
        used = {k: now[k] - start[k] + (self._in_flight if k == "calls" else 0) for k in left}
        for name, room in left.items():
            if used[name] >= room:
                raise TeacherCapReached(
                    f"the cell's teacher cap teacher.client.cell_caps.{name}={self.caps[name]:g} is used up "
                    f"({self.caps[name] - room + used[name]:g} spent)"
                )

    def usage(self) -> dict[str, Any]:
        report = self._usage.report()
        report["cache"] = {"hits": self.cache.hits, "misses": self.cache.misses, "mode": self.cache.mode}
        report.update(self._identity)
        if len(self.lanes) > 1:  # routed roles: which model answered each one, and the counts per model
            report["role_models"] = {role: self.model_of(role) for role in report["roles"]}
            report["by_model"] = by_model(report["roles"], report["role_models"])
        report["pricing"] = {"input_per_mtok": self._usage.price_in, "output_per_mtok": self._usage.price_out}
        return report

    def close(self) -> None:
        """Idempotent: the runner and a ``with`` block may both close the same teacher."""
        if self._loop is None:
            return
        for lane in self.lanes.values():
            self._loop.run(lane.provider.aclose())
        self._loop.close()
        self._loop = None
        self.cache.close()

    def __enter__(self) -> Teacher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- async core -----------------------------------------------------------------------------------
    async def _answer_all(self, requests: list[Request]) -> list[str | BaseModel | None]:
        tasks = [asyncio.ensure_future(self._answer_or_none(r)) for r in requests]
        bar = self._bar(requests, tasks)
        try:
            return await asyncio.gather(*tasks)
        except BaseException:  # a fatal error (bad key) cancels the rest at once
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            bar.close()

    def _bar(self, requests: list[Request], tasks: list[asyncio.Future]) -> Any:
        """A progress bar (terminals only, pada.progress): calls done, of them cached and failed."""
        roles = ",".join(sorted({r.role for r in requests}))
        bar = progress.bar(total=len(tasks), desc=f"teacher {roles}", unit="call")
        hits, failed = self.cache.hits, 0

        def done(task: asyncio.Future) -> None:
            nonlocal failed
            failed += not task.cancelled() and task.exception() is None and task.result() is None
            bar.set_postfix(cached=self.cache.hits - hits, failed=failed, refresh=False)
            bar.update()

        for task in tasks:
            task.add_done_callback(done)
        return bar

    async def _answer_or_none(self, request: Request) -> str | BaseModel | None:
        try:
            return await self._answer(request)
        except StructuredOutputError as failure:
            request_log.info("teacher %s", failure)
            return None
        except TeacherCallFailed as failure:
            self.last_error = str(failure)
            if self.max_error_rate <= 0:  # strict: one failure already fails the stage, so stop asking
                raise TeacherFailed(
                    f"{failure} (teacher.client.max_error_rate=0 allows no failed request)"
                ) from None
            request_log.info("teacher %s", failure)
            return None

    async def _answer(self, request: Request) -> str | BaseModel:
        lane = self.lane(request.role)
        native = request.schema is not None and lane.structured_output == "native"
        call = Call(
            role=request.role,
            messages=as_tuple(request.messages, lane.example_answers),
            params=self._params(request, lane),
            sample_index=request.sample_index,
            prompt_version=request.messages.version if isinstance(request.messages, Prompt) else None,
            schema=request.schema if native else None,
        )
        reasks = int(self._client["structured_reasks"]) if request.schema else 0
        for attempt in range(reasks + 1):
            completion = await self._fetch(call)
            if request.schema is None:
                return completion if request.completion else completion.text
            cut = completion.finish_reason == "length"
            try:
                limit = call.params.max_new_tokens
                parsed, coerced = parse_answer(
                    completion.text, completion.finish_reason, request.schema, limit
                )
                self._usage.add(request.role, coerced=int(coerced))
                return parsed
            except ValueError as error:
                reason = f"{error} (finish_reason={completion.finish_reason})"
            if attempt < reasks:
                self._usage.add(request.role, reasks=1)
                call = self._reask(call, completion.text, reason, attempt + 1, cut)
        self._usage.add(request.role, parse_failures=1)
        raise StructuredOutputError(request.role, reason, completion.text)

    def _params(self, request: Request, lane: Lane) -> SamplingParams:
        sampling = lane.sampling
        role = lane.roles.get(request.role) or {}
        temperature = request.temperature if request.temperature is not None else role.get("temperature")
        return SamplingParams(
            max_new_tokens=int(request.max_tokens or max_tokens_of(lane, request.role)),
            temperature=float(sampling["temperature"] if temperature is None else temperature),
            top_p=float(sampling["top_p"]),
            stop=tuple(sampling.get("stop") or ()),
            seed=int(sampling["seed"]) + request.sample_index,  # distinct samples where seeds are honoured
        )

    def _reask(self, call: Call, bad: str, reason: str, attempt: int, cut: bool) -> Call:
        """A new request (new cache key). After an answer cut at max_tokens: the same prompt with twice the
        room, up to ``client.reask_max_tokens`` (the same limit would cut it again); else the bad answer
        and why it failed, then a request to fix it."""
        if cut:
            room = max(call.params.max_new_tokens, int(self._client.get("reask_max_tokens") or 0))
            params = replace(call.params, max_new_tokens=min(2 * call.params.max_new_tokens, room))
            return replace(call, params=params, attempt=attempt)
        feedback = (
            f"Your answer could not be parsed: {reason}. Reply again with only the JSON object, "
            "following the schema exactly."
        )
        return replace(
            call, messages=(*call.messages, ("assistant", bad), ("user", feedback)), attempt=attempt
        )

    def cache_key(self, call: Call) -> str:
        lane = self.lane(call.role)  # the key names the model that answers the role
        for path in lane.provider.dependency_files:  # the answer depends on it, cached or not
            dependencies.record(path)
        return stable_hash(
            {
                **lane.identity,
                "role": call.role,
                "messages": call.messages,
                "params": asdict(call.params),
                "sample_index": call.sample_index,
                "attempt": call.attempt,
                "prompt_version": call.prompt_version,
                # native structured output: the exact fields that carry the schema (absent in prompt mode,
                # whose answers depend on the prompt alone, so those keys are unchanged)
                **({"structured": lane.provider.structured_fields(call)} if call.schema is not None else {}),
            }
        )

    async def _fetch(self, call: Call) -> Completion:
        key = self.cache_key(call)
        self._usage.add(call.role, requests=1)
        cached = self.cache.get(key)
        if cached is not None:
            self._usage.record_hit(call.role, cached)
            return cached
        self.cache.require_writable(key, call.role)
        async with self._semaphore:
            self._check_caps()
            await self._rate_limit(call)
            self._in_flight += 1
            try:
                completion = await self._with_retries(call)
            finally:
                self._in_flight -= 1
        self.cache.put(key, completion)
        self._usage.record_call(call.role, completion)
        if completion.finish_reason == "length":
            self._usage.add(call.role, truncated=1)
        return completion

    async def _rate_limit(self, call: Call) -> None:
        if self._requests_limit:
            await self._requests_limit.acquire(1)
        if self._tokens_limit:  # estimate: ~4 characters a token, plus the most the answer may use
            chars = sum(len(content) for _, content in call.messages)
            await self._tokens_limit.acquire(chars / 4 + call.params.max_new_tokens)

    async def _with_retries(self, call: Call) -> Completion:
        retry = self._client["retry"]
        timeout = float(self._client["timeout_s"])

        def count_retry(state: Any) -> None:
            self._usage.add(call.role, retries=1)
            self.last_retry = str(state.outcome.exception())
            request_log.info(
                "teacher retry %d for role %s: %s", state.attempt_number, call.role, state.outcome.exception()
            )

        backoff = wait_random_exponential(
            multiplier=float(retry["initial_wait_s"]), max=float(retry["max_wait_s"])
        )

        def wait(state: Any) -> float:  # full-jitter backoff, but never sooner than the server asked
            hint = getattr(state.outcome.exception(), "retry_after", None) or 0.0
            return max(backoff(state), min(hint, float(retry["max_wait_s"])))

        retrying = AsyncRetrying(
            stop=stop_after_attempt(int(retry["max_attempts"])),
            wait=wait,
            retry=retry_if_exception_type(TransientError),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._timed(call, timeout)
        except RequestRejected as error:
            self._usage.add(call.role, errors=1)
            raise TeacherCallFailed(f"role '{call.role}' request rejected: {error}") from None
        except TransientError as error:
            self._usage.add(call.role, errors=1)
            raise TeacherCallFailed(
                f"role '{call.role}' failed after {retry['max_attempts']} attempts: {error}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused(self, lane: Lane, form: str, error: Exception) -> StructuredOutputRefused:
        """The one error for a server that refuses the native field: names the mode to switch to."""
        other_forms = len(lane.provider.native_forms) > 1
        where = "" if lane.name == DEFAULT else f" (teacher.routes.{lane.name})"
        return StructuredOutputRefused(
            f"teacher {lane.identity['provider']}{where} refused native structured output "
            f"(teacher.structured_output=native, form {form}): {error}. Set teacher.structured_output=prompt "
            "to ask for JSON in the prompt instead"
            + (" (or another teacher.native_form)" if other_forms else "")
        )

    async def _timed(self, call: Call, timeout: float) -> Completion:
        lane = self.lane(call.role)
        try:
            async with asyncio.timeout(timeout):  # unlike wait_for, no extra task per request
                completion = await lane.provider.complete(call)
        except TimeoutError:
            raise TransientError(f"no answer within teacher.client.timeout_s={timeout:g}") from None
        except (TransientError, RequestRejected, FatalTeacherError) as error:
            form = lane.provider.native_form
            if call.schema is not None and names_the_field(form, str(error)):  # no retry can help: one line
                raise self._refused(lane, form, error) from None
            raise
        if completion.finish_reason in INCOMPLETE:  # cut off server-side: retried, never cached
            raise TransientError(f"answer ended with finish_reason={completion.finish_reason}")
        return completion

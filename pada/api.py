"""The four plug-in points of pada, their contracts, and the one way to plug a class in.

Every component is named in its YAML by Hydra's ``_target_`` (a dotted class path); ``build`` resolves it and
checks it against the contract below, and a bad ``_target_`` is one ``pada: error:`` line (exit 2) naming what
to write. Nothing is registered in code: a new method is one Python module plus one YAML
(docs/extending.md has the recipes and the checklist for each point).

Augmentation method (``Method``, conf/method/<name>.yaml, built as ``cls(cfg.method)``)
    Given, each round: an ``IterationState`` (the seed set, the current training data, the student's records
    on the training set if ``needs_train_eval``, its validation FAILURES if ``needs_val_eval`` (never the
    other validation items, never test), the round's ``quota``, the teacher client or None, a seeded
    ``rng`` and a ``workdir`` for reports). Returns ``list[Example]``: the new training items (may be
    empty). Raises PadaError for a bad config (best in ``__init__`` or ``check_task``, before any stage);
    teacher failures propagate as the teacher's errors (TeacherFailed, TeacherCapReached), which the runner
    turns into one error line with the stage not marked done. It never trains or evaluates.
    The runner enforces around ``propose`` (pada/run/runner.py ``Cell._augment_stage``, pada/run/fairness.py),
    identically for every method: the quota (more than ``state.quota.limit`` items is a PadaError, never a
    silent trim); new ids unique and not already in the training data, and ``source`` a
    ``synthetic:<label>`` (else PadaError: a method bug); decontamination against validation and test
    (rejections counted by reason in the stage record); the teacher spend cap and error rate; and the
    per-method accounting in results.json. Under ``budget_match`` a round left short of its target is topped
    up: the runner asks ``propose_more(state, proposed, top_up)`` (optional; default None, nothing more)
    for the remainder, ``budget_match_rounds`` times at most, and checks each answer the same way
    (pada/run/topup.py). ``loop.iterations`` (required in the YAML, pada/run/loop.py) is
    the number of rounds; a method that augments (``augments = True`` or ``needs_teacher = True``) with 0
    rounds is an error.

Task (``Task``, conf/task/<name>.yaml, built as ``cls(cfg.task)``)
    ``load(data_dir)`` returns ``Splits`` (pool / val / test / fewshot lists of ``Example``; validation never
    overlaps the pool; ids unique); ``extract(output)`` the answer string or None; ``is_correct(extracted,
    example)`` the task's criterion. Bad data: PadaError naming file:line. A task from YAML and data files
    with no code: ``_target_: pada.tasks.user.UserTask`` (docs/tasks.md, "Your own task").

Teacher provider (``Provider``, conf/teacher/<name>.yaml, built as ``cls(cfg.teacher)``)
    ``async complete(call: Call) -> Completion`` for one chat; ``check_credentials(cfg)`` (classmethod)
    raises PadaError naming what to set, with no network call. Failures are one of three kinds
    (pada/teacher/providers/base.py): ``TransientError`` (retried with backoff by the client),
    ``RequestRejected`` (this request only, counted and skipped), ``FatalTeacherError`` (stops the run with
    one line). Secrets never reach a message (``redact``). ``teacher.provider`` stays a label: it is part of
    the response cache key and of messages, and ``provider: none`` means "no teacher".

Inference backend (``Backend``, conf/eval/<name>.yaml, built as ``cls(model_path, cfg.eval)``)
    ``generate(chats, params, adapter=None) -> list[Completion]``: one completion per chat (a chat is a list
    of ``{"role", "content"}`` dicts, or a prompt string already rendered), in order; ``adapter`` is a LoRA
    dir or a full model dir. ``close()`` releases GPU memory and servers.
"""

from __future__ import annotations

from pada.errors import PadaError
from pada.inference.base import Backend, Prompt
from pada.methods.base import IterationState, Method, Quota
from pada.targets import build, target_class
from pada.tasks.base import Splits, Task
from pada.teacher.providers.base import (
    Call,
    FatalTeacherError,
    Provider,
    RequestRejected,
    TransientError,
)
from pada.types import Completion, EvalRecord, Example, SamplingParams

__all__ = [
    "Backend",
    "Call",
    "Completion",
    "EvalRecord",
    "Example",
    "FatalTeacherError",
    "IterationState",
    "Method",
    "PadaError",
    "Prompt",
    "Provider",
    "Quota",
    "RequestRejected",
    "SamplingParams",
    "Splits",
    "Task",
    "TransientError",
    "build",
    "target_class",
]

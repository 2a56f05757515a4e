"""One cell = (task, budget, seed, method): seed sampling, then train_i → eval_i → augment_i, then test.

Every stage is idempotent (see stages.py), so a killed or requeued job resumes where it stopped, and a
finished cell re-runs in seconds. The run dir is named by a hash of the resolved config, never by time.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from pada.errors import PadaError
from pada.inference.base import Backend, backend_class, build_backend
from pada.io import stable_hash, write_json, write_jsonl
from pada.methods.base import IterationState, build_method, check_cell
from pada.models.chat import DEFAULT_DATE, pin_date
from pada.models.loading import resolve_model_path
from pada.models.memory import release_memory, return_large_blocks
from pada.run import fairness, topup
from pada.run.conf import CONF_DIR
from pada.run.echo import instruction_parts, instructions_digest
from pada.run.lm_eval_stage import add_lm_eval
from pada.run.loop import (
    LoopState,
    cell_loop,
    check_augments,
    eval_val_setting,
    scores_validation,
    selected,
    stalled,
)
from pada.run.naming import cell_location, data_dir, eval_identity, identity
from pada.run.records import accuracy, limited, load_examples, load_records
from pada.run.results import cell_results, flat_metrics
from pada.run.shared import SharedStore, Unit, link_into, shared_root, unit_context
from pada.run.spend import spend_kept_on_failure, spent, teacher_summary
from pada.run.stages import Stages, cell_lock
from pada.tasks.base import Task, build_task, sample_seed_set
from pada.teacher import (
    Teacher,
    TeacherCapReached,
    TeacherFailed,
    build_teacher,
    check_error_rate,
    usage_delta,
)
from pada.tracking import tracked_config, tracking
from pada.types import EvalRecord, Example, Quota, SamplingParams
from pada.validate import check_adapter, check_config, check_writable
from pada.versions import runner_versions, stage_versions

log = logging.getLogger("pada.run")


class Cell:
    """The state of one cell's run; ``run()`` executes or resumes it and returns results.json's content."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.loop = cell_loop(cfg)  # method.loop: read here alone, before the method is built
        self.task: Task = build_task(cfg.task)
        self.method = build_method(cfg.method)
        check_config(cfg, self.loop.iterations, CONF_DIR)  # types, choices, stage names: before any stage
        pin_date(cfg.get("chat_template_date", DEFAULT_DATE))  # every chat template renders this date
        fairness.check_config(cfg, self.method)  # quotas, eval_val: one error line before anything runs
        # Built first: missing credentials are one error line before any data is read or stage runs.
        self.teacher: Teacher | None = build_teacher(cfg.get("teacher"), cfg.paths.cache_dir)
        if self.method.needs_teacher and self.teacher is None:
            raise PadaError(
                f"method={cfg.method.name} needs a teacher; choose one with teacher=<name> "
                "(see docs/teacher.md)"
            )
        # A (task, method) pair that would fail mid-run fails here, before any data is read.
        check_cell(self.task, self.method)
        check_augments(self.method, self.loop)
        backend_class(cfg.eval)  # built lazily (a cached re-run never loads the model), checked now
        self.splits = self.task.load(data_dir(cfg))
        # What determines the output besides the config (pada/versions.py); never the git SHA.
        self.components, self.run_dir = cell_location(cfg, self.task, self.method, self.splits.files)
        sample_seed_set(self.splits.pool, cfg.budget, cfg.seed)  # fail on a bad budget before any work
        if cfg.model.get("cpu_threads"):  # before the model is built: tiny_sim pre-trains on first use
            torch.set_num_threads(cfg.model.cpu_threads)
        return_large_blocks(cfg.run.get("malloc_mmap_threshold_kib"))  # before any tensor is allocated
        self.model_path = resolve_model_path(cfg.model, Path(cfg.paths.cache_dir).expanduser().resolve())
        check_adapter(
            cfg, self.model_path
        )  # LoRA modules vs the architecture, vLLM's limits: before any stage
        check_writable(self.run_dir.parent, "runs dir")  # read-only or full: one line before any stage
        self.stages = Stages(self.run_dir, cfg.run.stop_after)
        root = shared_root(cfg.run)  # run.shared_stages: units another cell computed are reused
        self.shared = SharedStore(root, self.run_dir.name, cfg.run.get("lock_timeout")) if root else None
        resolved = OmegaConf.to_container(cfg, resolve=True)
        self.unit_context = unit_context(resolved, self.components["versions"], self.components["data"])
        self._units: dict[str, str] = {}  # a train stage's key -> its shared unit's key (what it trained)
        self._backend: Backend | None = None
        self.system_prompt = cfg.task.get("system_prompt")

    # -- stages ---------------------------------------------------------------------------------
    def _seed_stage(self):
        def work(out: Path) -> dict[str, Any]:
            seed = sample_seed_set(self.splits.pool, self.cfg.budget, self.cfg.seed)
            val = limited(self.splits.val, self.cfg.task.limits.val)
            test = limited(self.splits.test, self.cfg.task.limits.test)
            for name, rows in (("seed", seed), ("val", val), ("test", test)):
                write_jsonl(out / f"{name}.jsonl", (ex.to_dict() for ex in rows))
            return {"seed": len(seed), "val": len(val), "test": len(test), "pool": len(self.splits.pool)}

        return self.stages.run("seed", {"cell": identity(self.cfg), **self.components}, work)

    def _train_stage(self, i: int, train_data: list[Example], upstream: str, previous: Path | None):
        from pada.training.callbacks import TrimHeap
        from pada.training.train import fit

        def fit_into(out: Path, ckpt_dir: Path) -> dict[str, Any]:
            init_from = str(previous / "model") if previous is not None else None
            self._free_cpu_backend()
            with _released():  # the trainer's model and activations are gone before evaluation loads its own
                return fit(
                    fairness.trainer_config(self.cfg),
                    self.model_path,
                    train_data,
                    out,
                    self.cfg.seed + i,
                    self.system_prompt,
                    init_from,
                    self.tracker.log,
                    ckpt_dir=ckpt_dir,
                    callbacks=[TrimHeap()] if not torch.cuda.is_available() else [],  # CPU: bounded heap
                )

        inputs = self._train_unit_inputs(i, train_data, previous)
        key = SharedStore.key("train", inputs)

        def work(out: Path) -> dict[str, Any]:
            if self.shared is None:  # resume checkpoints beside .partial, which a restart wipes
                return fit_into(out, self.run_dir / f".train_{i}.ckpt")
            ckpt_dir = self.shared.root / "train" / f".{key}.ckpt"  # any cell computing it resumes there
            return self._linked(
                self.shared.unit("train", inputs, lambda tmp: fit_into(tmp, ckpt_dir)), out, "train"
            )

        result = self.stages.run(f"train_{i}", {"upstream": upstream, "n": len(train_data)}, work)
        self._units[result.key] = key
        return result

    def _train_unit_inputs(self, i: int, train_data: list[Example], previous: Path | None) -> dict[str, Any]:
        """What determines training round ``i``'s output (its shared unit's key, pada/run/shared.py): the
        cell's context less the method and the eval settings, the resolved trainer config (match_steps' max_steps), the training
        rows in order, the training seed, the system prompt, the trainer's version and the unit it
        continues (trainer.init_from=previous)."""
        continued = self._units[self.stages.results[f"train_{i - 1}"].key] if previous is not None else None
        cell = {k: v for k, v in self.unit_context["cell"].items() if k != "eval"}  # read after training
        return {
            "context": {**self.unit_context, "cell": cell},
            "trainer": OmegaConf.to_container(fairness.trainer_config(self.cfg), resolve=True),
            "rows": stable_hash([ex.to_dict() for ex in train_data]),
            "seed": self.cfg.seed + i,
            "system_prompt": self.system_prompt,
            "init_from": continued,
            "versions": stage_versions("train_0"),
        }

    def _linked(
        self, unit: Unit, out: Path, name: str, rename: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Link ``unit``'s files into the stage dir ``out`` and note it (as ``name``) in the stage's marker;
        a copy of the unit's info."""
        link_into(unit.path, out, rename)
        self.stages.note_shared(unit.record(name))
        return dict(unit.info)

    def _eval_stage(
        self,
        name: str,
        splits: dict[str, list[Example]],
        train_key: str,
        adapter: Path | None,
        lengths: dict[str, int] | None = None,
    ):
        """``lengths``: max_new_tokens per split where it is not the task's (a method's training-set
        evaluation, ``Method.train_eval_max_new_tokens``); part of the stage's key."""
        lengths = lengths or {}

        def work(out: Path) -> dict[str, Any]:
            info = {}
            for split, examples in splits.items():
                info[split] = self._scored(out, split, examples, adapter, lengths.get(split), train_key)
                if split in lengths:
                    info[split]["max_new_tokens"] = lengths[split]
            return info

        inputs = {"train": train_key, "eval": eval_identity(self.cfg), "splits": sorted(splits)}
        if lengths:  # only then: no other cell's key changes
            inputs["max_new_tokens"] = lengths
        return self.stages.run(name, inputs, work)

    def _scored(
        self,
        out: Path,
        split: str,
        examples: list[Example],
        adapter: Path | None,
        max_new_tokens: int | None,
        train_key: str,
    ) -> dict[str, Any]:
        """Evaluate ``examples`` into ``out/<split>.jsonl``; their accuracy. With run.shared_stages, as a
        shared unit keyed by the trained unit, the items and the generation length (not the split's name)."""

        def score(folder: Path, name: str) -> dict[str, Any]:
            records = self.evaluate(examples, adapter, max_new_tokens)
            write_jsonl(folder / name, (r.to_dict() for r in records))
            return accuracy(records)

        if self.shared is None:
            return score(out, f"{split}.jsonl")
        inputs = self._eval_unit_inputs(examples, max_new_tokens, train_key)
        unit = self.shared.unit("eval", inputs, lambda tmp: score(tmp, "records.jsonl"))
        return self._linked(unit, out, f"eval:{split}", {"records.jsonl": f"{split}.jsonl"})

    def _eval_unit_inputs(
        self, examples: list[Example], max_new_tokens: int | None, train_key: str
    ) -> dict[str, Any]:
        """What determines an evaluation's records (its shared unit's key): the cell's context less the
        method (model, eval and task config, data files, seed), the trained unit (or the base model), the
        items in order and the generation length actually used; not the split's name."""
        return {
            "context": self.unit_context,
            "model": self._units.get(train_key, "base"),  # method=base: the untrained model (in context)
            "items": stable_hash([ex.to_dict() for ex in examples]),
            "max_new_tokens": self._generation_length(max_new_tokens),
        }

    def _augment_stage(self, i: int, state: IterationState, eval_key: str, held_out: list[Example]):
        def work(out: Path) -> dict[str, Any]:
            state.workdir = out
            before = self.teacher.usage() if self.teacher is not None else None
            if self.teacher is not None:
                self.teacher.limit_spend(spent(self.stages.results, self.run_dir))
                self.teacher.limit_effort(state.quota.teacher_allowance())  # teacher_budget's share
            stage = f"augment_{i}"
            try:
                with (
                    spend_kept_on_failure(self.teacher, before, self.run_dir, stage),
                    teacher_summary(self.teacher, before, stage),
                ):
                    return attempt(out, before)
            finally:
                if self.teacher is not None:
                    self.teacher.limit_effort(None)

        def attempt(out: Path, before: dict[str, Any] | None) -> dict[str, Any]:
            proposed = self._asked(i, lambda: self.method.propose(state), before)
            filled = self._filled(i, state, held_out, proposed, before)
            write_jsonl(out / "new.jsonl", (ex.to_dict() for ex in filled.kept))
            info = {"new_examples": len(filled.kept), **fairness.accounting(state.quota, filled)}
            if before is None:
                return info
            usage = usage_delta(self.teacher.usage(), before)
            effort = {
                "allowance": state.quota.teacher_allowance() or None,
                "spent": fairness.effort_of(usage["total"]),
                "refused": int(usage["total"].get("over_budget", 0)),
            }
            return {**info, "teacher_usage": usage, "teacher_effort": effort}

        instructions = instructions_digest(instruction_parts(self.method.instruction_texts))
        return self.stages.run(f"augment_{i}", {"eval": eval_key, "instructions": instructions}, work)

    def _asked(self, i: int, ask: Callable[[], Any], before: dict[str, Any] | None) -> Any:
        """``ask()`` (a method's propose or top-up) with teacher failures turned into one error line; then the
        stage's teacher error rate so far is checked (before the quota: a failed teacher is the first thing
        to fix)."""
        try:
            answer = ask()
        except TeacherFailed as error:  # strict mode stopped at the first failed request
            raise PadaError(
                f"augment_{i}: {error}. The stage is not marked done: fix the teacher and "
                "re-run (answers received so far are cached)"
            ) from None
        except TeacherCapReached as error:
            raise PadaError(
                f"augment_{i}: {error}. The stage is not marked done: raise the cap and re-run "
                "(answers received so far are cached and cost nothing again)"
            ) from None
        if before is not None:
            usage = usage_delta(self.teacher.usage(), before)
            check_error_rate(f"augment_{i}", usage, self.teacher.max_error_rate, self.teacher.last_error)
        return answer

    def _filled(
        self,
        i: int,
        state: IterationState,
        held_out: list[Example],
        proposed: list[Example],
        before: dict[str, Any] | None,
    ) -> topup.Filled:
        """The runner's checks on ``proposed`` (quota, ids, held-out copies), then under budget_match the
        top-ups while round ``i`` is short of its target (pada/run/topup.py), each checked the same way."""
        check = fairness.build_decontaminator(self.cfg, held_out, self.task, self.method)
        filled = topup.Filled(state.quota, topup.rounds_of(self.cfg))
        run = topup.TopUp(self.cfg.method.name, check, state.train_data, self.teacher, filled)
        run.add(proposed, state.quota, state.quota.target, before)

        def more(quota: Quota, so_far: list[Example], top_up: int) -> list[Example] | None:
            asked = replace(state, quota=quota)
            return self._asked(i, lambda: self.method.propose_more(asked, so_far, top_up), before)

        return run.run(more)

    # -- helpers ----------------------------------------------------------------------------------
    def _free_cpu_backend(self) -> None:
        """On CPU, the evaluation model's copy would sit in RAM beside the trainer's (a real 135M cell
        reached 2.4 GB in its second training): drop it; the next evaluation loads it again (seconds)."""
        if self._backend is not None and self.cfg.eval.get("device", "cpu") == "cpu":
            self._backend.close()
            self._backend = None
            release_memory()

    @property
    def backend(self) -> Backend:
        if self._backend is None:  # built lazily: a fully cached re-run never loads the model
            self._backend = build_backend(self.model_path, self.cfg.eval)
        return self._backend

    def evaluate(
        self, examples: list[Example], adapter: Path | None, max_new_tokens: int | None = None
    ) -> list[EvalRecord]:
        """The student's records on ``examples``; ``max_new_tokens`` None: eval.max_new_tokens, else the
        task's."""
        params = SamplingParams(
            max_new_tokens=self._generation_length(max_new_tokens),
            temperature=self.cfg.eval.temperature,
            stop=tuple(self.cfg.task.stop),
            seed=self.cfg.seed,
        )
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        chats = [
            [*system, *self.task.messages(ex, self.task.fewshot_examples(ex, self.splits))] for ex in examples
        ]
        completions = self.backend.generate(chats, params, adapter=str(adapter) if adapter else None)
        # Code tasks run their programs in parallel.
        records = self.task.score(examples, [c.text for c in completions])
        return [replace(r, finish_reason=c.finish_reason) for r, c in zip(records, completions, strict=True)]

    def _generation_length(self, max_new_tokens: int | None) -> int:
        """New tokens per answer: ``max_new_tokens``, else eval.max_new_tokens, else the task's."""
        return int(max_new_tokens or self.cfg.eval.max_new_tokens or self.cfg.task.max_new_tokens)

    def _after_next_eval(self, augment_dir: Path, before_eval: Path, after_eval: Path) -> None:
        before, after = load_records(before_eval / "val.jsonl"), load_records(after_eval / "val.jsonl")
        if before and after:  # run.eval_val=false (or needed, for a method that scores no report): nothing
            self.method.after_next_eval(augment_dir, before, after)

    def result_versions(self) -> dict[str, str]:
        """The versions in the cell's name plus those of the runner parts its stages go through (trainer,
        fairness: pada.versions.runner_versions), so the analysis never pools results of different code."""
        trains = bool(self.cfg.method.get("train", True))
        return {**self.components["versions"], **runner_versions(trains, self.loop.iterations > 0)}

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        config = OmegaConf.to_container(self.cfg, resolve=True)
        components = {**self.components, "versions": self.result_versions()}
        tracked = tracked_config(config, components)  # analysis groups wandb runs by these
        with tracking(self.cfg.wandb, self.run_dir, self.run_dir.name, tracked) as self.tracker:
            results = self._run_loop(config)
            self.tracker.summary({"test/accuracy": results["metrics"]["test"]["accuracy"]})
            self.tracker.summary(flat_metrics("teacher", results["teacher_usage"]))
        if self.tracker.error:  # visible in results.json; the numbers are the same as untracked
            results["tracking"] = {"mode": self.cfg.wandb.mode, "error": self.tracker.error}
            write_json(self.run_dir / "results.json", results)
        return results

    def _run_loop(self, config: dict[str, Any]) -> dict[str, Any]:
        seed_stage = self._seed_stage()
        seed_data = load_examples(seed_stage.path / "seed.jsonl")
        val, test = (
            load_examples(seed_stage.path / "val.jsonl"),
            load_examples(seed_stage.path / "test.jsonl"),
        )
        # the equal-information control (sft_val) trains on the labelled validation items too
        extra = val if self.method.trains_on_validation else []
        state = LoopState(seed_data, [*seed_data, *extra], upstream=seed_stage.key)
        for i in range(self.loop.iterations + 1):
            last = i == self.loop.iterations
            evaluated = self._train_and_eval(i, state, val, last)
            if last or stalled(state.rows, self.loop.early_stop_patience):
                break
            held_out = test if self.method.trains_on_validation else val + test
            self._augment_round(i, state, evaluated, held_out)
        chosen = selected(state.rows, self.loop.select)
        train_key, adapter, evaluated = state.trained[chosen]
        state.rows[chosen]["selected"] = True
        test_stage = self._eval_stage("test", {"test": test}, train_key, adapter)
        results = self._write_results(
            config, seed_data, state.train_data, val, test, state.rows, evaluated, test_stage
        )
        if self.cfg.eval.lm_eval.enabled:  # after test, so pada's own results are on disk even if it fails
            add_lm_eval(self, results, train_key, adapter, test)
        return results

    def _train_and_eval(self, i: int, state: LoopState, val: list[Example], last: bool):
        """Round ``i``'s training (skipped by method.train=false) and evaluation; appends its row."""
        trains = self.cfg.method.get("train", True)  # false: score the untouched base model (method=base)
        train = self._train_stage(i, state.train_data, state.upstream, state.previous) if trains else None
        adapter, train_key = (train.path / "model", train.key) if train else (None, f"base:{state.upstream}")
        state.previous = train.path if train and self.cfg.trainer.init_from == "previous" else None
        scored = scores_validation(i, self.loop, self.method, eval_val_setting(self.cfg))  # run.eval_val
        splits, lengths = {"val": val} if scored else {}, {}
        if not last and self.method.needs_train_eval:
            splits["train"] = state.train_data
            if length := self.method.train_eval_max_new_tokens(self.task):
                lengths["train"] = length
        evaluated = self._eval_stage(f"eval_{i}", splits, train_key, adapter, lengths)
        # On every invocation, cached or not: a cell killed before the method scored its report resumes here.
        if state.augment is not None:
            self._after_next_eval(state.augment.path, state.trained[-1][2].path, evaluated.path)
            self.stages.refresh(state.augment)  # the amended report stays part of the stage's manifest
        row = {
            "iteration": i,
            "train_examples": len(state.train_data),
            **(train.info if train else {}),
            **{f"{s}_accuracy": m["accuracy"] for s, m in evaluated.info.items()},
        }
        self.tracker.log({f"iteration/{k}": v for k, v in row.items() if isinstance(v, int | float)})
        state.rows.append(row)
        state.trained.append((train_key, adapter, evaluated))
        return evaluated

    def _augment_round(self, i: int, state: LoopState, evaluated, held_out: list[Example]) -> None:
        """Round ``i``'s augment stage: the method proposes from this round's evaluation, the runner
        checks quota and decontamination against ``held_out``; the kept items join the training data."""
        method_state = IterationState(
            iteration=i,
            task=self.task,
            seed_data=state.seed_data,
            train_data=state.train_data,
            train_records=load_records(evaluated.path / "train.jsonl"),
            val_records=fairness.failures(load_records(evaluated.path / "val.jsonl"), self.method),
            teacher=self.teacher,
            rng=random.Random(stable_hash([self.cfg.seed, i])),
            workdir=self.run_dir,
            quota=self._quota(i, len(state.train_data) - len(state.seed_data)),
        )
        state.augment = self._augment_stage(i, method_state, evaluated.key, held_out)
        state.train_data = state.train_data + load_examples(state.augment.path / "new.jsonl")
        state.upstream = state.augment.key

    def _quota(self, i: int, added_so_far: int) -> Quota:
        """Round ``i``'s quota: synthetic examples (``fairness.quota_for``) and, under ``teacher_budget``,
        the teacher allowance left after the rounds before it (``fairness.effort_for``)."""
        quota = fairness.quota_for(self.cfg, i, self.loop.iterations, added_so_far)
        before = [self.stages.results[f"augment_{j}"].info for j in range(i)]
        used = [
            fairness.effort_of(info["teacher_usage"]["total"]) for info in before if "teacher_usage" in info
        ]
        spent_before = {key: sum(u[key] for u in used) for key in ("calls", "tokens")}
        allowance = fairness.effort_for(self.cfg, i, self.loop.iterations, spent_before) or {}
        return replace(quota, teacher_tokens=allowance.get("tokens"), teacher_calls=allowance.get("calls"))

    def _write_results(self, config, seed_data, train_data, val, test, iterations, last_eval, test_stage):
        results = cell_results(
            self, config, seed_data, train_data, val, test, iterations, last_eval, test_stage
        )
        write_json(self.run_dir / "results.json", results)
        return results

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None  # a later evaluate() builds a fresh one (the lm_eval stage closes us first)
        if self.teacher is not None:
            self.teacher.close()


@contextlib.contextmanager
def _released():
    try:
        yield
    finally:
        release_memory()


def run_cell(cfg: DictConfig) -> dict[str, Any]:
    cell = Cell(cfg)
    try:
        with cell_lock(cell.run_dir, cfg.run.get("lock_timeout")):
            return cell.run()
    finally:
        cell.close()

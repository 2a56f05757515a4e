"""Every key of a user's task YAML (``_target_: pada.tasks.user.UserTask``): the ones it must set
(``REQUIRED``), the defaults of the others with why (``DEFAULTS``), and how left-out keys take them.

docs/tasks.md's key reference is generated from these (``pada.tasks.reference``); the cell identity fills
the defaults in (``with_defaults``, pada/run/identity.py), so writing a default out names the same cell.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCORERS = ("numeric", "exact", "normalized", "regex", "choice", "code")


@dataclass(frozen=True)
class Setting:
    """An optional key of a user's task: its default and why (docs/tasks.md's key reference reads these)."""

    default: Any
    why: str


# The keys a user's task YAML must set; anything else takes its default from DEFAULTS.
REQUIRED = {
    "name": "names the cells (<name>-b<budget>-...) and the table column",
    "scorer": f"how an output is scored: one of {', '.join(SCORERS)}",
    "prompt_template": "the user turn: {question} (choice adds {options} {letters}; code adds {tests})",
    "fields.question": "the field (JSON key or CSV column) holding the question",
    "fields.answer": "the field holding the gold answer (code: the reference solution)",
    "files.train": "the seed pool's file (or, without paths.data_dir, hub_id with hub_splits.train)",
}

# Every optional key of a user's task, in one place: a key left out or set to null takes this value, in `pada run`, `pada preflight` and `pada data check` alike, and in the cell's identity (writing a
# default out names the same cell as leaving it out). Dotted keys are entries of a mapping.
DEFAULTS: dict[str, Setting] = {
    "local_subdir": Setting(
        None, "files are relative to paths.data_dir itself (an absolute folder needs none)"
    ),
    "files.val": Setting(None, "no validation file: validation is carved from train (val_size)"),
    "files.test": Setting(None, "no test file: test is carved from train (test_size)"),
    "files.fewshot": Setting(None, "no file of in-context examples"),
    "csv_columns": Setting(None, "CSV only: the first row names the columns"),
    "fields.id": Setting(None, "ids are <name>/<file key>/<row index>"),
    "fields.choices": Setting(None, "scorer choice needs it: one field holding a list, or a list of fields"),
    "fields.tests": Setting(None, "scorer code needs it: a list of asserts, or one string of them"),
    "fields.target": Setting(None, "the training target is target_template, filled from the row"),
    "fields.setup": Setting(None, "scorer code: no setup code before the tests"),
    "val_size": Setting(None, "must be positive when files.val is null (carved from train)"),
    "test_size": Setting(None, "must be positive when files.test is null (carved from train)"),
    "split_seed": Setting(
        1234, "one fixed permutation for every run, seed and method, as GSM8K's validation"
    ),
    "target_template": Setting(
        None,
        "null: the scorer's own, which its extractor reads back: numeric '#### {answer}', choice "
        "'The best answer is {letter}.', code the reference in a fence, others '{answer}'",
    ),
    "extraction": Setting(
        "flexible", "numeric: '#### N' first, else the last number (lm-eval's flexible-extract)"
    ),
    "answer_regex": Setting(None, "exact/normalized read the whole output; scorer regex needs it"),
    "bad_rows": Setting(
        "error", "a malformed row stops loading, naming file:line (skip: counted and left out)"
    ),
    "expected_sizes": Setting(None, "`pada data check` compares split sizes only with these given"),
    "system_prompt": Setting(None, "the student's chat template default"),
    "description": Setting(None, "what the teacher is told the task is; null: the task's name"),
    "fewshot.source": Setting("fewshot", "shots come from files.fewshot (or pool: the seed pool)"),
    "fewshot.n": Setting(0, "zero-shot: the prompt template states the answer format"),
    "fewshot.same": Setting(None, "shots need not share a meta field (MMLU uses subject)"),
    "max_new_tokens": Setting(256, "lm-eval's default max_gen_toks for generate_until tasks"),
    "stop": Setting([], "EOS ends a turn under the chat template"),
    "limits.val": Setting(None, "evaluate every validation item (a number: the first N, for smoke runs)"),
    "limits.test": Setting(None, "evaluate every test item"),
    "hub_id": Setting(None, "no Hub dataset: the files under paths.data_dir"),
    "hub_config": Setting(None, "the Hub dataset's default configuration"),
    "hub_splits.train": Setting("train", "the Hub split the seed pool comes from"),
    "hub_splits.val": Setting(None, "no Hub validation split: carved from train (val_size)"),
    "hub_splits.test": Setting(None, "no Hub test split: carved from train (test_size)"),
    "hub_splits.fewshot": Setting(None, "no Hub split of in-context examples"),
    "confirm_run_unsafe_code": Setting(False, "scorer code: opt in to running model code (lm-eval's flag)"),
    "sandbox.timeout_s": Setting(120, "scorer code: wall-clock backstop, as conf/task/mbpp.yaml"),
    "sandbox.cpu_s": Setting(10, "scorer code: the CPU-time limit that decides, as conf/task/mbpp.yaml"),
    "sandbox.memory_mb": Setting(1024, "scorer code: address space per program, as conf/task/mbpp.yaml"),
    "sandbox.workers": Setting(None, "scorer code: one program per CPU core at once"),
}

_TARGET_TEMPLATES = {"numeric": "#### {answer}", "choice": "The best answer is {letter}."}


def defaults_tree(scorer: Any) -> dict[str, Any]:
    """DEFAULTS as a nested mapping, with ``target_template`` resolved for ``scorer``."""
    tree: dict[str, Any] = {}
    for dotted, setting in DEFAULTS.items():
        node, _, leaf = dotted.rpartition(".")
        (tree.setdefault(node, {}) if node else tree)[leaf] = copy.deepcopy(setting.default)
    tree["target_template"] = _TARGET_TEMPLATES.get(scorer, "{answer}")
    return tree


def _fill(target: Any, tree: dict[str, Any]) -> None:
    """Set in ``target`` (a dict or a config node) every key of ``tree`` it leaves out or sets to null."""
    for key, default in tree.items():
        if isinstance(default, dict):
            if not isinstance(target.get(key), Mapping):
                target[key] = {}
            _fill(target[key], default)
        elif key not in target or (target.get(key) is None and default is not None):
            target[key] = copy.deepcopy(default)


def with_defaults(task: dict[str, Any]) -> dict[str, Any]:
    """``task`` (a user task's node as a plain dict) with every key it leaves out or sets to null taken
    from DEFAULTS; its own values win. The cell identity uses it (pada.run.identity), so writing a default
    out names the same cell as leaving it out."""
    filled = copy.deepcopy(task)
    _fill(filled, defaults_tree(task.get("scorer")))
    return filled


def fill_defaults(cfg: Any) -> None:
    """``with_defaults`` on the task's own config node, in place: the runner, the lm-eval stage and
    preflight read ``cfg.task.limits`` and the like from the cell config, which holds this same node."""
    from omegaconf import open_dict

    with open_dict(cfg):
        _fill(cfg, defaults_tree(cfg.get("scorer")))

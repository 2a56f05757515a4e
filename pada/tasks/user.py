"""A user's own task from a YAML file and data files, no code (``_target_: pada.tasks.user.UserTask``).

The YAML names the data files (JSON lines, optionally gzipped, or CSV; or Hub splits), which fields hold the question,
answer, choices and tests, how validation and test are made (their own files, or carved from train by one
fixed permutation, as GSM8K's validation is), the prompt and target templates, and the scorer:

- ``numeric``: GSM8K's rules (``pada.tasks.gsm8k``): the ``#### N`` line, else (``extraction: flexible``)
  the last number; numbers compared after removing ``,`` ``$`` and a trailing ``.``;
- ``exact``: the extracted text (the whole output, or ``answer_regex``'s match) equals the gold answer,
  both stripped;
- ``normalized``: as exact after SQuAD's normalisation (lower case, no punctuation, no articles a/an/the,
  single spaces; Rajpurkar et al. 2016, the official evaluation script);
- ``regex``: ``answer_regex`` extracts the answer (its first group, else the whole match; the last match
  wins, as lm-eval's ``regex`` filter with ``group_select: -1``), compared as exact;
- ``choice``: multiple choice with lettered options (``pada.tasks.multiple_choice``);
- ``code``: the output's code must pass the row's tests in the sandbox (``pada.tasks.code``).

Generated items take the shape the scorer implies (``pada.tasks.synthetic``): choice tasks get choice items,
code tasks code items, every other scorer math-style items (question, solution whose extracted answer is the
key), so every augmentation method works on a user's task. A malformed row is one error naming file:line.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
import string
from pathlib import Path
from typing import Any

from pada.errors import PadaError
from pada.io import sha256_file
from pada.tasks.base import Splits, Task
from pada.tasks.code import CodeTask, asserts_something
from pada.tasks.files import _bad, check_unique_ids, read_jsonl_rows, read_utf8
from pada.tasks.gsm8k import extract_number, final_answer, normalise_number
from pada.tasks.multiple_choice import LETTERS, MultipleChoiceTask
from pada.tasks.user_keys import DEFAULTS, REQUIRED, SCORERS, fill_defaults, with_defaults
from pada.types import Example

# Re-exported: the key reference (pada/tasks/reference.py), the cell identity and docs read them here.
__all__ = ["DEFAULTS", "REQUIRED", "SCORERS", "UserTask", "with_defaults"]


_SPLIT_FILES = ("train", "val", "test", "fewshot")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_text(text: str) -> str:
    """SQuAD's answer normalisation: lower case, punctuation and articles removed, whitespace collapsed."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


class UserTask(Task):
    """A task defined by its YAML alone; ``UserTask(cfg)`` builds the subclass for ``cfg.scorer``."""

    name = "files"
    # 1.1: wrapped letters read (`C`, **C**); code: the solution is a module, namedtuple results compare;
    # 1.2: optional keys take DEFAULTS, a numeric gold that is nan/inf (no digit or not finite) is a bad row
    version = "1.2"
    version_sources = (
        "pada.tasks.user_keys",
        "pada.tasks.files",
        "pada.tasks.gsm8k",
        "pada.tasks.multiple_choice",
        "pada.tasks.code",
        "pada.sandbox.runner",
        "pada.sandbox.boot",
    )

    def __new__(cls, cfg: Any):
        if cls is not UserTask:
            return super().__new__(cls)
        scorer = cfg.get("scorer")
        if scorer not in SCORERS:
            raise PadaError(f"task {cfg.get('name')}: scorer={scorer!r}; choose one of {', '.join(SCORERS)}")
        chosen = {"choice": UserChoiceTask, "code": UserCodeTask}.get(scorer, UserAnswerTask)
        return super().__new__(chosen)

    def __init__(self, cfg: Any):
        if not isinstance(cfg.get("name"), str) or not cfg.get("name"):
            raise PadaError(f"task.name is required: {REQUIRED['name']}; it is {cfg.get('name')!r}")
        if not isinstance(cfg.get("prompt_template"), str) or not cfg.get("prompt_template"):
            raise PadaError(
                f"task {cfg.name}: task.prompt_template is required ({REQUIRED['prompt_template']})"
            )
        if hasattr(cfg, "_get_node"):  # a config node: its left-out keys get their defaults, in place
            fill_defaults(cfg)
        super().__init__(cfg)
        self.name = cfg.name  # the user's name: cell names, tables and prompts say it, not "files"
        for key, holds in (("question", "the question"), ("answer", "the gold answer")):
            if not isinstance(self.field(key), str) or not self.field(key):
                # checked here, before any stage: an unset field would surface as a KeyError on the first row
                raise PadaError(
                    f"task {self.name}: task.fields.{key} must name the field (JSON key or CSV column) "
                    f"holding {holds}; it is {self.field(key)!r}"
                )

    # -- reading -----------------------------------------------------------------------------------------
    def field(self, key: str) -> Any:
        return (self.cfg.get("fields") or {}).get(key)

    def required_fields(self) -> list[str]:
        names = [self.field("question"), self.field("answer"), self.field("id"), self.field("target")]
        return [n for n in names if n]

    def check_row(self, row: dict[str, Any]) -> str | None:
        """What is wrong with a row (reported with its file:line), or None; subclasses add their checks."""
        question = row[self.field("question")]
        if not isinstance(question, str) or not question.strip():
            return f"field {self.field('question')!r} must be a non-empty string"
        return None

    def _path(self, relative: str, data_dir: Path | None) -> Path:
        """``<data_dir>/<local_subdir>/<file>``, as the built-in tasks; an absolute path is taken as it is, and
        an absolute ``local_subdir`` needs no data dir (a user's task naming its own data folder)."""
        path = Path(relative).expanduser()
        subdir = Path(self.cfg.get("local_subdir") or ".").expanduser()
        if not path.is_absolute() and subdir.is_absolute():
            path = subdir / path
        elif not path.is_absolute() and data_dir is not None:
            path = Path(data_dir) / subdir / path
        if not path.is_file():
            raise PadaError(
                f"task {self.name}: data file {path} not found; task.files are absolute, or relative to "
                "<paths.data_dir>/<task.local_subdir> (paths.data_dir: --data-dir or PADA_DATA_DIR)"
            )
        return path

    def _read(self, path: Path | None, split: str) -> list[Example]:
        """The items of one file; a bad row (a missing field, a wrong value, a template naming a field the row
        lacks) is an error naming ``path:line``, or is skipped under ``bad_rows: skip``. ``path`` None: the Hub."""
        keys = tuple(self.required_fields())
        items: list[Example] = []

        def build(row: dict[str, Any]) -> str | None:
            problem = self.check_row(row)
            if problem is None:
                id_field = self.field("id")
                item_id = f"{self.name}/{row[id_field]}" if id_field else f"{self.name}/{split}/{len(items)}"
                if item_id in self._seen_ids:  # the reader prefixes this row's file:line
                    return (
                        f"id {row[id_field]!r} is an earlier row's id too (fields.id {id_field!r} must be "
                        "unique over all files)"
                    )
                self._seen_ids.add(item_id)
                try:
                    items.append(self.example(row, item_id))
                except (
                    KeyError,
                    IndexError,
                    ValueError,
                    PadaError,
                ) as error:  # e.g. a template's unknown field
                    problem = f"cannot build the item ({type(error).__name__}: {error})"
            return problem

        if path is None:
            self._read_hub(split, keys, build)
        elif path.suffix == ".csv":
            self._read_csv(path, keys, build)
        else:
            read_jsonl_rows(path, keys, self.bad_rows_sink, build)
        return items

    def _read_hub(self, split: str, keys: tuple[str, ...], build) -> None:
        """Rows of the Hub split ``hub_splits[split]``; a bad row is named ``<hub_id>:<split>:<row number>``."""
        from pada.tasks import files

        hub_split = self.cfg.hub_splits[split]
        for number, row in enumerate(self._hub()[hub_split], start=1):
            row = dict(row)
            missing = [k for k in keys if k not in row]
            problem = (
                f"row lacks the field(s) {missing} (it has {sorted(row)[:8]})" if missing else build(row)
            )
            if problem:
                files._bad(f"{self.cfg.hub_id}:{hub_split}:{number}: {problem}", self.bad_rows_sink)

    def _hub(self):
        if not hasattr(self, "_dataset"):
            from pada.tasks import files  # looked up at call time: tests replace the loader

            self._dataset = files.load_hub_dataset(self.cfg.hub_id, self.cfg.get("hub_config"))
        return self._dataset

    def _read_csv(self, path: Path, keys: tuple[str, ...], build) -> None:
        columns = self.cfg.get("csv_columns")  # null: the first row names the columns
        reader = csv.reader(io.StringIO(read_utf8(path), newline=""))
        try:
            header = list(columns) if columns else next(reader, [])
            start = reader.line_num + 1
            for record in reader:
                where, start = f"{path}:{start}", reader.line_num + 1  # a quoted field may span lines
                if not record:
                    continue
                problem = self._csv_problem(record, header, keys) or build(
                    dict(zip(header, record, strict=True))
                )
                if problem:
                    _bad(f"{where}: {problem}", self.bad_rows_sink)
        except csv.Error as error:
            raise PadaError(f"{path}:{reader.line_num}: not valid CSV ({error})") from error

    @staticmethod
    def _csv_problem(record: list[str], header: list[str], keys: tuple[str, ...]) -> str | None:
        if len(record) != len(header):
            return f"expected {len(header)} columns ({', '.join(header)}), found {len(record)}"
        missing = [k for k in keys if k not in header]
        return f"no column(s) {missing} (columns: {header})" if missing else None

    def _items(self, key: str, data_dir: Path | None) -> tuple[list[Example], dict[str, str]]:
        if data_dir is None and self.cfg.get("hub_id"):  # no paths.data_dir: the Hub, as the built-in tasks
            hub_split = (self.cfg.get("hub_splits") or {}).get(key)
            if not hub_split:
                return [], {}
            items = self._read(None, key)
            fingerprint = getattr(self._hub()[hub_split], "_fingerprint", "")  # datasets' content hash
            return items, {f"hub:{self.cfg.hub_id}/{hub_split}": fingerprint}
        relative = (self.cfg.get("files") or {}).get(key)
        if not relative:
            return [], {}
        path = self._path(relative, data_dir)
        label = str(Path(self.cfg.get("local_subdir") or ".") / relative)  # null is the documented default
        return self._read(path, key), {label: sha256_file(path)}

    # -- splits ------------------------------------------------------------------------------------------
    def load(self, data_dir: Path | None) -> Splits:
        source = "hub_splits" if data_dir is None and self.cfg.get("hub_id") else "files"
        if not (self.cfg.get(source) or {}).get("train"):
            raise PadaError(
                f"task {self.name}: task.{source}.train is required (where the seed pool comes from)"
            )
        hashes: dict[str, str] = {}
        examples: dict[str, list[Example]] = {}
        self._seen_ids: set[str] = set()  # ids over every file, so a repeat is named by its file:line
        for key in _SPLIT_FILES:
            examples[key], digest = self._items(key, data_dir)
            hashes |= digest
        pool, val, test = self._carve(examples)
        check_unique_ids([e.id for e in [*pool, *val, *test, *examples["fewshot"]]], f"task {self.name}")
        return Splits(pool=pool, val=val, test=test, files=hashes, fewshot=examples["fewshot"])

    def _carve(self, examples: dict[str, list[Example]]) -> tuple[list, list, list]:
        """Validation and test from their own files, or carved from train by one fixed permutation
        (``split_seed``): the first ``test_size`` items of it are test, the next ``val_size`` validation."""
        train = examples["train"]
        sizes = {s: 0 if examples[s] else int(self.cfg.get(f"{s}_size") or 0) for s in ("test", "val")}
        for split, size in sizes.items():
            if not examples[split] and size <= 0:
                raise PadaError(f"task {self.name}: give task.files.{split} or a positive task.{split}_size")
        if sizes["test"] + sizes["val"] >= len(train):
            raise PadaError(
                f"task {self.name}: test_size + val_size = {sizes['test'] + sizes['val']} leaves no "
                f"seed pool ({len(train)} train items)"
            )
        order = list(range(len(train)))
        random.Random(self.cfg.get("split_seed", 1234)).shuffle(order)
        test_ids = set(order[: sizes["test"]])
        val_ids = set(order[sizes["test"] : sizes["test"] + sizes["val"]])
        pool = [e for i, e in enumerate(train) if i not in test_ids | val_ids]
        test = examples["test"] or [train[i] for i in sorted(test_ids)]
        val = examples["val"] or [train[i] for i in sorted(val_ids)]
        return pool, val, test

    def example(self, row: dict[str, Any], item_id: str) -> Example:
        raise NotImplementedError  # every scorer's subclass builds its items


class UserAnswerTask(UserTask):
    """Scorers numeric, exact, normalized and regex: one answer string per item."""

    def check_row(self, row: dict[str, Any]) -> str | None:
        answer = row[self.field("answer")]
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)) or not str(answer).strip():
            return f"field {self.field('answer')!r} must be a non-empty string or a number"
        if self.cfg.scorer == "numeric" and _numeric_gold(str(answer)) is None:
            return f"field {self.field('answer')!r} holds no number ({str(answer)[-60:]!r})"
        return super().check_row(row)

    def example(self, row: dict[str, Any], item_id: str) -> Example:
        question = row[self.field("question")]
        raw = str(row[self.field("answer")])
        answer = _numeric_gold(raw) if self.cfg.scorer == "numeric" else self._canonical(raw.strip())
        target_field = self.field("target")
        target = (
            str(row[target_field]) if target_field else self.cfg.target_template.format(answer=raw.strip())
        )
        return Example(
            id=item_id,
            prompt=self.user_prompt(question),
            target=target,
            answer=answer,
            meta={"question": question},
        )

    def _canonical(self, text: str) -> str:
        return normalize_text(text) if self.cfg.scorer == "normalized" else text.strip()

    def extract(self, output: str) -> str | None:
        if self.cfg.scorer == "numeric":
            return extract_number(output, self.cfg.get("extraction", "flexible"))
        pattern = self.cfg.get("answer_regex")
        if self.cfg.scorer == "regex" and not pattern:
            raise PadaError(f"task {self.name}: scorer regex needs task.answer_regex")
        if pattern:
            matches = list(re.finditer(pattern, output))
            if not matches:
                return None
            last = matches[-1]
            text = last.group(1) if last.re.groups else last.group(0)
        else:
            text = output
        return self._canonical(text) or None

    def is_correct(self, extracted: str | None, example: Example) -> bool:
        return extracted is not None and extracted == example.answer


def _numeric_gold(text: str) -> str | None:
    """The gold number of an answer field: its ``#### N`` line (a GSM8K solution) or the field itself;
    None when it is no number an output could equal: not a number, or one without a digit or not finite
    (``nan``, ``inf``, ``-Infinity`` parse as floats, but the extractor only ever reads digits)."""
    strict = final_answer(text)
    value = strict if strict is not None else normalise_number(text)
    try:
        number = float(value)
    except ValueError:
        return None
    return value if math.isfinite(number) and re.search(r"[0-9]", value) else None


class UserChoiceTask(UserTask, MultipleChoiceTask):
    """Scorer choice: ``fields.choices`` is one field holding a list, or a list of fields (CSV columns).

    The answer field holds a letter (A, B, ...), a 0-based index, or the text of the correct option."""

    def required_fields(self) -> list[str]:
        choices = self.field("choices")
        if not choices:
            raise PadaError(f"task {self.name}: scorer choice needs task.fields.choices")
        return [*super().required_fields(), *([choices] if isinstance(choices, str) else choices)]

    def _choices(self, row: dict[str, Any]) -> list[str]:
        spec = self.field("choices")
        values = row[spec] if isinstance(spec, str) else [row[c] for c in spec]
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            raise PadaError(f"choices must be a list of non-empty strings, got {values!r}"[:200])
        if not 2 <= len(values) <= len(LETTERS):
            raise PadaError(f"{len(values)} choices; a choice item has 2 to {len(LETTERS)}")
        return [str(v) for v in values]

    def _letter(self, answer: Any, choices: list[str]) -> str | None:
        letters = LETTERS[: len(choices)]
        text = str(answer).strip()
        if isinstance(answer, int) and not isinstance(answer, bool):
            return letters[answer] if 0 <= answer < len(choices) else None
        if text in letters:
            return text
        return letters[choices.index(text)] if text in choices else None

    def check_row(self, row: dict[str, Any]) -> str | None:
        try:
            choices = self._choices(row)
        except PadaError as error:
            return str(error)
        if self._letter(row[self.field("answer")], choices) is None:
            answer = row[self.field("answer")]
            return f"answer {answer!r} is not a letter, a 0-based index or the text of one of {len(choices)} choices"
        return super().check_row(row)

    def example(self, row: dict[str, Any], item_id: str) -> Example:
        choices = self._choices(row)
        letter = self._letter(row[self.field("answer")], choices)
        labels = list(LETTERS[: len(choices)])
        return self.make_example(item_id, row[self.field("question")], choices, labels, letter)


class UserCodeTask(UserTask, CodeTask):
    """Scorer code: ``fields.tests`` holds a list of Python asserts (or one string of them), ``fields.answer``
    a reference solution, ``fields.setup`` (optional) code run before the tests."""

    def required_fields(self) -> list[str]:
        if not self.field("tests"):
            raise PadaError(f"task {self.name}: scorer code needs task.fields.tests")
        setup = [self.field("setup")] if self.field("setup") else []
        return [*super().required_fields(), self.field("tests"), *setup]

    def check_row(self, row: dict[str, Any]) -> str | None:
        tests = _test_lines(row[self.field("tests")])
        if not any(asserts_something(t) for t in tests):  # lines are stripped: test each
            return (
                f"field {self.field('tests')!r} must hold asserts (an item without tests passes any program)"
            )
        if not isinstance(row[self.field("answer")], str) or not row[self.field("answer")].strip():
            return f"field {self.field('answer')!r} must hold the reference solution's code"
        return super().check_row(row)

    def example(self, row: dict[str, Any], item_id: str) -> Example:
        setup = row[self.field("setup")] if self.field("setup") else ""
        return self.make_example(
            item_id,
            row[self.field("question")],
            row[self.field("answer")],
            _test_lines(row[self.field("tests")]),
            setup,
        )

    def make_example(
        self, item_id: str, text: str, code: str, tests: list[str], setup: str = "", **meta
    ) -> Example:
        """An item of this task; generated code items (pada.tasks.synthetic) are built here too."""
        joined = "\n".join(tests)
        code = code.replace("\r\n", "\n").strip("\n")
        return Example(
            id=item_id,
            prompt=self.cfg.prompt_template.format(question=text, tests=joined),
            target=f"```python\n{code}\n```",
            answer=code,
            meta={**meta, "question": text, "tests": joined, "setup": setup, "text": text},
        )


def _test_lines(tests: Any) -> list[str]:
    lines = tests.splitlines() if isinstance(tests, str) else tests if isinstance(tests, list) else []
    return [t.strip() for t in lines if isinstance(t, str) and t.strip()]

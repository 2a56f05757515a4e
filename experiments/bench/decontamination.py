"""The runner's decontamination measured as a classifier: recall on paraphrases of held-out items, false
rejections of fresh items, and its cost per 1,000 proposals (docs/baselines.md, "Semantic decontamination").

    python experiments/bench/decontamination.py [--data-dir DIR] [--tasks sim_arith,gsm8k,arc_challenge,mbpp]
        [--split dev|report] [--per-class 200] [--fresh 500] [--out DIR]

Positives: each held-out (validation + test) item of the sampled half, rewritten by each paraphrase class
below (a class is counted only on the items it changes; MBPP's rewrites keep the held-out item's own
reference solution, so the runner's execution check, which runs a semantic match's code on the held-out
tests, confirms them by construction). Negatives: fresh items written independently of
the held-out ones: new draws of the simulated world (those that are verbatim a held-out text are left out:
the surface check owns them), and the training pools of GSM8K, ARC-Challenge and MBPP. ``--split dev``
(even-indexed held-out items, the first half of the fresh items) is what the thresholds were set on;
``--split report`` (the other halves) is what docs/baselines.md reports. Every generator is seeded.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load_average, machine  # noqa: E402

sys.path.insert(0, str(ROOT))

# -- paraphrase classes ------------------------------------------------------------------------------
SYNONYMS = {
    "has": "owns",
    "have": "own",
    "buys": "purchases",
    "bought": "purchased",
    "gets": "receives",
    "gives": "hands",
    "total": "overall",
    "many": "much",
    "each": "every",
    "more": "additional",
    "left": "remaining",
    "sells": "trades",
    "makes": "earns",
    "pays": "spends",
    "spent": "paid",
    "wants": "would like",
    "needs": "requires",
    "how": "how",
    "every": "each",
    "day": "daily period",
    "week": "seven-day week",
    "store": "shop",
    "money": "cash",
    "price": "cost",
    "costs": "is priced at",
    "takes": "needs",
    "friends": "pals",
    "children": "kids",
    "house": "home",
    "car": "vehicle",
    "which": "what",
    "best": "most accurately",
    "most": "the most",
    "likely": "probably",
    "explains": "accounts for",
    "describes": "characterizes",
    "causes": "produces",
    "scientists": "researchers",
    "students": "pupils",
    "plant": "green plant",
    "write": "create",
    "function": "python function",
    "find": "compute",
    "given": "provided",
    "list": "python list",
    "string": "text string",
    "number": "integer",
    "check": "test",
    "add": "sum",
    "plus": "added to",
    "minus": "take away",
    "times": "multiplied by",
    "multiply": "times",
    "subtract": "take",
    "larger": "greater",
    "bigger": "greater",
    "what": "tell me what",
}
CONTEXT = [
    "This question comes from a practice worksheet.",
    "Read the problem carefully before you answer.",
    "Here is a problem a teacher wrote for her class.",
]
NAMES = ["Priya", "Kofi", "Ingrid", "Mateo", "Yuki", "Olu", "Svetlana", "Diego"]
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _case(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def synonym_swap(text: str, rng: random.Random, most: int = 3) -> str:
    """Up to ``most`` words replaced by a synonym (case kept)."""
    words = [m for m in re.finditer(r"[A-Za-z]+", text) if m.group(0).lower() in SYNONYMS]
    for m in sorted(rng.sample(words, min(most, len(words))), key=lambda m: -m.start()):
        text = text[: m.start()] + _case(SYNONYMS[m.group(0).lower()], m.group(0)) + text[m.end() :]
    return text


def in_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + (" and " + in_words(rest) if rest else "")
    rest = n % 1000
    return in_words(n // 1000) + " thousand" + (" " + in_words(rest) if rest else "")


def digits_as_words(text: str) -> str:
    """Every whole number below a million written in words ("42" -> "forty-two")."""
    pattern = r"(?<![\d.,$])\d{1,3}(?:,\d{3})?(?![\d.,]\d|\d|[A-Za-z])"  # not "20th", "1930s"
    return re.sub(pattern, lambda m: in_words(int(m.group(0).replace(",", ""))), text)


# Common English first names (US Social Security Administration's most frequent given names, written out
# here: no names package is a dependency). Only these are renamed: a capitalised word is often not a person
# ("Earth", "Sun", "Wind" in ARC), and renaming it makes another question, not a paraphrase.
_FIRST_NAMES_TEXT = """
    Aaron Abby Adam Adrian Aiden Alex Alexa Alexis Alice Allison Amanda Amber Amelia Amy Ana Andrea Andrew
    Andy Angela Ann Anna Anne Anthony Ashley Austin Ava Barbara Ben Benjamin Beth Betty Bill Billy Blake Bob
    Brad Brandon Brenda Brian Brittany Bruce Caleb Cameron Carl Carla Carlos Carol Caroline Carter Catherine
    Charles Charlie Charlotte Chloe Chris Christian Christina Christopher Cindy Claire Cody Colin Connor
    Daniel Danny David Dean Debbie Dennis Derek Diana Diane Dominic Donald Donna Dorothy Dylan Edward Elijah
    Elizabeth Ella Ellen Emily Emma Eric Erica Erin Ethan Eva Evan Evelyn Frank Gabriel Gary George Gina
    Grace Greg Hailey Hannah Harry Heather Helen Henry Holly Ian Isaac Isabella Jack Jackson Jacob Jake James
    Jamie Jane Janet Jared Jason Jeff Jennifer Jenny Jeremy Jerry Jessica Jill Jim Jimmy Joan Joe John Johnny
    Jonathan Jordan Jose Joseph Josh Joshua Joy Juan Judy Julia Julie Justin Karen Kate Kathy Katie Kayla
    Keith Kelly Ken Kevin Kim Kyle Laura Lauren Lea Leah Lee Leo Liam Lily Linda Lisa Logan Lucas Lucy Luis
    Luke Madison Maria Mark Martha Mary Mason Matt Matthew Megan Melissa Mia Michael Michelle Mike Molly
    Nancy Natalie Nathan Nick Nicole Noah Olivia Oscar Owen Pam Pat Patrick Paul Peter Rachel Ray Rebecca
    Richard Rick Rob Robert Rose Ruby Ryan Sam Samantha Samuel Sandra Sara Sarah Scott Sean Sharon Sophia
    Stephanie Steve Steven Susan Tara Taylor Terry Thomas Tim Timothy Tina Todd Tom Tommy Tony Tracy Tyler
    Victoria Vincent Walter Wendy William Zach Zoe
"""
FIRST_NAMES = frozenset(_FIRST_NAMES_TEXT.split())


def rename_persons(text: str, rng: random.Random) -> str:
    """First names (``FIRST_NAMES``) replaced consistently by names absent from that list."""
    found = [w for w in dict.fromkeys(re.findall(r"\b[A-Z][a-z]+\b", text)) if w in FIRST_NAMES]
    for old, new in zip(found, rng.sample(NAMES, len(NAMES)), strict=False):
        text = re.sub(rf"\b{old}\b", new, text)
    return text


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def reorder_premises(text: str) -> str:
    """The premises (every sentence but the last) in reverse order, the question last."""
    parts = _sentences(text)
    return " ".join([*reversed(parts[:-1]), parts[-1]]) if len(parts) >= 3 else text


def add_context(text: str, rng: random.Random) -> str:
    return f"{rng.choice(CONTEXT)} {text}"


def free_rewrite(text: str, rng: random.Random) -> str:
    """Synonyms, reordered premises, a new opening and a restated question together (no teacher here)."""
    text = reorder_premises(synonym_swap(text, rng, most=5))
    text = re.sub(r"\bHow (many|much)\b", r"Work out how \1", text, count=1)
    return f"Consider this. {text}"


SIM_FREE = {
    "add": ["Compute the sum of {a} and {b}.", "Find the total of {a} and {b}."],
    "sub": ["Find the difference when {b} is taken from {a}.", "How much is {a} less {b}?"],
    "mul": ["Find the product of {a} and {b}.", "What do you get when {a} is multiplied by {b}?"],
    "max": ["Of {a} and {b}, which is greater?", "Name the greater of {a} and {b}."],
}


# -- tasks: held-out items, positives by class, fresh items ------------------------------------------
def _task(name: str, data_dir: Path | None) -> tuple[Any, Any]:
    from omegaconf import OmegaConf

    from pada.tasks.base import build_task

    task = build_task(OmegaConf.load(ROOT / "conf" / "task" / f"{name}.yaml"))
    return task, task.load(data_dir)


def sim_items(rng: random.Random, n_fresh: int) -> tuple[Any, list, dict, list]:
    from omegaconf import OmegaConf

    from pada.sim.world import Problem, parse, sample_problem

    task, splits = _task("sim_arith", None)
    held = splits.val + splits.test

    def example(problem: Problem, question: str, item_id: str):
        return replace(task.example(problem, item_id, "synthetic:probe"), prompt=task.user_prompt(question))

    classes: dict[str, list] = defaultdict(list)
    for i, ex in enumerate(held):
        p = parse(ex.prompt)
        q = p.question
        rewrites = {
            "synonym swaps": synonym_swap(q, rng),
            "free paraphrase": rng.choice(SIM_FREE[p.skill]).format(a=p.a, b=p.b),
            "digits as words": digits_as_words(q),
            "added context": add_context(q, rng),
            "renamed persons": rename_persons(q, rng) if p.phrasing == 2 else q,
        }
        for j in range(3):
            if j != p.phrasing:
                rewrites[f"other template {j}"] = replace(p, phrasing=j).question
        for cls, text in rewrites.items():
            if text != q:
                name = "other templates" if cls.startswith("other template") else cls
                classes[name].append((i, example(p, text, f"para/{i}/{cls}")))
    keys = {_problem_key(parse(e.prompt)) for e in held}
    texts = {e.prompt for e in held}
    weights, fresh, draw = OmegaConf.to_container(task.cfg.frequencies), [], random.Random(99)
    while len(fresh) < n_fresh:
        p = sample_problem(draw, weights)
        if p.question not in texts:
            tag = "same problem" if _problem_key(p) in keys else "new problem"
            fresh.append((tag, example(p, p.question, f"fresh/{len(fresh)}")))
    return task, held, classes, fresh


def _problem_key(p: Any) -> tuple:
    """What makes two world problems the same: the skill and its operands (unordered where it commutes)."""
    return (p.skill, *((p.a, p.b) if p.skill == "sub" else sorted((p.a, p.b))))


def text_items(name: str, data_dir: Path, rng: random.Random, n_fresh: int) -> tuple[Any, list, dict, list]:
    """GSM8K, ARC-Challenge or MBPP: each held-out item's question rewritten, the rest of the item kept."""
    task, splits = _task(name, data_dir)
    held = splits.val + splits.test
    rebuild = _rebuilder(name, task)
    classes: dict[str, list] = defaultdict(list)
    for i, ex in enumerate(held):
        q = ex.meta["question"]
        rewrites = {
            "synonym swaps": synonym_swap(q, rng),
            "free paraphrase": free_rewrite(q, rng),
            "digits as words": digits_as_words(q),
            "renamed persons": rename_persons(q, rng),
            "reordered premises": reorder_premises(q),
            "added context": add_context(q, rng),
        }
        for cls, text in rewrites.items():
            if text != q:
                classes[cls].append((i, rebuild(ex, text, f"para/{i}/{cls}")))
        if name == "mbpp":
            classes["renamed function"].append((i, _rename_function(task, ex, f"para/{i}/fn")))
    pool = list(splits.pool)
    random.Random(99).shuffle(pool)
    fresh = [replace(ex, id=f"fresh/{k}") for k, ex in enumerate(pool[:n_fresh])]
    same = _same_code_problems(task, held, fresh) if name == "mbpp" else set()
    return task, held, classes, [("same problem" if ex.id in same else "pool item", ex) for ex in fresh]


def _entry(code: str, tests: str) -> str | None:
    """The function of ``code`` that ``tests`` call (MBPP's entry point)."""
    return next((n for n in re.findall(r"def (\w+)", code) if re.search(rf"\b{n}\(", tests)), None)


def _same_code_problems(task: Any, held: list, fresh: list, nearest: int = 3) -> set[str]:
    """Ids of fresh MBPP items that are a held-out problem under another id (MBPP's splits share tasks):
    the fresh item's reference solution passes the tests of one of the ``nearest`` held-out items whose
    statements share the most words with it (its function renamed to the one those tests call). Training on
    it teaches a program that passes a held-out item: not a false rejection when the runner drops it."""
    words = [set(re.findall(r"[a-z]+", ex.meta["text"].lower())) for ex in held]
    codes, targets, owners = [], [], []
    for ex in fresh:
        mine = set(re.findall(r"[a-z]+", ex.meta["text"].lower()))
        ranked = sorted(range(len(held)), key=lambda i: -len(mine & words[i]) / len(mine | words[i] or {1}))
        own = _entry(ex.answer, ex.meta["tests"])
        for i in ranked[:nearest]:
            theirs = _entry(held[i].answer, held[i].meta["tests"])
            if own and theirs:
                codes.append(f"{ex.answer}\n{theirs} = {own}\n")
                targets.append(held[i])
                owners.append(ex.id)
    task.cfg.confirm_run_unsafe_code = True  # MBPP's own reference solutions, in pada's sandbox
    verdicts = task.run(codes, targets)
    return {owner for owner, verdict in zip(owners, verdicts, strict=True) if verdict.passed}


def _rebuilder(name: str, task: Any):
    from pada.tasks.multiple_choice import LETTERS

    def math(ex, text, item_id):
        return replace(ex, id=item_id, prompt=task.user_prompt(text), meta={"question": "stub"})

    def choice(ex, text, item_id):
        labels, letter = ex.meta["labels"], ex.answer
        gold = labels[LETTERS.index(letter)]
        built = task.make_example(item_id, text, ex.meta["choices"], labels, gold)
        return replace(built, meta={"question": "stub"})

    def code(ex, text, item_id):
        built = task.make_example(item_id, text, ex.answer, ex.meta["tests"].splitlines())
        return replace(built, meta={"question": "stub"})

    return {"gsm8k": math, "arc_challenge": choice, "mbpp": code}[name]


def _rename_function(task: Any, ex: Any, item_id: str) -> Any:
    """An MBPP item with its function renamed in the statement, the tests and the solution."""
    found = re.search(r"def (\w+)", ex.answer)
    old = found.group(1) if found else "f"
    new = f"solve_{old.lower()}_task"

    def sub(text: str) -> str:
        return re.sub(rf"\b{re.escape(old)}\b", new, text)

    built = task.make_example(item_id, ex.meta["text"], sub(ex.answer), sub(ex.meta["tests"]).splitlines())
    return replace(built, meta={"question": "stub"})


# -- measurement -------------------------------------------------------------------------------------
def _half(items: list, split: str, key=lambda pair: pair[0]) -> list:
    want = 0 if split == "dev" else 1
    return [item for item in items if key(item) % 2 == want]


def measure(
    task_name: str, data_dir: Path | None, split: str, per_class: int, n_fresh: int, rule: Any = None
) -> dict:
    from pada.methods.embedders import BUNDLED_MINILM
    from pada.run.fairness import Decontaminator
    from pada.run.semantic import Paraphrases, Rule, embed_texts

    rng = random.Random(7)
    if task_name == "sim_arith":
        task, held, classes, fresh = sim_items(rng, 2 * n_fresh)
    else:
        task, held, classes, fresh = text_items(task_name, data_dir, rng, 2 * n_fresh)
    fresh = fresh[:n_fresh] if split == "dev" else fresh[n_fresh:]
    template = task.cfg.get("prompt_template")
    start = time.perf_counter()
    embed_texts(["the encoder, loaded once per process"], BUNDLED_MINILM)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    semantic = Paraphrases(held, template, rule=rule or Rule(), cache_dir=ROOT / ".cache" / "pada")
    _ = semantic.vectors
    held_seconds = time.perf_counter() - start
    decon = Decontaminator(held, semantic=semantic, template=template, execution=_execution(task, held))
    rows: dict[str, Any] = {
        "held_out": len(held),
        "encoder_load_s": round(load_seconds, 1),
        "held_out_embedding_s": round(held_seconds, 1),
    }
    for cls, pairs in sorted(classes.items()):
        chosen = _half(pairs, split)[:per_class]
        reasons, outcomes = decon.decide([ex for _, ex in chosen])
        rows[cls] = _rates(reasons, positive=True, outcomes=outcomes if decon.execution else None)
        specific = [r for (i, _), r in zip(chosen, reasons, strict=True) if _specific(semantic.items[i])]
        rows[cls]["specific_numbers"] = _rates(specific, positive=True)  # >= min_digits or no numbers
    by_tag = defaultdict(list)
    for tag, ex in fresh:
        by_tag[tag].append(ex)
    for tag, examples in sorted(by_tag.items()):
        reasons, outcomes = decon.decide(examples)
        rows[f"fresh: {tag}"] = _rates(reasons, False, outcomes if decon.execution else None)
    rows["seconds_per_1000"] = _cost(
        decon, [ex for _, ex in fresh] + [ex for p in classes.values() for _, ex in p]
    )
    return rows


def _execution(task: Any, held: list) -> Any:
    """The runner's execution check on a code task (``build_execution_check``'s default), else None."""
    from pada.run.execution import ExecutionCheck
    from pada.tasks.code import CodeTask

    if not isinstance(task, CodeTask):
        return None
    task.cfg.confirm_run_unsafe_code = True  # MBPP's own items and bench rewrites of them, in pada's sandbox
    return ExecutionCheck(task, held)


def _specific(item: Any) -> bool:
    from pada.run.semantic import Rule

    return not item.numbers or item.specific >= Rule().min_digits


def _rates(reasons: list[str | None], positive: bool, outcomes: list | None = None) -> dict:
    """Recall (or false rejections), reasons, and on a code task the execution check's counts: semantic
    matches confirmed by the held-out tests, cleared (kept), unconfirmed (kept rejected) by cause."""
    from pada.run.execution import tally

    caught = sum(r is not None for r in reasons)
    key = "recall" if positive else "false_rejections"
    rates = {
        "n": len(reasons),
        key: round(caught / max(1, len(reasons)), 3),
        "by_reason": dict(Counter(r for r in reasons if r)),
    }
    if outcomes is not None:
        rates["execution_check"] = tally(outcomes)
    return rates


def _cost(decon: Any, examples: list, n: int = 300) -> dict:
    """Seconds per 1,000 proposals (timed on ``n``, scaled): the surface checks alone, and the semantic check
    (held-out embeddings already made, as in every augment stage after the first)."""
    batch = (examples * (1 + n // max(1, len(examples))))[:n]
    start = time.perf_counter()
    for ex in batch:
        decon.reason(ex)
    surface = time.perf_counter() - start
    start = time.perf_counter()
    found = decon.semantic.all_matches(batch)
    semantic = time.perf_counter() - start
    scale = 1000 / n
    cost = {"surface_s": round(surface * scale, 2), "semantic_s": round(semantic * scale, 2)}
    if decon.execution is not None:  # every semantic match of the batch run (the runner runs survivors')
        pairs = [(ex, [m.held_out_id for m in f]) for ex, f in zip(batch, found, strict=True) if f]
        start = time.perf_counter()
        decon.execution.outcomes(pairs)
        cost["execution_s"] = round((time.perf_counter() - start) * scale, 2)
        cost["executed_proposals"] = len(pairs)
    return {**cost, "load_average": load_average()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--tasks", default="sim_arith,gsm8k,arc_challenge,mbpp")
    parser.add_argument("--split", choices=["dev", "report"], default="report")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--fresh", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "bench" / "results")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    report: dict[str, Any] = {"machine": machine(), "split": args.split}
    for name in args.tasks.split(","):
        if name != "sim_arith" and not (args.data_dir / name.split("_")[0]).is_dir():
            print(f"{name}: skipped ({args.data_dir} has no {name.split('_')[0]}/)")
            continue
        report[name] = measure(
            name, args.data_dir if name != "sim_arith" else None, args.split, args.per_class, args.fresh
        )
        print(name, json.dumps(report[name], indent=1), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"decontamination-{args.split}.json"
    earlier = json.loads(path.read_text()) if path.is_file() else {}  # --tasks runs one task: keep the others
    path.write_text(json.dumps({**earlier, **report}, indent=1) + "\n")


if __name__ == "__main__":
    main()

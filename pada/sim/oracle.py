"""The SIMULATION's oracle teacher: plays every teacher role, understanding only the simulated world.

It reads prompts the way a real teacher would read them, but its only knowledge is pada.sim.world: it finds
the world's problems in the prompt text (``find_problems``) and the world's vocabulary for skills, phrasings
and magnitudes (``DESCRIPTORS``), and answers with the role's schema (pada.teacher.schemas). Its behaviour
is fixed in advance, identical for every method, and never looks at which method is asking.

Registered as the scripted teacher ``sim_oracle`` (``teacher=sim_oracle``).

Where the simulated PaDA-Agent lead comes from (issue 28): an error analysis states the failed item's
hidden skill, phrasing and magnitude in the very words ``generation`` reads back, so a strategy names a
hidden group and the generator samples fresh items from exactly that group. ``teacher.analysis_fidelity``
(conf/teacher/sim_oracle.yaml) declares how often an analysis reads the failed item at all; `make demo`
sweeps it (1.0 and the uninformative 0.0) and a one-group world where targeting cannot help.

Declared imperfections (``noise``, from ``task.teacher_noise`` in conf/task/sim_arith.yaml, fixed before
any result was seen; reasons there and in docs/agent.md): a share of error analyses that name wrong
properties or none (vague), generation and paraphrases that drift off what was asked, and a verifier that
accepts some wrong solutions and rejects some right ones. Every role is noisy in the same way for every
method that uses it; each draw is seeded by the call, so answers stay deterministic and cacheable.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import replace

from pada.errors import PadaError
from pada.io import stable_hash
from pada.sim.world import MAGNITUDES, SKILLS, Problem, find_problems, make_problem
from pada.teacher.providers.base import Call
from pada.teacher.providers.scripted import register_script

DESCRIPTORS: dict[str, dict[object, str]] = {
    "skill": {
        "add": "addition",
        "sub": "subtraction",
        "mul": "multiplication",
        "max": "picking the larger number",
    },
    "phrasing": {0: "plain what-is questions", 1: "imperative instructions", 2: "word problems about people"},
    "magnitude": {
        "small": "one-digit numbers",
        "medium": "two-digit numbers",
        "large": "three-digit numbers",
    },
}
# A real teacher's generated answers are sometimes wrong; quality control exists to catch that.
GENERATION_ERROR_RATE = 0.1  # fixed a priori for the world; not tuned


def describe(problem: Problem) -> str:
    return (
        f"{DESCRIPTORS['skill'][problem.skill]} with {DESCRIPTORS['magnitude'][problem.magnitude]}, "
        f"asked as {DESCRIPTORS['phrasing'][problem.phrasing]}"
    )


def read_properties(text: str) -> dict[str, object]:
    """The most-mentioned skill, phrasing and magnitude descriptors in ``text`` (absent ones are left out)."""
    found: dict[str, object] = {}
    for prop, words in DESCRIPTORS.items():
        counts = Counter({value: len(re.findall(re.escape(word), text)) for value, word in words.items()})
        value, count = counts.most_common(1)[0]
        if count:
            found[prop] = value
    return found


def _text(call: Call) -> str:
    return "\n".join(content for _, content in call.messages)


def _section(text: str, header: str) -> str:
    """What follows ``header`` up to the next blank line (the prompt templates' layout)."""
    start = text.find(header)
    return text[start + len(header) :].split("\n\n")[0] if start >= 0 else text


def _rng(call: Call) -> random.Random:
    return random.Random(stable_hash([_text(call), call.sample_index, call.attempt]))


NO_NOISE: dict[str, float] = {}


def _noisy(rng: random.Random, noise: dict, *keys: str) -> str | None:
    """Which of the ``keys`` imperfections this call shows (at most one), or None."""
    draw, edge = rng.random(), 0.0
    for key in keys:
        edge += float(noise.get(key) or 0.0)
        if draw < edge:
            return key
    return None


def _redraw(rng: random.Random, problem: Problem) -> Problem:
    """``problem`` with one of its properties (skill, phrasing, magnitude) replaced by another value."""
    prop = rng.choice(["skill", "phrasing", "magnitude"])
    values = {"skill": list(SKILLS), "phrasing": [0, 1, 2], "magnitude": list(MAGNITUDES)}[prop]
    props = {"skill": problem.skill, "phrasing": problem.phrasing, "magnitude": problem.magnitude}
    props[prop] = rng.choice([v for v in values if v != props[prop]])
    return make_problem(rng, props["skill"], props["phrasing"], props["magnitude"])


VAGUE = {"error": "The model made a mistake somewhere in its working.", "missing_skill": "care"}


def check_fidelity(analysis_fidelity: object) -> float:
    """``analysis_fidelity`` as a float in [0, 1]; PadaError (one line) otherwise."""
    if isinstance(analysis_fidelity, bool) or not isinstance(analysis_fidelity, int | float):
        raise PadaError(f"teacher.analysis_fidelity must be a number in [0, 1], got {analysis_fidelity!r}")
    if not 0.0 <= float(analysis_fidelity) <= 1.0:
        raise PadaError(f"teacher.analysis_fidelity must be in [0, 1], got {analysis_fidelity}")
    return float(analysis_fidelity)


def _informed(call: Call, analysis_fidelity: float) -> bool:
    """Whether this analysis reads the failed item at all: with probability ``analysis_fidelity``, drawn
    from its own stream so that at 1.0 every answer is what it was before the setting existed."""
    if analysis_fidelity >= 1.0:
        return True
    draw = random.Random(stable_hash([_text(call), call.sample_index, call.attempt, "analysis_fidelity"]))
    return draw.random() < analysis_fidelity


def _analysed(call: Call, noise: dict, analysis_fidelity: float) -> tuple[str, Problem | None]:
    """What an error analysis says of the failed item: ("outside", None) when the prompt states no world
    problem, ("vague", None) when it names nothing (uninformed, or the declared vague noise), else
    ("named", the problem it names: the item's own, or under ``analysis_wrong`` one property redrawn)."""
    problems = find_problems(_text(call))
    if not problems:
        return "outside", None
    if not _informed(call, analysis_fidelity):
        return "vague", None
    rng = _rng(call)
    kind = _noisy(rng, noise, "analysis_wrong", "analysis_vague")
    if kind == "analysis_vague":  # names no property: such analyses cannot be grouped by what went wrong
        return "vague", None
    return "named", _redraw(rng, problems[0]) if kind == "analysis_wrong" else problems[0]


def error_analysis(call: Call, noise: dict = NO_NOISE, analysis_fidelity: float = 1.0) -> dict:
    """The failed item's hidden skill, phrasing and magnitude in the words ``generation`` reads back (the
    simulated lead's source: issue 28), with the declared noise; an uninformed analysis (1 −
    ``analysis_fidelity`` of them) names nothing, like the declared vague ones. Answers
    ``error_analysis.v5`` (``root_cause_analysis``) in that schema, with the same information."""
    if call.prompt_version in VERSIONED:
        return VERSIONED[call.prompt_version](call, noise, analysis_fidelity)
    said, problem = _analysed(call, noise, analysis_fidelity)
    if said == "outside":
        return {"error": "the problem is outside the simulated world", "missing_skill": "unknown"}
    if problem is None:
        return dict(VAGUE)
    return {
        "error": f"The model did not solve a problem needing {describe(problem)}.",
        "missing_skill": describe(problem),
    }


def root_cause_analysis(call: Call, noise: dict = NO_NOISE, analysis_fidelity: float = 1.0) -> dict:
    """``error_analysis.v5`` (pada.teacher.schemas.RootCauseAnalysis): what ``error_analysis`` says, split
    into the kind of mistake (``root_cause``: the skill and magnitude, no number, name or object of the
    problem), the kind of question (``scenario``: the phrasing) and the concrete ``error``; the same
    properties, the same noise and fidelity, nothing more than the older schemas name."""
    said, problem = _analysed(call, noise, analysis_fidelity)
    if said == "outside":
        return {
            "error": "the problem is outside the simulated world",
            "root_cause": "unknown",
            "scenario": "unknown",
        }
    if problem is None:
        return {
            "error": VAGUE["error"],
            "root_cause": f"not enough {VAGUE['missing_skill']}",
            "scenario": "a question",
        }
    skill, magnitude = DESCRIPTORS["skill"][problem.skill], DESCRIPTORS["magnitude"][problem.magnitude]
    return {
        "error": f"The model did not solve a problem needing {describe(problem)}.",
        "root_cause": f"It gets {skill} with {magnitude} wrong.",
        "scenario": DESCRIPTORS["phrasing"][problem.phrasing],
    }


def pattern_summary(call: Call) -> dict:
    """The most-mentioned properties in the shown analyses, as the pattern's name and description; answers
    ``pattern_summary.v3`` (``shared_cause_summary``) in that schema."""
    if call.prompt_version in VERSIONED:
        return VERSIONED[call.prompt_version](call)
    props = read_properties(_text(call))
    parts = [DESCRIPTORS[p][props[p]] for p in ("skill", "magnitude", "phrasing") if p in props]
    name = " / ".join(parts) or "unrecognised failures"
    return {
        "name": name,
        "description": f"The model fails on problems involving {', '.join(parts) or 'nothing known'}.",
    }


_MEMBER = re.compile(r"^(\d+)\. (.+)$", flags=re.MULTILINE)  # pattern_summary.v3's numbered analyses


def shared_cause_summary(call: Call) -> dict:
    """``pattern_summary.v3`` (pada.teacher.schemas.SharedCause): ``pattern_summary``'s name and
    description, and as ``members`` the numbered analyses that name the same properties the summary does
    (read from each analysis's text, as the summary itself is: an analysis that names none, or another
    value, is not a member); fewer than two such: only the first listed, as the prompt asks."""
    answer = {**pattern_summary(replace(call, prompt_version=None))}
    props = read_properties(_text(call))
    members = []
    for number, analysis in _MEMBER.findall(_text(call)):
        own = read_properties(analysis)
        if own and all(props.get(p) == value for p, value in own.items()):
            members.append(int(number))
    return {**answer, "members": members if len(members) >= 2 else members[:1] or [1]}


def strategy(call: Call) -> dict:
    props = read_properties(_text(call))
    parts = [DESCRIPTORS[p][props[p]] for p in ("skill", "magnitude", "phrasing") if p in props]
    return {
        "strategy": f"Generate new problems with {'; '.join(parts)}. Each solution writes the equation, "
        "then the result on a final line '#### <answer>'."
    }


def generation(call: Call, noise: dict = NO_NOISE) -> dict:
    text, rng = _text(call), _rng(call)
    props = read_properties(text)
    problems = find_problems(text)
    template = problems[0] if problems else None
    skill = props.get("skill", template.skill if template else rng.choice(list(SKILLS)))
    phrasing = props.get("phrasing", template.phrasing if template else 0)
    magnitude = props.get("magnitude", template.magnitude if template else rng.choice(list(MAGNITUDES)))
    problem = make_problem(rng, skill, phrasing, magnitude)
    if _noisy(rng, noise, "generation_drift"):  # off the requested pattern, otherwise a good problem
        problem = _redraw(rng, problem)
    answer = problem.answer + (rng.choice([-1, 1]) if rng.random() < GENERATION_ERROR_RATE else 0)
    solution = problem.solution.rsplit("#### ", 1)[0] + f"#### {answer}"
    return {"question": problem.question, "solution": solution, "answer": str(answer)}


def paraphrase(call: Call, noise: dict = NO_NOISE) -> dict:
    problem = (find_problems(_text(call)) or [None])[0]
    if problem is None:
        return {"question": _section(_text(call), "Problem:\n").strip()}
    phrasing = (problem.phrasing + 1 + call.sample_index) % len(SKILLS[problem.skill][1])
    a = problem.a
    if _noisy(_rng(call), noise, "paraphrase_drift"):  # a quantity changed: the kept answer is now wrong
        a = a + 1
    return {
        "question": Problem(
            problem.skill, phrasing, problem.magnitude, a, problem.b, problem.name, problem.thing
        ).question
    }


def verification(call: Call, noise: dict = NO_NOISE) -> dict:
    text = _text(call)
    problem = (find_problems(text) or [None])[0]
    if problem is None:
        return {"valid": False, "answer": "", "reason": "not a problem of the simulated world"}
    claimed = re.findall(r"#### (-?\d+)", _section(text, "Proposed solution:\n"))
    valid = bool(claimed) and int(claimed[-1]) == problem.answer
    answer = str(problem.answer)
    if valid and _noisy(_rng(call), noise, "verifier_false_reject"):
        valid, answer = False, str(problem.answer + 1)
    elif claimed and not valid and _noisy(_rng(call), noise, "verifier_false_accept"):
        valid, answer = True, claimed[-1]  # agrees with the wrong solution
    return {"valid": valid, "answer": answer, "reason": "" if valid else "the final answer is wrong"}


def judge(call: Call, noise: dict = NO_NOISE) -> dict:
    """The optional judge: a world problem with a correct final answer scores 9, anything else 2."""
    verdict = verification(call, noise)
    return {"score": 9 if verdict["valid"] else 2, "reason": verdict["reason"] or "correct"}


# Prompt versions whose answers take another schema (pada.teacher.schemas.VERSIONED_SCHEMAS): the same
# information in that schema's fields.
VERSIONED = {
    "error_analysis.v5": root_cause_analysis,
    "pattern_summary.v3": shared_cause_summary,
}

ROLES = {
    "error_analysis": error_analysis,
    "pattern_summary": pattern_summary,
    "strategy": strategy,
    "generation": generation,
    "paraphrase": paraphrase,
    "verification": verification,
    "judge": judge,
}


NOISY = {"error_analysis", "generation", "paraphrase", "verification", "judge"}


@register_script("sim_oracle")
def oracle(call: Call, noise: dict | None = None, analysis_fidelity: float = 1.0) -> str:
    """One answer as JSON. ``noise``: the declared imperfections; ``analysis_fidelity``
    (``teacher.analysis_fidelity``): the share of error analyses that read the failed item (1.0: all, as
    the world was built; 0.0: none, every analysis vague, the uninformative-analysis control)."""
    role = ROLES[call.role]
    if call.role == "error_analysis":
        return json.dumps(error_analysis(call, noise or NO_NOISE, check_fidelity(analysis_fidelity)))
    return json.dumps(role(call, noise or NO_NOISE) if call.role in NOISY else role(call))


def check_options(noise: dict | None = None, analysis_fidelity: float = 1.0) -> None:
    """The oracle's options, checked when the teacher is built (before any stage): PadaError if bad."""
    check_fidelity(analysis_fidelity)


oracle.check_options = check_options  # type: ignore[attr-defined]  # read by pada.teacher.providers.scripted

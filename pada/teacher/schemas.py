"""Pydantic schemas matching the v1 prompt templates, one per role; methods may bring their own."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field


class ErrorAnalysis(BaseModel):
    error: str = Field(description="the reasoning step that went wrong, concretely")
    missing_skill: str = Field(description="the skill the model lacks, in a few words")


class RootCauseAnalysis(BaseModel):
    """``error_analysis.v5``: the paper's root cause and error scenario, with the concrete error kept apart so
    that clustering can embed the kind of mistake without the problem's topic words (docs/agent.md)."""

    error: str = Field(description="what the response got wrong on this problem, concretely")
    root_cause: str = Field(
        description="what the model did wrong, in general words that would fit a problem on another topic "
        "too (which things it confused, which condition or step it ignored); no names, facts or objects "
        "from this problem"
    )
    scenario: str = Field(description="the kind of question it failed, in a few words")


class PatternSummary(BaseModel):
    name: str = Field(description="a short name for the pattern")
    description: str = Field(description="the shared cause of the grouped failures, one or two sentences")


class SharedCause(BaseModel):
    """``pattern_summary.v3``: the mistake that members of a cluster share, and which members share it; fewer
    than two members means the cluster has no shared cause (reported as such, docs/agent.md)."""

    description: str = Field(
        description="the mistake at least two of the failures share, in general words, one or two sentences"
    )
    members: list[int] = Field(description="the numbers of the failures that make this mistake")
    name: str = Field(description="a short name for what the model does wrong")


class Strategy(BaseModel):
    strategy: str = Field(description="what the new problems should vary and their solutions demonstrate")


class GeneratedExample(BaseModel):
    question: str
    solution: str = Field(description="step-by-step solution ending with the final answer")
    answer: str = Field(description="the final answer alone")


class Paraphrase(BaseModel):
    question: str


class Verdict(BaseModel):
    # Where the server compiles the schema into a decoding grammar (llama.cpp), these strings close at this many
    # characters (pada.teacher.native.grammar_json_schema). Measured: a 0.5B verifier's free-text reason fell into
    # a repetition loop, was cut at max_tokens and re-asked with 2x and 4x room: 1,792 tokens for one verdict.
    max_chars: ClassVar[dict[str, int]] = {"answer": 200, "reason": 400}
    valid: bool = Field(description="true if the problem is well-posed and the solution correct")
    answer: str = Field(description="your own final answer")
    reason: str = ""


class JudgeScore(BaseModel):
    max_chars: ClassVar[dict[str, int]] = {"reason": 400}  # as Verdict's: a grammar closes the reason there
    score: int = Field(ge=1, le=10, description="1 = unusable, 10 = excellent training data")
    reason: str = ""


ROLE_SCHEMAS: dict[str, type[BaseModel]] = {
    "error_analysis": ErrorAnalysis,
    "pattern_summary": PatternSummary,
    "strategy": Strategy,
    "generation": GeneratedExample,
    "paraphrase": Paraphrase,
    "verification": Verdict,
    "judge": JudgeScore,
}

# Prompt versions whose answers take another schema than their role's default above.
VERSIONED_SCHEMAS: dict[str, type[BaseModel]] = {
    "error_analysis.v5": RootCauseAnalysis,
    "pattern_summary.v3": SharedCause,
}


def schema_for(role: str, version: str) -> type[BaseModel]:
    """The schema of ``<role>.<version>``'s answers: ``VERSIONED_SCHEMAS``' or the role's ``ROLE_SCHEMAS``."""
    return VERSIONED_SCHEMAS.get(f"{role}.{version}", ROLE_SCHEMAS[role])

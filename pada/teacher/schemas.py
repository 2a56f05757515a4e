"""Pydantic schemas matching the v1 prompt templates, one per role; methods may bring their own."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorAnalysis(BaseModel):
    error: str = Field(description="the reasoning step that went wrong, concretely")
    missing_skill: str = Field(description="the skill the model lacks, in a few words")


class PatternSummary(BaseModel):
    name: str = Field(description="a short name for the pattern")
    description: str = Field(description="the shared cause of the grouped failures, one or two sentences")


class Strategy(BaseModel):
    strategy: str = Field(description="what the new problems should vary and their solutions demonstrate")


class GeneratedExample(BaseModel):
    question: str
    solution: str = Field(description="step-by-step solution ending with the final answer")
    answer: str = Field(description="the final answer alone")


class Paraphrase(BaseModel):
    question: str


class Verdict(BaseModel):
    valid: bool = Field(description="true if the problem is well-posed and the solution correct")
    answer: str = Field(description="your own final answer")
    reason: str = ""


class JudgeScore(BaseModel):
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

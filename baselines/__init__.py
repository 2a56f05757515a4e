"""Comparison methods, one self-contained module each, all behind pada.methods.Method."""

# Importing the package registers every baseline (pada.methods.base._BUILTIN_MODULES names it).
from baselines import auggpt, base_model, llm2llm, llms_as_instructors, sft  # noqa: F401

from pada.methods.base import IterationState, Method, build_method

__all__ = ["IterationState", "Method", "build_method"]

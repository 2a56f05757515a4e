from pada.methods.base import IterationState, Method, build_method, register_method

__all__ = ["IterationState", "Method", "build_method", "register_method"]

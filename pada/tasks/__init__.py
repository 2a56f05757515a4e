"""Tasks: each conf/task/<name>.yaml names its class with ``_target_`` (the contract: pada/api.py)."""

from pada.tasks.base import Splits, Task, build_task, sample_seed_set

__all__ = ["Splits", "Task", "build_task", "sample_seed_set"]

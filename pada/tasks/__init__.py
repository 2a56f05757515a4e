"""Built-in tasks; importing this package registers them."""

from pada.tasks import arc, gsm8k, humaneval, mbpp, mmlu, sim, user  # noqa: F401  (sim: SIMULATION)
from pada.tasks.base import Splits, Task, build_task, register_task, sample_seed_set

__all__ = ["Splits", "Task", "build_task", "register_task", "sample_seed_set"]

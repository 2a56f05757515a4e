"""Built-in tasks; importing this package registers them."""

from pada.sim import task as _sim_task  # noqa: F401  (SIMULATION task)
from pada.tasks import arc, gsm8k, humaneval, mbpp, mmlu, user  # noqa: F401
from pada.tasks.base import Splits, Task, build_task, register_task, sample_seed_set

__all__ = ["Splits", "Task", "build_task", "register_task", "sample_seed_set"]

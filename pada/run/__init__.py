"""Running cells: the Hydra app, the runner and its stages, tracking, provenance, SLURM."""

import contextlib

with contextlib.suppress(
    ImportError
):  # the slurm extra: registers hydra/launcher=pada_slurm (conf/launcher/slurm.yaml)
    from pada.run import slurm as _slurm  # noqa: F401

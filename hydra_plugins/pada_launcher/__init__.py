"""Hydra accepts launcher plugins only from under ``hydra_plugins``: pada's SLURM launcher is declared here.

The code lives in pada/run/slurm.py; ``hydra/launcher=pada_slurm`` (conf/launcher/slurm.yaml) selects it.
"""

from pada.run.slurm import PadaSlurmLauncher


class SlurmLauncher(PadaSlurmLauncher):
    """pada.run.slurm.PadaSlurmLauncher under the module name Hydra requires."""

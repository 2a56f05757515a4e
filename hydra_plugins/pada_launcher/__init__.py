"""Hydra accepts launcher plugins only from under ``hydra_plugins``: pada's SLURM launcher is declared here.

The code lives in pada/run/slurm.py; ``hydra/launcher=pada_slurm`` (conf/launcher/slurm.yaml) selects it.
Without the slurm extra (submitit) nothing is declared, so Hydra's plugin scan stays quiet.
"""

try:
    from pada.run.slurm import PadaSlurmLauncher
except ImportError:  # hydra-submitit-launcher not installed: launcher=slurm then fails to compose
    PadaSlurmLauncher = None

if PadaSlurmLauncher is not None:

    class SlurmLauncher(PadaSlurmLauncher):
        """pada.run.slurm.PadaSlurmLauncher under the module name Hydra requires."""

"""Where the Hydra config tree lives: the repo's conf/, or ``PADA_CONF_DIR`` for a user's own tree.

Its own module so the runner can read it without importing the Hydra app (``pada.run.app`` calls the
runner: the two importing each other would be a cycle).
"""

from __future__ import annotations

import os
from pathlib import Path

CONF_DIR = Path(os.environ.get("PADA_CONF_DIR", Path(__file__).resolve().parents[2] / "conf"))

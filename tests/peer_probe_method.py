"""A test-only method (named by method._target_) whose augment stage waits for a second process on the same cell.

Each process that enters ``propose`` registers itself in ``$PADA_TEST_PEERS`` and waits up to
``WAIT_SECONDS`` for a peer, so two unlocked writers are certain to overlap inside one stage. Under the cell
lock the peer never arrives while the first holds the cell, and the wait just runs out. The proposal itself
is deterministic: two fixed items.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pada.methods.base import IterationState, Method
from pada.types import Example

WAIT_SECONDS = 3.0


class PeerProbe(Method):
    name = "peer_probe"

    def propose(self, state: IterationState) -> list[Example]:
        (state.workdir / "started.txt").write_text("part one\n")
        peers = Path(os.environ["PADA_TEST_PEERS"])
        (peers / str(os.getpid())).touch()
        deadline = time.monotonic() + WAIT_SECONDS
        while len(list(peers.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # both writers are now inside this stage
        (state.workdir / "finished.txt").write_text("part two\n")
        return [_item(i) for i in (3, 5)]


def _item(i: int) -> Example:
    """Another problem than any tiny GSM8K item (their numbers are 1-20; 47 is none of them), so the runner's
    held-out checks keep it: with "seven more", "i + 7" restated a held-out "Tom has i apples and buys 7 more"
    in other words, which the semantic check (fairness 1.4+) rightly drops."""
    question = (
        f"Zed counts {i} pears, then finds forty-seven more in a basket. How many pears does Zed count now?"
    )
    return Example(
        id=f"peer-{i}",
        prompt=question,
        target=f"{i} + 47 = {i + 47}\n#### {i + 47}",
        answer=str(i + 47),
        source="synthetic:peer_probe",
        meta={"question": question},
    )

"""Seeded, resumable batch plans: plain shuffle, length-grouped mega-batches, or packed rows.

One plan per epoch, derived from (seed, epoch) only, so a resumed run rebuilds the same batches and skips
the ones it already trained on (Lightning restores the epoch; the module restores the skip count).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler

STRATEGIES = ("random", "length_grouped", "packed")


def pack_rows(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """First-fit decreasing: example indices grouped into rows of at most ``capacity`` tokens.

    Independent of the epoch's order, so the number of rows (and of batches) is fixed for the whole run.
    """
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        size = lengths[index]
        slot = next((r for r, free in enumerate(room) if free >= size), None)
        if slot is None:
            rows.append([index])
            room.append(capacity - size)
        else:
            rows[slot].append(index)
            room[slot] -= size
    return rows


class BatchPlan(Sampler[list[list[int]]]):
    """Yields batches; each batch is a list of rows, each row a list of example indices (one unless packed)."""

    def __init__(
        self, lengths: Sequence[int], batch_size: int, seed: int, strategy: str, megabatch: int, capacity: int
    ):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown batching {strategy!r}; use one of {', '.join(STRATEGIES)}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.strategy = strategy
        self.megabatch = megabatch
        self.rows = (
            pack_rows(self.lengths, capacity) if strategy == "packed" else [[i] for i in range(len(lengths))]
        )
        self.epoch = 0
        self.skip: tuple[int, int] | None = None  # (epoch, batches already trained) after a resume

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at every epoch start
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.rows) // self.batch_size)

    def batches(self, epoch: int) -> list[list[list[int]]]:
        # a str seed is hashed with sha512, not hash(): the same plan in every process
        rng = random.Random(f"{self.seed}/{epoch}")
        order = list(range(len(self.rows)))
        rng.shuffle(order)
        if self.strategy == "length_grouped":
            order = self._group_by_length(order)
        chunks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.strategy == "length_grouped":
            rng.shuffle(chunks)  # otherwise every epoch would start with its longest batch
        return [[self.rows[r] for r in chunk] for chunk in chunks]

    def _group_by_length(self, order: list[int]) -> list[int]:
        size = self.batch_size * self.megabatch
        grouped: list[int] = []
        for start in range(0, len(order), size):
            mega = order[start : start + size]
            grouped += sorted(mega, key=lambda r: -self.lengths[self.rows[r][0]])
        return grouped

    def __iter__(self) -> Iterator[list[list[int]]]:
        batches = self.batches(self.epoch)
        if self.skip is not None and self.skip[0] == self.epoch:
            batches = batches[self.skip[1] :]
            self.skip = None
        yield from batches

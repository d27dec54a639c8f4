"""The silence sweep: which customers' checkpoints are due, per partition.

Each partition keeps a :class:`models.silence.DueIndex` (a heap), so a sweep costs
O(due · log n), not O(customers). A due customer is not scored here: a *tick* keyed
by the customer goes to the co-partitioned tick topic and the customer agent scores
it like any event, so every state change happens inside the stream (Faust only
allows table writes there) and in order with the customer's own events. A tick
carries its due time, so a replay produces the same ticks as live traffic did.
"""

from __future__ import annotations

import json

from aiokafka.partitioner import murmur2

from models.silence import DueIndex


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as Java and aiokafka).

    >>> partition_of(b"cust-1", 4) == partition_of(b"cust-1", 4)
    True
    """
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def encode_tick(at: float) -> bytes:
    return json.dumps({"at": at}).encode()


def decode_tick(raw: bytes) -> float:
    return float(json.loads(raw)["at"])


class Sweep:
    """Due indexes of the partitions this worker has seen."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._index: dict[int, DueIndex] = {}

    def schedule(self, partition: int, customer_id: str, due: float | None) -> None:
        idx = self._index.setdefault(partition, DueIndex())
        if due is None:
            idx.cancel(customer_id)
        else:
            idx.schedule(customer_id, due)

    def schedule_key(self, key: bytes, due: float | None) -> None:
        """Schedule by key when the partition is not at hand (recovery)."""
        self.schedule(partition_of(key, self.partitions), key.decode(), due)

    def remove(self, partition: int, customer_id: str) -> None:
        if partition in self._index:
            self._index[partition].cancel(customer_id)

    def due(self, partition: int, now: float, limit: int | None = None) -> list[tuple[str, float]]:
        """Pop the (customer, due time) pairs of one partition due at ``now``."""
        idx = self._index.get(partition)
        return idx.pop_due_items(now, limit) if idx is not None else []

    def due_all(self, now: float, limit: int | None = None) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for p in list(self._index):
            out.extend(self.due(p, now, limit))
        return out

    def __len__(self) -> int:
        return sum(len(i) for i in self._index.values())

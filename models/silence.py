"""Silence checkpoints: when to score a customer who has gone quiet, and the index that
finds the due ones without visiting everybody.

Churn mostly looks like silence, so each customer carries a schedule of checkpoints
after their last activity: multiples of their own order rhythm and fixed marks.

>>> from datetime import datetime, timezone
>>> idx = DueIndex()
>>> idx.schedule("a", 100.0); idx.schedule("b", 50.0); idx.schedule("a", 20.0)
>>> idx.pop_due(60.0), len(idx)
(['a', 'b'], 0)
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime

from models.state import DAY_S, CustomerState

GAP_MULTIPLES = (1, 2, 3)            # last activity + k x typical order gap
FIXED_DAYS = (7, 14, 30, 60, 90)     # last activity + these many days
_FIXED_S = tuple(d * DAY_S for d in FIXED_DAYS)


def silence_schedule(state: CustomerState) -> list[datetime]:
    """All checkpoints of the customer's silence schedule, sorted, without repeats."""
    return [datetime.fromtimestamp(m, tz=UTC) for m in silence_epochs(state)]


def next_silence_check(state: CustomerState, after: datetime) -> datetime | None:
    """The first checkpoint strictly after ``after``; None when none is left or churned."""
    m = next_silence_epoch(state, after.timestamp())
    return None if m is None else datetime.fromtimestamp(m, tz=UTC)


def silence_epochs(state: CustomerState) -> list[float]:
    """:func:`silence_schedule` in epoch seconds (what the hot path and the sweep use)."""
    last = state.last_activity
    if last is None or state.closed_at is not None:
        return []
    gap = state.typical_gap_days * DAY_S
    return sorted({_us(last + k * gap) for k in GAP_MULTIPLES} | {_us(last + d) for d in _FIXED_S})


def next_silence_epoch(state: CustomerState, after: float) -> float | None:
    """:func:`next_silence_check` in epoch seconds, without building the schedule (once per score)."""
    last = state.last_activity
    if last is None or state.closed_at is not None:
        return None
    gap = state.typical_gap_days * DAY_S
    best = None
    for k in GAP_MULTIPLES:
        m = _us(last + k * gap)
        if m > after:  # ascending: the first one after is the least
            best = m
            break
    for d in _FIXED_S:
        m = _us(last + d)
        if m > after:  # fixed marks are ascending: the first one after is the least
            return m if best is None or m < best else best
    return best


def _us(epoch: float) -> float:
    """``epoch`` on the microsecond grid of datetimes, so that a checkpoint handed back as a
    datetime (``to_dt``) and read again with ``timestamp()`` is the same float: a tick at its
    due time must not look early."""
    return round(epoch * 1_000_000) / 1_000_000


class DueIndex:
    """Per-partition index of (due time, customer id) for the silence sweep.

    A heap with lazy deletion: the latest due time per customer lives in a dict;
    rescheduling or cancelling leaves a stale heap entry that ``pop_due`` skips. The
    heap is rebuilt when stale entries outnumber live ones more than twice, so a sweep
    costs O((due + stale popped) log n), never a scan of all customers.
    """

    __slots__ = ("_heap", "_due")

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}

    def __len__(self) -> int:
        """Customers with a live checkpoint."""
        return len(self._due)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._due

    def due_at(self, customer_id: str) -> float | None:
        """The customer's live due time (epoch seconds), or None."""
        return self._due.get(customer_id)

    def schedule(self, customer_id: str, due_epoch: float) -> None:
        """Set (or move) the customer's checkpoint to ``due_epoch``."""
        if self._due.get(customer_id) == due_epoch:
            return
        self._due[customer_id] = due_epoch
        heapq.heappush(self._heap, (due_epoch, customer_id))
        self._maybe_compact()

    def cancel(self, customer_id: str) -> None:
        """Forget the customer's checkpoint, if any (its heap entry goes stale)."""
        if self._due.pop(customer_id, None) is not None:
            self._maybe_compact()

    remove = cancel  # right to erasure: nothing about the customer stays live

    def pop_due(self, now_epoch: float, limit: int | None = None) -> list[str]:
        """Customers due at or before ``now_epoch``, earliest first, removed from the index.

        ``limit`` caps how many are returned; the rest stay for the next sweep.
        """
        return [cid for cid, _ in self.pop_due_items(now_epoch, limit)]

    def pop_due_items(self, now_epoch: float, limit: int | None = None) -> list[tuple[str, float]]:
        """Like :meth:`pop_due`, with each customer's due time: ``[(customer_id, due_epoch)]``."""
        out: list[tuple[str, float]] = []
        heap, due = self._heap, self._due
        while heap and heap[0][0] <= now_epoch and (limit is None or len(out) < limit):
            at, cid = heapq.heappop(heap)
            if due.get(cid) == at:
                del due[cid]
                out.append((cid, at))
        return out

    def next_due(self) -> float | None:
        """Earliest live due time, or None when empty (drops stale entries on the way)."""
        heap, due = self._heap, self._due
        while heap and due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _maybe_compact(self) -> None:
        stale = len(self._heap) - len(self._due)
        if stale > 2 * len(self._due):
            self._heap = [(at, cid) for cid, at in self._due.items()]
            heapq.heapify(self._heap)

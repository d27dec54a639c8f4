"""Watching for offsets the consumer never handed to us.

faust-streaming has dropped records around recoveries (issues #596, #606; the cause
seen here is fixed in ``streams.faust_compat``). Applying is idempotent, but a dropped
record is simply never applied, so a jump in a partition's offsets is logged as an
error and counted (``churn_offset_gaps_total``) for operators to alert on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class OffsetWatch:
    """Remembers the next offset expected per topic-partition and reports jumps.

    >>> w = OffsetWatch(committed=lambda t, p: 10, generation=lambda: 1)
    >>> [w.observe("orders", 0, o) for o in (10, 11, 14, 15, 3)]
    [0, 0, 2, 0, 0]
    """

    def __init__(self, *, committed: Callable[[str, int], int | None], generation: Callable[[], int]) -> None:
        self._committed, self._generation = committed, generation
        self._next: dict[tuple[str, int], int | None] = {}
        self._gen: dict[tuple[str, int], int] = {}

    def observe(self, topic: str, partition: int, offset: int) -> int:
        """Number of offsets skipped before this one (0 when in order or re-delivered)."""
        tp = (topic, partition)
        gen = self._generation()
        if self._gen.get(tp) != gen:  # new assignment: the consumer continues from the committed offset
            self._gen[tp], self._next[tp] = gen, self._committed(topic, partition)
        expected = self._next[tp]
        self._next[tp] = max(offset + 1, expected or 0)
        if expected is None or offset <= expected:
            return 0
        log.error("offsets %s..%s of %s[%s] were never handed to the worker", expected, offset - 1, topic, partition)
        return offset - expected

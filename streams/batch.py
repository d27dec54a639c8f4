"""One batch's customer records: decoded once, written back once.

Within a batch a customer's record is decoded on first use, stepped by each of their
messages in order, and encoded and written to the table once at the end (one changelog
message per customer per batch instead of one per message). A message whose step
fails leaves the record as it was before that message (:meth:`Records.restore`).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from engine.record import CustomerRecord

_UNREAD = object()
Write = Callable[[Any, bytes, bytes | None], None]  # (message that last touched the key, key, value or None to delete)


class Records:
    """Write-back cache over the table for one batch.

    >>> table = {}
    >>> writes = []
    >>> recs = Records(table, lambda msg, k, v: writes.append((msg, k)) or table.__setitem__(k, v))
    >>> r = recs.get(b"c1"); r.next_check = 5.0; recs.put(b"c1", r, "m1"); recs.put(b"c1", r, "m2")
    >>> recs.flush(); writes, CustomerRecord.decode(table[b"c1"]).next_check
    ([('m2', b'c1')], 5.0)
    """

    __slots__ = ("_table", "_write", "_live", "_dirty")

    def __init__(self, table: MutableMapping[bytes, bytes], write: Write) -> None:
        self._table, self._write = table, write
        self._live: dict[bytes, CustomerRecord | None] = {}
        self._dirty: dict[bytes, Any] = {}  # key → the message that last changed it

    def get(self, key: bytes) -> CustomerRecord:
        """The customer's record as of the messages handled so far (a fresh one when none)."""
        rec = self._live.get(key)
        if rec is None:
            rec = self._live[key] = CustomerRecord.decode(None if key in self._live else self._table.get(key))
        return rec

    def snapshot(self, key: bytes) -> Any:
        """What to :meth:`restore` if the next step fails: a shallow copy of the record (steps replace
        sub-states, never edit them in place), or that the batch has not read it yet."""
        if key not in self._live:
            return _UNREAD
        rec = self._live[key]
        return rec.copy() if rec is not None else None

    def restore(self, key: bytes, before: Any) -> None:
        if before is _UNREAD:
            self._live.pop(key, None)
            self._dirty.pop(key, None)
        else:
            self._live[key] = before

    def put(self, key: bytes, record: CustomerRecord, message: Any) -> None:
        self._live[key] = record
        self._dirty[key] = message

    def delete(self, key: bytes, message: Any) -> None:
        self._live[key] = None
        self._dirty[key] = message

    def flush(self) -> None:
        """Write every changed record to the table (``None`` deletes), as of the message that last changed it."""
        for key, message in self._dirty.items():
            rec = self._live[key]
            self._write(message, key, None if rec is None else rec.encode())
        self._live.clear()
        self._dirty.clear()

"""The per-customer table value: every sub-state of one customer in one document.

Format 3 (written now): the byte ``0x03``, then format 2's array, except that the
customer state's array too is a MessagePack document of its own inside a ``bin``. A
record whose state did not change (a silence checkpoint, a snooze, an outcome: no
event applied) reuses those bytes, as format 2 reuses the snapshot's, instead of
laying the state out and packing it again: that was most of the encoding's time.
A ninth part, added later, holds the input positions (``CustomerRecord.positions``: a map
of topic name to ``[partition, offset, timestamp ms]``, or nil); a format-3 record of eight
parts, written before, decodes to no positions. A tenth part is written by an erasure
marker only (``CustomerRecord.erased_at``, see :meth:`CustomerRecord.erased`): a customer's
record is nine parts, as before, and a marker, ten (:meth:`CustomerRecord.peek_erased`
tells them apart by the array's header byte). A newer part would follow the tenth, with
nil there in a customer's record.

Format 2 (read only): the byte ``0x02``, then a MessagePack array of the same eight
parts as format 1, but the customer state is its positional array
(``CustomerState.to_array``: no keys, no per-field conversion) and the pending snapshot
is a MessagePack document of its own inside a ``bin``, so that a record whose snapshot did
not change (most of them: one snapshot per customer per week) reuses those bytes instead
of encoding them again. The record is read and written for every customer in every batch:
format 2 takes about a third of format 1's time.

Format 1 (read only): the byte ``0x01``, then a MessagePack array of the sub-states'
logical layouts (each sub-state's ``to_json()``). Format 0 (read only): the same array as
JSON text, as records were written before. A table or changelog holding those still decodes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import msgpack

from alerts.experiment import OfferTracking
from alerts.policy import AlertState
from models.labelling import Snapshot
from models.state import CustomerState


def _reused(value: object, cached: tuple[object, bytes] | None, pack: Callable[[], bytes]) -> bytes | None:
    """``value``'s packed bytes: ``None`` for ``None``, the decoded bytes while ``value`` is the
    very object they were decoded into, else ``pack()``."""
    if value is None:
        return None
    return cached[1] if cached is not None and cached[0] is value else pack()


@dataclass(slots=True)
class CustomerRecord:
    """State, alert episode, pending label snapshot, offer tracking, silence schedule.

    >>> CustomerRecord.decode(CustomerRecord().encode()) == CustomerRecord()
    True
    """

    state: CustomerState | None = None
    alert: AlertState = field(default_factory=AlertState)
    pending: Snapshot | None = None
    last_snapshot_at: float | None = None
    tracking: OfferTracking | None = None
    next_check: float | None = None  # epoch seconds of the next silence checkpoint
    churn_noted_at: float | None = None  # when churn (closure or silence) was acted on, once per churn
    in_experiment: bool = False  # entered the offer experiment (once per customer; tracking ends when resolved)
    # Input topic → [partition, offset, timestamp ms] of the newest message handled for this customer
    # (the timestamp: the greatest handled on that partition). Only the stream runtime fills it in
    # (``streams.handler``); the backtest has no topics and leaves it ``None``. Replaced, never edited in place.
    positions: dict[str, list[int]] | None = None
    # Set (wall-clock epoch seconds of the erasure) only in an erasure marker (:meth:`erased`): the record
    # of an erased customer, kept for a while with nothing but ``positions`` and ``next_check``.
    erased_at: float | None = None
    # As decoded, for encode to re-use what did not change: (snapshot, its bytes) while ``pending`` is
    # that (frozen) snapshot; (state, its array) for the rings and hashes the new state still shares.
    _pending_raw: tuple[Snapshot, bytes] | None = field(default=None, compare=False, repr=False)
    _state_raw: tuple[CustomerState, list] | None = field(default=None, compare=False, repr=False)
    _state_bin: tuple[CustomerState, bytes] | None = field(default=None, compare=False, repr=False)  # (state, its bytes)

    def copy(self) -> CustomerRecord:
        """A shallow copy (the processor replaces sub-states, never edits them in place)."""
        return CustomerRecord(self.state, self.alert, self.pending, self.last_snapshot_at, self.tracking,
                              self.next_check, self.churn_noted_at, self.in_experiment, self.positions, self.erased_at,
                              self._pending_raw, self._state_raw, self._state_bin)

    def encode(self) -> bytes:
        """Format 3 bytes (see the module docstring)."""
        pending, state = self.pending, self.state
        parts = [
            self.next_check,
            _reused(state, self._state_bin, lambda: _pack(state.to_array(like=self._state_raw))),
            self.alert.to_json(),
            _reused(pending, self._pending_raw, lambda: _pack(pending.to_json())),
            self.last_snapshot_at,
            self.tracking.to_json() if self.tracking is not None else None,
            self.churn_noted_at,
            self.in_experiment,
            self.positions,
        ]
        if self.erased_at is not None:  # an erasure marker's tenth part; a customer's record stays nine
            parts.append(self.erased_at)
        return FORMAT_3 + _pack(parts)

    @classmethod
    def erased(cls, positions: dict[str, list[int]] | None, *, at: float, until: float) -> CustomerRecord:
        """The erasure marker left for an erased customer: their input positions (so that their
        messages read again after a crash are recognised as handled, see :meth:`handled`), when they
        were erased (wall clock) and, as ``next_check``, when the marker may go. Nothing else: no
        state, no alert episode, no label snapshot, no offer tracking.

        >>> m = CustomerRecord.erased({"orders": [0, 7, 5_000]}, at=100.0, until=200.0)
        >>> m.handled("orders", 0, 7, 5_000), m.state, m.next_check, CustomerRecord.peek_erased(m.encode())
        (True, None, 200.0, True)
        >>> CustomerRecord.decode(m.encode()) == m, CustomerRecord.peek_erased(CustomerRecord().encode())
        (True, False)
        """
        return cls(positions=positions, next_check=until, erased_at=at)

    @staticmethod
    def peek_erased(raw: bytes) -> bool:
        """True when ``raw`` is an erasure marker (ten parts), read from its first two bytes."""
        return raw[:2] == _MARKER_HEAD

    @classmethod
    def decode(cls, raw: bytes | None) -> CustomerRecord:
        """A record of any format (``None`` or empty: a new customer's)."""
        if not raw:
            return cls()
        if raw[0] in (2, 3):
            nc, s, a, p, lsa, t, cn, ie, *newer = _unpack(memoryview(raw)[1:])  # format 2 and early format 3: 8 parts
            pending = Snapshot.from_json(_unpack(p)) if p is not None else None
            state_bin = None
            if raw[0] == 3 and s is not None:
                state_bin, s = s, _unpack(s)
            state = CustomerState.from_array(s) if s is not None else None
            return cls(
                state=state,
                alert=AlertState.from_json(a),
                pending=pending,
                last_snapshot_at=lsa,
                tracking=OfferTracking.from_json(t) if t is not None else None,
                next_check=nc,
                churn_noted_at=cn,
                in_experiment=ie,
                positions=newer[0] if newer and raw[0] == 3 else None,
                erased_at=newer[1] if len(newer) > 1 and raw[0] == 3 else None,
                _pending_raw=(pending, p) if pending is not None else None,
                _state_raw=(state, s) if state is not None else None,
                _state_bin=(state, state_bin) if state_bin is not None else None,
            )
        doc = _unpack(memoryview(raw)[1:]) if raw[0] == 1 else json.loads(raw)
        nc, s, a, p, lsa, t, cn, *newer = doc  # records written before in_experiment have 7 parts
        return cls(
            state=CustomerState.from_json(s) if s is not None else None,
            alert=AlertState.from_json(a),
            pending=Snapshot.from_json(p) if p is not None else None,
            last_snapshot_at=lsa,
            tracking=OfferTracking.from_json(t) if t is not None else None,
            next_check=nc,
            churn_noted_at=cn,
            in_experiment=bool(newer and newer[0]),
        )

    def handled(self, topic: str, partition: int, offset: int, timestamp_ms: int) -> bool:
        """True when this message of ``topic`` was handled for this customer already: read again
        after a restart from a committed offset behind the table's changelog.

        Same partition, an offset at or before the newest handled, and a timestamp no later than
        the newest handled: a topic deleted and created again restarts its offsets, but with later
        timestamps, and its messages are new. On another partition (partitions added) nothing is
        known until the next message is handled.

        >>> r = CustomerRecord(positions={"orders": [1, 40, 5_000]})
        >>> r.handled("orders", 1, 40, 5_000), r.handled("orders", 1, 41, 5_001), r.handled("support", 1, 3, 1)
        (True, False, False)
        >>> r.handled("orders", 1, 0, 6_000), r.handled("orders", 0, 3, 1_000)  # re-created topic; another partition
        (False, False)
        """
        at = self.positions.get(topic) if self.positions is not None else None
        return at is not None and at[0] == partition and offset <= at[1] and timestamp_ms <= at[2]

    def note_handled(self, topic: str, partition: int, offset: int, timestamp_ms: int) -> None:
        """Remember this message as the newest handled of ``topic`` (see :meth:`handled`).

        The timestamp kept is the greatest handled on the partition (producers' clocks need not
        agree, so timestamps need not grow with offsets), except after a lower offset or another
        partition: a re-created topic or new partitions start afresh.

        >>> r = CustomerRecord()
        >>> r.note_handled("orders", 1, 40, 5_000); r.note_handled("orders", 1, 41, 4_000); r.positions
        {'orders': [1, 41, 5000]}
        >>> r.note_handled("orders", 1, 0, 6_000); r.positions  # a re-created topic
        {'orders': [1, 0, 6000]}
        """
        old = self.positions or {}
        at = old.get(topic)
        if at is not None and at[0] == partition and offset > at[1] and at[2] > timestamp_ms:
            timestamp_ms = at[2]
        self.positions = {**old, topic: [partition, offset, timestamp_ms]}  # a new dict: copies share the old one

    @staticmethod
    def peek_next_check(raw: bytes) -> float | None:
        """The next silence checkpoint, read from the record's prefix without decoding the rest.

        >>> CustomerRecord.peek_next_check(CustomerRecord(next_check=12.5).encode())
        12.5
        >>> CustomerRecord.peek_next_check(b'[12.5,null]'), CustomerRecord.peek_next_check(b'[null,null]')  # format 0
        (12.5, None)
        """
        if raw[0] in (1, 2, 3):
            kind = raw[2]  # after the version byte and the array header (a fixarray: one byte)
            if kind == 0xCB:
                return _DOUBLE.unpack_from(raw, 3)[0]
            if kind == 0xC0:
                return None
            return _unpack(memoryview(raw)[1:])[0]
        head = raw[1:raw.index(b",")]
        return None if head == b"null" else float(head)


FORMAT_1 = b"\x01"
FORMAT_2 = b"\x02"
FORMAT_3 = b"\x03"
_MARKER_HEAD = FORMAT_3 + b"\x9a"  # a MessagePack fixarray of ten parts
_DOUBLE = struct.Struct(">d")
_pack = msgpack.Packer(use_bin_type=True, use_single_float=False).pack


def _unpack(raw: memoryview | bytes) -> list:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)

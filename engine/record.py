"""The per-customer table value: every sub-state of one customer in one document.

Format 1 (written now): the byte ``0x01``, then a MessagePack array of the sub-states'
logical layouts (each sub-state's ``to_json()``). MessagePack, not JSON: the record is
read and written for every customer in every batch, and it packs several times faster
and smaller. Format 0 (read only): the same array as JSON text, as records were written
before; a table or changelog holding those still decodes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import msgpack

from alerts.experiment import OfferTracking
from alerts.policy import AlertState
from models.labelling import Snapshot
from models.state import CustomerState


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

    def copy(self) -> CustomerRecord:
        """A shallow copy (the processor replaces sub-states, never edits them in place)."""
        return CustomerRecord(self.state, self.alert, self.pending, self.last_snapshot_at, self.tracking,
                              self.next_check, self.churn_noted_at, self.in_experiment)

    def encode(self) -> bytes:
        """Format 1 bytes (see the module docstring)."""
        doc = [
            self.next_check,
            self.state.to_json() if self.state is not None else None,
            self.alert.to_json(),
            self.pending.to_json() if self.pending is not None else None,
            self.last_snapshot_at,
            self.tracking.to_json() if self.tracking is not None else None,
            self.churn_noted_at,
            self.in_experiment,
        ]
        return FORMAT_1 + _pack(doc)

    @classmethod
    def decode(cls, raw: bytes | None) -> CustomerRecord:
        """A record of any format (``None`` or empty: a new customer's)."""
        if not raw:
            return cls()
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

    @staticmethod
    def peek_next_check(raw: bytes) -> float | None:
        """The next silence checkpoint, read from the record's prefix without decoding the rest.

        >>> CustomerRecord.peek_next_check(CustomerRecord(next_check=12.5).encode())
        12.5
        >>> CustomerRecord.peek_next_check(b'[12.5,null]'), CustomerRecord.peek_next_check(b'[null,null]')  # format 0
        (12.5, None)
        """
        if raw[0] == 1:
            kind = raw[2]  # after the version byte and the array header (a fixarray: one byte)
            if kind == 0xCB:
                return _DOUBLE.unpack_from(raw, 3)[0]
            if kind == 0xC0:
                return None
            return _unpack(memoryview(raw)[1:])[0]
        head = raw[1:raw.index(b",")]
        return None if head == b"null" else float(head)


FORMAT_1 = b"\x01"
_DOUBLE = struct.Struct(">d")
_pack = msgpack.Packer(use_bin_type=True, use_single_float=False).pack


def _unpack(raw: memoryview) -> list:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)

"""The per-customer table value: every sub-state of one customer in one JSON document."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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

    def copy(self) -> "CustomerRecord":
        """A shallow copy (the processor replaces sub-states, never edits them in place)."""
        return CustomerRecord(self.state, self.alert, self.pending, self.last_snapshot_at, self.tracking,
                              self.next_check, self.churn_noted_at, self.in_experiment)

    def encode(self) -> bytes:
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
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> "CustomerRecord":
        if not raw:
            return cls()
        nc, s, a, p, lsa, t, cn, *newer = json.loads(raw)  # records written before in_experiment have 7 parts
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
        """
        head = raw[1:raw.index(b",")]
        return None if head == b"null" else float(head)

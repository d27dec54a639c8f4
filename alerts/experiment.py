"""Did the offer work? Per-customer outcome tracking and the shared counters.

A customer who got an offer (treated) or was held out (control) is tracked until we
know whether they were still a customer when the horizon ended: activity after the
horizon → retained; a horizon-long silence after the offer (or after their last
activity since it), or a closed account → churned. So a customer who keeps buying for
a week after the offer and then lapses counts as churned, as they should. Pure: the
shared counters live in Redis behind ``alerts.experiment_store.ExperimentStore``.

>>> from datetime import datetime, timedelta, timezone
>>> t0, h = datetime(2024, 5, 1, tzinfo=timezone.utc), timedelta(days=30)
>>> tr = OfferTracking("off-1", "free_returns", "mid", "treated", t0.timestamp())
>>> on_activity(tr, t0 + timedelta(days=10), h, last_seen=t0)[1] is None  # still inside the horizon
True
>>> on_activity(tr, t0 + timedelta(days=31), h, last_seen=t0 + timedelta(days=10))[1].outcome
'retained'
>>> on_silence(tr, t0 + timedelta(days=40), h, last_seen=t0 + timedelta(days=10))[1].outcome
'churned'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from alerts.offers import OfferPlan

Arm = Literal["treated", "control"]


@dataclass(slots=True)
class OfferTracking:
    """The offer a customer is being watched for (``offered_at`` in epoch seconds)."""

    offer_id: str
    offer_type: str
    segment: str
    arm: Arm
    offered_at: float

    def to_json(self) -> list[Any]:
        """Compact: a five-element list.

        >>> OfferTracking.from_json(OfferTracking("o", "t", "low", "control", 1.0).to_json()).arm
        'control'
        """
        return [self.offer_id, self.offer_type, self.segment, self.arm, self.offered_at]

    @classmethod
    def from_json(cls, obj: list[Any]) -> OfferTracking:
        return cls(*obj)


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a tracked offer ended."""

    offer_id: str
    offer_type: str
    segment: str
    arm: Arm
    outcome: Literal["retained", "churned"]


def on_offer(plan: OfferPlan) -> OfferTracking:
    """Start tracking a reserved (or held-out) offer from its event time."""
    arm: Arm = "control" if plan.control_group else "treated"
    return OfferTracking(plan.offer_id, plan.offer_type, plan.value_segment, arm, plan.occurred_at)


def _resolve(t: OfferTracking, outcome: Literal["retained", "churned"]) -> tuple[None, Resolution]:
    return None, Resolution(t.offer_id, t.offer_type, t.segment, t.arm, outcome)


def on_activity(tracking: OfferTracking | None, now: datetime, horizon: timedelta, *, last_seen: datetime | None
                ) -> tuple[OfferTracking | None, Resolution | None]:
    """Activity at ``now`` (``last_seen``: the customer's activity before this event).

    Retained once active after the horizon; churned if this ends a horizon-long silence
    that began after the offer (the silence checkpoint normally resolves that first).
    """
    if tracking is None or now.timestamp() <= tracking.offered_at:
        return tracking, None
    if now.timestamp() - max(tracking.offered_at, last_seen.timestamp() if last_seen else 0.0) >= horizon.total_seconds():
        return _resolve(tracking, "churned")
    if now.timestamp() > tracking.offered_at + horizon.total_seconds():
        return _resolve(tracking, "retained")
    return tracking, None


def on_silence(tracking: OfferTracking | None, now: datetime, horizon: timedelta, *, last_seen: datetime | None
               ) -> tuple[OfferTracking | None, Resolution | None]:
    """Silence checkpoint at ``now``: churned once a horizon has passed since the later of
    the offer and the customer's last activity."""
    if tracking is None:
        return None, None
    since = max(tracking.offered_at, last_seen.timestamp() if last_seen else 0.0)
    if now.timestamp() < since + horizon.total_seconds():
        return tracking, None
    return _resolve(tracking, "churned")


def on_churn(tracking: OfferTracking | None) -> tuple[None, Resolution | None]:
    """Explicit churn (account closed): churned at once."""
    return (None, None) if tracking is None else _resolve(tracking, "churned")

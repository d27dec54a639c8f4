"""Retention offers in the simulation: who accepts, what the outcome topic sees, true uplift.

Acceptance is one draw per customer and seed (:func:`accepts`), so a customer who
turns one offer down turns every offer down, and the effect of treating a
saveable churner is exactly ``offer_effect`` in expectation.

>>> accepts(1, "cust-000001", 1.0), accepts(1, "cust-000001", 0.0)
(True, False)
>>> r = [Exposure("c1", "o1", True, 0.0, 10.0, 50.0), Exposure("c2", "o2", False, 0.0, 10.0, 5.0)]
>>> expected_uplift(r, offer_effect=0.4, horizon_s=None)
0.2
>>> Exposure("c3", "o3", True, 0.0, 10.0, math.inf).saveable(None)  # never churns: nothing to save
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random

from schemas.events import OfferOutcome, RetentionOffer

DEADWEIGHT = 0.2  # customers who would have stayed anyway still accept this often


@dataclass(frozen=True)
class Exposure:
    """A customer's first offer in the experiment (treated or control)."""

    customer_id: str
    offer_id: str
    treated: bool
    offered_at: float  # epoch seconds of the offer's event time
    switch_at: float  # when an accepted offer would take effect in the stream
    planned_churn_at: float  # churn time before any offer (inf: never)

    def saveable(self, horizon_s: float | None) -> bool:
        """Would churn within the horizon, yet late enough for an offer to change that."""
        until = math.inf if horizon_s is None else self.offered_at + horizon_s
        return self.switch_at < self.planned_churn_at <= until and self.planned_churn_at < math.inf


def accepts(seed: int, customer_id: str, offer_effect: float) -> bool:
    """Whether this customer accepts an offer when it could save them (deterministic)."""
    return Random(f"{seed}/{customer_id}/offer").random() < offer_effect


def accept_delay_s(seed: int, offer: RetentionOffer) -> float:
    """Seconds from the offer's event time until an acceptance takes effect."""
    return Random(f"{seed}/{offer.offer_id}/delay").uniform(2, 48) * 3600


def expected_uplift(exposures: list[Exposure], offer_effect: float, horizon_s: float | None) -> float:
    """P(retained | treated) - P(retained | control) in expectation over the exposed customers."""
    if not exposures:
        return 0.0
    return offer_effect * sum(e.saveable(horizon_s) for e in exposures) / len(exposures)


def realized_uplift(exposures: list[Exposure], churn_at: dict[str, float], horizon_s: float | None) -> float:
    """Retained share of treated minus that of control, given actual churn times (nan: an arm is empty)."""
    arms: dict[bool, list[bool]] = {True: [], False: []}
    for e in exposures:
        end, at = e.offered_at + (math.inf if horizon_s is None else horizon_s), churn_at[e.customer_id]
        arms[e.treated].append(at == math.inf or at > end)
    if not arms[True] or not arms[False]:
        return math.nan
    return sum(arms[True]) / len(arms[True]) - sum(arms[False]) / len(arms[False])


def outcomes(seed: int, offer: RetentionOffer, accepted: bool, basket_eur: float) -> list[OfferOutcome]:
    """What the delivering service reports for ``offer`` (nothing for held-out offers)."""
    if offer.control_group or offer.status != "send":
        return []
    rng = Random(f"{seed}/{offer.offer_id}/outcome")
    t0, expiry = offer.occurred_at.astimezone(UTC), offer.expires_at.astimezone(UTC)

    def at(t: datetime) -> datetime:
        return min(t, expiry)

    def make(kind: str, t: datetime, revenue: float | None = None) -> OfferOutcome:
        return OfferOutcome(event_type="offer_outcome", event_id=f"{offer.offer_id}-{kind}",
                            customer_id=offer.customer_id, occurred_at=at(t), offer_id=offer.offer_id,
                            outcome=kind, revenue=revenue)

    if rng.random() < 0.03 and not accepted:  # a saving offer was, by definition, delivered
        return [make("failed", t0 + timedelta(minutes=1))]
    delivered = t0 + timedelta(minutes=rng.uniform(1, 10))
    out = [make("delivered", delivered)]
    took = accepted or rng.random() < DEADWEIGHT
    if took or rng.random() < 0.5:
        out.append(make("opened", delivered + timedelta(hours=rng.uniform(0.1, 1.5))))
    if took:
        acc = t0 + timedelta(seconds=accept_delay_s(seed, offer))
        out.append(make("accepted", acc))
        revenue = round(basket_eur * rng.lognormvariate(0, 0.3) + offer.value, 2)
        out.append(make("redeemed", acc + timedelta(days=rng.uniform(0, 3)), revenue))
    elif len(out) == 2 and rng.random() < 0.4:
        out.append(make("declined", out[-1].occurred_at + timedelta(hours=rng.uniform(0.1, 24))))
    else:
        out.append(make("expired", expiry))
    return sorted(out, key=lambda o: o.occurred_at)

"""Realistic synthetic customers with known fates — pure, deterministic by seed, no I/O.

Two kinds: ``kind="shop"`` (the default; described here) and ``kind="app"``, app-centred
subscribers whose churn is set by how much they use particular features
(:mod:`simulator.app`). Both run through the same code below.

Loyal customers order on a personal rhythm and use the app steadily; churners drift
away (``disengaging``, ``service_failure``, ``price_sensitive``, ``product_fit``) and
stop at a known ``churn_at``, some with an explicit ``account_closed``. Time can be
taken in consecutive windows (accelerated demo) or all at once (backtest): the
stream is the same. Offers sent to churners save a known share of them.

>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
>>> sim = Simulator(20, seed=1, start=t0)
>>> week = sim.events_between(t0, t0 + timedelta(days=7))
>>> week[0].event_type, all(a.occurred_at <= b.occurred_at for a, b in zip(week, week[1:]))
('profile', True)
>>> churner = next(c for c, f in sim.fates.items() if f.churns)
>>> late = sim.events_between(t0 + timedelta(days=7), sim.fates[churner].churn_at + timedelta(days=60))
>>> [e.event_type for e in late if e.customer_id == churner and e.occurred_at > sim.fates[churner].churn_at]
[]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.errors import ChurnError
from schemas.events import Event, OfferOutcome, RetentionOffer
from simulator.app import AppCustomerSim, draw_app_plan
from simulator.customer import CustomerSim
from simulator.io import fates_json, to_jsonl
from simulator.offers import Exposure, accept_delay_s, accepts, expected_uplift, outcomes, realized_uplift
from simulator.plan import DAY, INF, PERSONAS, draw_plan

__all__ = ["Fate", "KINDS", "PERSONAS", "SimulationError", "Simulator", "fates_json", "to_jsonl"]
KINDS = ("shop", "app")


class SimulationError(ChurnError, ValueError):
    """A simulator call that cannot be honoured (windows going back, unknown customer)."""


@dataclass
class Fate:
    """What happens to a customer; updated in place when an offer saves them."""

    persona: str
    churns: bool
    churn_at: datetime | None
    closes_account: bool
    saved_by_offer: bool = False
    saved_at: datetime | None = None  # from when the saved customer behaves loyally
    planned_churn_at: datetime | None = None  # churn time before any offer


def _dt(ts: float) -> datetime | None:
    return None if ts == INF else datetime.fromtimestamp(ts, UTC)


class Simulator:
    """``n_customers`` customers from ``start``; churners churn within ``horizon_days``.

    ``events_between`` must be called with windows that move forward in time.
    """

    def __init__(self, n_customers: int, *, seed: int, start: datetime, churn_share: float = 0.3,
                 offer_effect: float = 0.35, horizon_days: float = 365.0, kind: str = "shop") -> None:
        if start.tzinfo is None:
            raise SimulationError("start must be timezone-aware")
        if kind not in KINDS:
            raise SimulationError(f"unknown customer kind {kind!r}; one of {', '.join(KINDS)}")
        self.seed, self.start, self.offer_effect, self.kind = seed, start, offer_effect, kind
        start_ts = start.timestamp()
        if kind == "app":  # churn follows from engagement, not from churn_share
            plans = [draw_app_plan(seed, i, start_ts, horizon_days * DAY) for i in range(n_customers)]
            self._customers = {p.cid: AppCustomerSim(p, seed) for p in plans}
        else:
            plans = [draw_plan(seed, i, start_ts, horizon_days * DAY, churn_share) for i in range(n_customers)]
            self._customers = {p.cid: CustomerSim(p, seed) for p in plans}
        self.fates: dict[str, Fate] = {
            p.cid: Fate(p.persona, p.churn_at < INF, _dt(p.churn_at), p.closes_account,
                        planned_churn_at=_dt(p.churn_at)) for p in plans}
        self._frontier = -math.inf
        self._exposures: dict[str, Exposure] = {}
        self._seen_offers: set[str] = set()
        self._saving_offers: set[str] = set()

    def events_between(self, t0: datetime, t1: datetime) -> list[Event]:
        """All events with ``t0 <= occurred_at < t1``, in time order (ties by event_id)."""
        a, b = t0.timestamp(), t1.timestamp()
        if a < self._frontier:
            raise SimulationError(f"window starts at {t0.isoformat()}, before the end of the previous one")
        if b <= a:
            return []
        self._frontier = b
        raws = [(raw, cid) for cid, c in self._customers.items() for raw in c.take(a, b)]
        raws.sort(key=lambda rc: (rc[0][0], rc[0][1]))
        return [model.model_validate({"event_id": eid, "customer_id": cid,
                                      "occurred_at": datetime.fromtimestamp(ts, UTC), **fields})
                for (ts, eid, model, fields), cid in raws]

    def _customer(self, customer_id: str) -> CustomerSim:
        try:
            return self._customers[customer_id]
        except KeyError:
            raise SimulationError(f"unknown customer {customer_id!r}") from None

    def _decide(self, customer_id: str, offer: RetentionOffer) -> tuple[bool, float]:
        """(accepted and saves the customer, time the acceptance takes effect)."""
        plan = self._customer(customer_id).plan
        switch = float(math.ceil(max(offer.occurred_at.timestamp() + accept_delay_s(self.seed, offer), self._frontier)))
        treated = not offer.control_group and offer.status == "send"
        saves = treated and switch < plan.churn_at < INF and accepts(self.seed, customer_id, self.offer_effect)
        return saves, switch

    def on_offer(self, customer_id: str, offer: RetentionOffer) -> None:
        """Apply an offer: a sent offer may save a churner whose churn is still ahead.

        The change takes effect at the later of acceptance time and the end of the last
        window taken (events already handed out cannot change). Offers waiting for
        approval were not sent and change nothing.
        """
        if offer.status == "pending_approval" and not offer.control_group:
            return
        saves, switch = self._decide(customer_id, offer)
        self._seen_offers.add(offer.offer_id)
        fate = self.fates[customer_id]
        if customer_id not in self._exposures:
            planned = fate.planned_churn_at.timestamp() if fate.planned_churn_at else INF
            self._exposures[customer_id] = Exposure(customer_id, offer.offer_id, not offer.control_group,
                                                    offer.occurred_at.timestamp(), switch, planned)
        if saves:
            self._customers[customer_id].save(switch)
            fate.churns, fate.churn_at, fate.closes_account = False, None, False
            fate.saved_by_offer, fate.saved_at = True, _dt(switch)
            self._saving_offers.add(offer.offer_id)

    def outcomes_for(self, offer: RetentionOffer) -> list[OfferOutcome]:
        """Outcome events of a sent offer: delivered, opened, accepted/redeemed or declined/expired."""
        if offer.offer_id in self._seen_offers:
            accepted = offer.offer_id in self._saving_offers
        else:
            accepted = self._decide(offer.customer_id, offer)[0]
        basket = self._customer(offer.customer_id).plan.basket_eur
        return outcomes(self.seed, offer, accepted, basket)

    def true_uplift(self, horizon_days: float | None = None) -> float:
        """Expected P(retained | treated) − P(retained | control) among offered customers.

        Offered customers are those whose first offer reached :meth:`on_offer` (sent or
        control). Retained means not churning within ``horizon_days`` of the offer
        (``None``: ever). It equals ``offer_effect`` times the share of them an offer could save.
        """
        return expected_uplift(list(self._exposures.values()), self.offer_effect,
                               None if horizon_days is None else horizon_days * DAY)

    def realized_uplift(self, horizon_days: float | None = None) -> float:
        """The same difference as it actually happened (nan while an arm is empty)."""
        churn_at = {c: f.churn_at.timestamp() if f.churn_at else INF for c, f in self.fates.items()}
        return realized_uplift(list(self._exposures.values()), churn_at,
                               None if horizon_days is None else horizon_days * DAY)

"""Who a simulated customer is: persona, habits and fate, drawn once from the seed.

A :class:`Plan` holds one customer's personal parameters (order rhythm, basket,
app use, ticket rate) and the timeline of their fate (decline start, churn time,
one-off milestones such as disabling notifications). Times are epoch seconds;
``INF`` means "never".

>>> plan = draw_plan(7, 3, start_ts=1_700_000_000.0, horizon_s=365 * DAY, churn_share=1.0)
>>> plan.cid, plan.persona in CHURN_PERSONAS, plan.active_from <= plan.decline_start < plan.churn_at
('cust-000003', True, True)
>>> draw_plan(7, 3, 1_700_000_000.0, 365 * DAY, 1.0) == plan
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from random import Random

DAY = 86_400.0
INF = math.inf
CHURN_PERSONAS: tuple[str, ...] = ("disengaging", "service_failure", "price_sensitive", "product_fit")
PERSONAS: tuple[str, ...] = ("loyal", *CHURN_PERSONAS)
_PERSONA_WEIGHTS = (0.35, 0.25, 0.2, 0.2)
CLOSE_SHARE = 0.35  # churners who end with an explicit account_closed
NEW_SHARE = 0.15  # customers who sign up during the simulation
OWNERS = ("anna.k", "ben.m", "carla.r", "deniz.o", "emil.s")
HIGH_VALUE_EUR = 1_500.0  # yearly spend above which an account manager may own the customer


@dataclass
class Plan:
    """One customer's parameters and fate timeline (mutable only by :meth:`save`)."""

    cid: str
    eid: str  # event-id prefix, unique per customer and seed
    persona: str
    active_from: float
    churn_at: float
    decline_start: float
    closes_account: bool
    gap_days: float
    basket_eur: float
    item_price: float
    discount_rate: float
    return_rate: float
    visits_per_week: float
    session_s: float
    tickets_per_year: float
    platform: str
    channel_weights: tuple[float, float, float, float]  # web, app, store, other
    segment: str
    signup_date: date
    consent: bool
    owner: str | None
    milestones: list[tuple[float, str]] = field(default_factory=list)
    uninstall_at: float = INF
    reinstall_at: float = INF
    notif_off_at: float = INF

    def progress(self, ts: float) -> float:
        """Decline progress at ``ts``: 0 before the decline starts, 1 at churn."""
        if ts <= self.decline_start:
            return 0.0
        return min(1.0, (ts - self.decline_start) / (self.churn_at - self.decline_start))

    def app_installed(self, ts: float) -> bool:
        """Whether the app is installed at ``ts`` (web users always count as installed)."""
        return not (self.uninstall_at <= ts < self.reinstall_at)

    def save(self, at: float) -> None:
        """Turn the customer loyal from ``at``: no decline, no churn, no pending milestones."""
        self.churn_at = self.decline_start = INF
        self.closes_account = False
        self.milestones = [m for m in self.milestones if m[0] < at]
        if self.uninstall_at >= at:
            self.uninstall_at = INF
        else:
            self.reinstall_at = at
        if self.notif_off_at >= at:
            self.notif_off_at = INF


def draw_plan(seed: int, idx: int, start_ts: float, horizon_s: float, churn_share: float) -> Plan:
    """Draw customer ``idx``'s plan; churners churn within ``(start, start + horizon]``."""
    cid = f"cust-{idx:06d}"
    rng = Random(f"{seed}/{cid}/plan")
    churns = rng.random() < churn_share
    persona = rng.choices(CHURN_PERSONAS, _PERSONA_WEIGHTS)[0] if churns else "loyal"
    new = rng.random() < NEW_SHARE
    active_from = start_ts + (rng.uniform(0, horizon_s / 2) if new else rng.uniform(0, DAY))
    gap_days = rng.uniform(10, 40)
    basket = rng.lognormvariate(math.log(45), 0.5)
    yearly = basket * 365 / gap_days
    platform = rng.choices(("ios", "android", "web"), (45, 40, 15))[0]
    app_w = 0.05 if platform == "web" else rng.uniform(0.2, 0.6)
    since = rng.uniform(30 * DAY, 6 * 365 * DAY)
    plan = Plan(
        cid=cid, eid=f"{cid}-s{seed}", persona=persona, active_from=active_from, churn_at=INF,
        decline_start=INF, closes_account=False, gap_days=gap_days, basket_eur=basket,
        item_price=rng.uniform(12, 35),
        discount_rate=rng.uniform(0.2, 0.4) if persona == "price_sensitive" else rng.uniform(0.03, 0.25),
        return_rate=rng.uniform(0.02, 0.08), visits_per_week=rng.uniform(0.4, 3.0),
        session_s=rng.uniform(120, 480), tickets_per_year=rng.uniform(0.5, 3.0), platform=platform,
        channel_weights=(1.0 - app_w, app_w, rng.uniform(0, 0.3), 0.03),
        segment="vip" if yearly > HIGH_VALUE_EUR else rng.choices(("standard", "family", "student"), (6, 3, 1))[0],
        signup_date=_date(active_from if new else start_ts - since),
        consent=rng.random() < 0.8,
        owner=rng.choice(OWNERS) if yearly > HIGH_VALUE_EUR and rng.random() < 0.7 else None,
    )
    if churns:
        _draw_fate(rng, plan, start_ts, horizon_s)
    elif rng.random() < 0.05:
        plan.notif_off_at = rng.uniform(active_from, start_ts + horizon_s)
    for ts, kind in ((plan.notif_off_at, "notifications_disabled"), (plan.uninstall_at, "uninstall")):
        if ts < INF:
            plan.milestones.append((ts, kind))
    plan.milestones = sorted((float(round(ts)), kind) for ts, kind in plan.milestones)
    return plan


def _draw_fate(rng: Random, plan: Plan, start_ts: float, horizon_s: float) -> None:
    lo = max(start_ts + min(60 * DAY, horizon_s / 2), plan.active_from + min(45 * DAY, horizon_s / 3))
    hi = max(start_ts + horizon_s, lo + DAY)
    plan.churn_at = float(round(rng.uniform(lo, hi)))
    length = min(rng.uniform(30, 100) * DAY, 0.8 * (plan.churn_at - plan.active_from))
    plan.decline_start = plan.churn_at - length
    plan.closes_account = rng.random() < CLOSE_SHARE
    disengaging = plan.persona == "disengaging"
    if rng.random() < (0.6 if disengaging else 0.15):
        plan.notif_off_at = plan.decline_start + length * rng.uniform(0.3, 0.7)
        if disengaging and rng.random() < 0.3:
            plan.milestones.append((plan.notif_off_at + 3600, "consent_withdrawn"))
    if plan.platform != "web" and rng.random() < (0.4 if disengaging else 0.1):
        plan.uninstall_at = plan.decline_start + length * rng.uniform(0.8, 0.97)
    if plan.closes_account:
        plan.milestones.append((plan.churn_at, "account_closed"))


def _date(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()

"""Event makers for one simulated customer: orders, app visits, pushes, tickets.

Each maker is pure given its random generator: ``maker(rng, plan, ts, n)`` returns
the raw events of the ``n``-th occurrence at ``ts`` and the time of the next one.
A raw event is ``(ts, event_id, model, fields)``. Persona effects scale with the
decline progress ``p = plan.progress(ts)`` (0 when behaving normally, 1 at churn).

>>> from simulator.plan import draw_plan, DAY
>>> plan = draw_plan(1, 0, 1_700_000_000.0, 365 * DAY, churn_share=0.0)
>>> raws, nxt = make_order(Random(0), plan, plan.active_from, 0)
>>> raws[0][2].__name__, raws[0][3]["status"], raws[0][3]["currency"], nxt > plan.active_from
('OrderEvent', 'placed', 'EUR', True)
"""

from __future__ import annotations

import heapq
from random import Random
from typing import Any

from schemas.events import AppActivityEvent, OrderEvent
from simulator.plan import DAY, Plan
from simulator.tickets import make_ticket

Raw = tuple[float, str, type, dict[str, Any]]
CHANNELS = ("web", "app", "store", "other")
FEATURES = ("search", "wishlist", "order_tracking", "recommendations", "reorder", "loyalty_card", "chat")
_ORDER_GAP = {"disengaging": 3.0, "service_failure": 1.5, "price_sensitive": 2.0, "product_fit": 2.0}
_VISIT_DROP = {"service_failure": 0.5, "price_sensitive": 0.4, "product_fit": 0.5}


def pop_window(heap: list[Raw], t0: float, t1: float, churn_at: float) -> list[Raw]:
    """Remove and return the waiting events with ``t0 <= ts < t1``, in time order. Events
    before ``t0`` are dropped; after the churn time only the account closure (exactly at
    churn time) survives."""
    out = []
    while heap and heap[0][0] < t1:
        raw = heapq.heappop(heap)
        ts = raw[0]
        if ts < t0 or ts > churn_at or (ts == churn_at and raw[3].get("activity") != "account_closed"):
            continue
        out.append(raw)
    return out


def daytime(rng: Random, ts: float) -> float:
    """Move ``ts`` to a waking hour of the same day (evening-heavy), never earlier than ``ts - 1 day``."""
    day = ts - ts % DAY
    return day + rng.triangular(7, 23.5, 20) * 3600


def make_order(rng: Random, plan: Plan, ts: float, n: int) -> tuple[list[Raw], float]:
    """A placed order, maybe followed by its cancellation, refund or return."""
    p, persona = plan.progress(ts), plan.persona
    gross = plan.basket_eur * rng.lognormvariate(0, 0.3)
    if persona == "price_sensitive":
        gross *= 1 - 0.6 * p
    elif persona == "disengaging":
        gross *= 1 - 0.2 * p
    gross = max(3.0, gross)
    price_p = p if persona == "price_sensitive" else 0.0
    discount = 0.0
    if rng.random() < plan.discount_rate + (0.9 - plan.discount_rate) * price_p:
        discount = round(gross * rng.uniform(0.05, 0.15 + 0.2 * price_p), 2)
    amount, items = round(gross - discount, 2), max(1, round(gross / plan.item_price * rng.uniform(0.7, 1.3)))
    channel = rng.choices(CHANNELS, plan.channel_weights)[0]
    if channel == "app" and not plan.app_installed(ts):
        channel = "web"
    oid = f"ord-{plan.eid}-{n}"
    fields = dict(order_id=oid, amount=amount, currency="EUR", items=items, discount_amount=discount, channel=channel)
    raws: list[Raw] = [(ts, f"{plan.eid}-o{n}", OrderEvent, {**fields, "event_type": "order", "status": "placed"})]
    service, fit = (p if persona == "service_failure" else 0.0), (p if persona == "product_fit" else 0.0)
    cancel, refund, ret = 0.02 + 0.15 * service, 0.02 + 0.12 * service + 0.1 * fit, plan.return_rate + 0.5 * fit
    r = rng.random()
    if r < cancel + refund + ret:
        status, delay = (("cancelled", rng.uniform(0.2, 12) * 3600) if r < cancel else
                         ("refunded", rng.uniform(2, 14) * DAY) if r < cancel + refund else
                         ("returned", rng.uniform(3, 25) * DAY))
        raws.append((ts + delay, f"{plan.eid}-o{n}r", OrderEvent, {**fields, "event_type": "order", "status": status}))
    gap = plan.gap_days * (1 + _ORDER_GAP.get(persona, 0.0) * p) * rng.lognormvariate(0, 0.35)
    return raws, max(ts + 3600, daytime(rng, ts + max(0.5, gap) * DAY))


def _visit_rate(plan: Plan, p: float) -> float:
    """Visits per day at decline progress ``p``."""
    drop = (1 - p) ** 2 if plan.persona == "disengaging" else 1 - _VISIT_DROP.get(plan.persona, 0.0) * p
    return max(1 / 400, plan.visits_per_week / 7 * drop)


def make_visit(rng: Random, plan: Plan, ts: float, n: int) -> tuple[list[Raw], float]:
    """An app or web visit: sometimes a login, a session with its length, maybe a feature used."""
    p = plan.progress(ts)
    raws: list[Raw] = []
    if plan.app_installed(ts):
        fade = 1 - (0.7 if plan.persona == "disengaging" else 0.2) * p
        dur = float(round(max(5.0, plan.session_s * rng.lognormvariate(0, 0.6) * fade)))
        base = dict(event_type="app_activity", platform=plan.platform)
        if rng.random() < 0.25:
            raws.append((ts, f"{plan.eid}-v{n}l", AppActivityEvent, {**base, "activity": "login"}))
        raws.append((ts + dur, f"{plan.eid}-v{n}", AppActivityEvent, {**base, "activity": "session", "duration_s": dur}))
        if rng.random() < 0.3 * fade:
            raws.append((ts + rng.uniform(0, dur), f"{plan.eid}-v{n}f", AppActivityEvent,
                         {**base, "activity": "feature_used", "feature": rng.choice(FEATURES)}))
    gap = rng.expovariate(_visit_rate(plan, p)) * DAY
    return raws, max(ts + 600, daytime(rng, ts + gap) if gap > DAY else ts + gap)


def make_push(rng: Random, plan: Plan, ts: float, n: int) -> tuple[list[Raw], float]:
    """A push notification opened (only while the app is installed and notifications are on)."""
    raws: list[Raw] = []
    if plan.app_installed(ts) and ts < plan.notif_off_at and plan.platform != "web":
        if rng.random() < _visit_rate(plan, plan.progress(ts)) / (plan.visits_per_week / 7):
            raws.append((ts, f"{plan.eid}-p{n}", AppActivityEvent,
                         dict(event_type="app_activity", activity="push_opened", platform=plan.platform)))
    return raws, daytime(rng, ts + rng.uniform(6, 25) * DAY) + DAY


MAKERS = {"order": make_order, "visit": make_visit, "push": make_push, "ticket": make_ticket}

"""Support tickets of one simulated customer, as whole stories.

A ticket is opened, maybe commented and escalated, resolved with a CSAT score and
maybe reopened and resolved again. Service-failure churners complain more and more
(delivery, billing), wait longer, rate lower; product-fit churners ask about products.

>>> from random import Random
>>> from simulator.plan import draw_plan, DAY
>>> plan = draw_plan(1, 0, 1_700_000_000.0, 365 * DAY, churn_share=0.0)
>>> raws, nxt = make_ticket(Random(0), plan, plan.active_from, 0)
>>> raws[0][3]["action"], raws[-1][3]["action"] in ("resolved", "comment", "escalated"), nxt > plan.active_from
('opened', True, True)
"""

from __future__ import annotations

from random import Random
from typing import Any

from schemas.events import SupportEvent
from simulator.plan import DAY, Plan

CATEGORIES = ("billing", "delivery", "product", "account", "app", "other")
_BASE_WEIGHTS = (2, 3, 2, 1, 1, 1)


def _clip(x: float) -> float:
    return round(max(-1.0, min(1.0, x)), 2)


def make_ticket(rng: Random, plan: Plan, ts: float, n: int) -> tuple[list[tuple[float, str, type, dict[str, Any]]], float]:
    """One ticket story starting at ``ts`` and the start time of the next ticket."""
    p = plan.progress(ts)
    service = p if plan.persona == "service_failure" else 0.0
    fit = p if plan.persona == "product_fit" else 0.0
    if service and rng.random() < 0.9:
        category = rng.choices(("delivery", "billing", "other"), (55, 35, 10))[0]
    elif fit and rng.random() < 0.8:
        category = "product"
    else:
        category = rng.choices(CATEGORIES, _BASE_WEIGHTS)[0]
    complaint = rng.random() < 0.25 + 0.65 * service + 0.4 * fit
    priority = (rng.choice(("high", "urgent")) if complaint and service > 0.3
                else rng.choices(("low", "normal", "high"), (3, 6, 1))[0])
    mood = -0.3 - 0.5 * service - 0.2 * fit if complaint else 0.2
    base = dict(event_type="support", ticket_id=f"tkt-{plan.eid}-{n}", category=category,
                priority=priority, is_complaint=complaint)
    raws = []

    def add(at: float, action: str, k: int, **extra: Any) -> None:
        raws.append((at, f"{plan.eid}-t{n}-{k}", SupportEvent, {**base, "action": action, **extra}))

    add(ts, "opened", 0, sentiment=_clip(rng.gauss(mood, 0.2)))
    t = ts
    for k in range(rng.choices((0, 1, 2), (5, 3, 2))[0]):
        t += rng.uniform(1, 12) * 3600
        add(t, "comment", 1 + k, sentiment=_clip(rng.gauss(mood - 0.1 * k, 0.2)))
    if rng.random() < 0.05 + 0.45 * service:
        t += rng.uniform(2, 24) * 3600
        add(t, "escalated", 3)
    t += rng.lognormvariate(3.0, 0.7) * 3600 * (1 + 3 * service)
    unhappy = service + 0.5 * fit
    add(t, "resolved", 4, csat=_csat(rng, unhappy))
    if rng.random() < 0.05 + 0.4 * service:
        t += rng.uniform(1, 5) * DAY
        add(t, "reopened", 5, sentiment=_clip(rng.gauss(mood - 0.2, 0.2)))
        t += rng.lognormvariate(3.0, 0.7) * 3600 * (1 + 2 * service)
        add(t, "resolved", 6, csat=_csat(rng, min(1.0, unhappy + 0.3)))
    rate = plan.tickets_per_year / 365 + 0.12 * service + 0.03 * fit  # tickets per day
    return raws, ts + rng.expovariate(rate) * DAY + 3600


def _csat(rng: Random, unhappy: float) -> int | None:
    """CSAT 1-5 or None (not answered); ``unhappy`` in 0..1 shifts it down."""
    if rng.random() < 0.35:
        return None
    return max(1, min(5, round(rng.gauss(4.4 - 3.2 * unhappy, 0.8))))

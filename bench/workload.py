"""The benchmark's events: a simulated history (throughput, backtest) and a live script
paced on the wall clock (latency), both as the producer would send them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from config.settings import Settings
from schemas.catalogue import TOPIC_OF_TYPE
from simulator import Simulator

START = datetime(2024, 1, 1, tzinfo=UTC)


def simulated(customers: int, days: int, seed: int = 7) -> list:
    """``customers`` simulated customers' events over ``days`` days, in event-time order."""
    sim = Simulator(customers, seed=seed, start=START)
    return sim.events_between(START, START + timedelta(days=days))


def as_messages(settings: Settings, events: list) -> list[tuple[str, bytes, bytes]]:
    """(full topic name, key, JSON value) of each event, as ``churn-alert replay`` sends them."""
    return [(settings.topic(TOPIC_OF_TYPE[e.event_type]), e.customer_id.encode(), e.model_dump_json().encode())
            for e in events]


# A customer who turns unhappy: three complaints (0.40), muted notifications (0.53 → watch),
# uninstall (0.83 → high), a CSAT of 1 (0.90 → critical) under the rule prior.
ESCALATION = (
    {"event_type": "profile", "marketing_consent": True, "segment": "regular"},
    {"event_type": "order", "order_id": "o1", "status": "placed", "amount": 40.0, "currency": "EUR", "items": 2,
     "channel": "app"},
    *({"event_type": "support", "ticket_id": f"t{i}", "action": "opened", "category": "delivery", "priority": "high",
       "is_complaint": True} for i in range(3)),
    {"event_type": "app_activity", "activity": "notifications_disabled", "platform": "ios"},
    {"event_type": "app_activity", "activity": "uninstall", "platform": "ios"},
    {"event_type": "support", "ticket_id": "t0", "action": "comment", "category": "delivery", "priority": "high",
     "is_complaint": True, "csat": 1},
)
BACKGROUND = (
    {"event_type": "app_activity", "activity": "login", "platform": "android"},
    {"event_type": "app_activity", "activity": "session", "platform": "android", "duration_s": 240.0},
    {"event_type": "app_activity", "activity": "feature_used", "platform": "web", "feature": "search"},
    {"event_type": "order", "order_id": "o", "status": "placed", "amount": 25.0, "currency": "EUR", "items": 1,
     "channel": "web"},
)


def live_script(total: int, *, escalating_share: float = 0.2, step_gap: int = 50, background_customers: int = 20_000,
                seed: int = 11) -> list[tuple[str, dict]]:
    """``total`` (customer id, event fields without ``occurred_at``) in send order.

    A share of the slots belongs to escalating customers, each of whose steps is
    ``step_gap`` slots after the previous one (50 ms at 1,000 events/s); the rest is
    ordinary traffic of ``background_customers`` customers. ``occurred_at`` is stamped
    when the event is sent.
    """
    rng = random.Random(seed)
    slots: list[tuple[str, dict] | None] = [None] * total
    every = max(1, round(len(ESCALATION) / escalating_share))  # one escalation starts every ``every`` slots
    for n, start in enumerate(range(0, total - step_gap * len(ESCALATION), every)):
        for k, fields in enumerate(ESCALATION):
            pos = start + k * step_gap
            while pos < total and slots[pos] is not None:
                pos += 1
            if pos < total:
                slots[pos] = (f"esc-{n:05d}", dict(fields))
    out = []
    for i, slot in enumerate(slots):
        if slot is None:
            slot = (f"bg-{rng.randrange(background_customers):05d}", dict(rng.choice(BACKGROUND)))
        cid, fields = slot
        out.append((cid, {**fields, "event_id": f"{cid}-{i}", "customer_id": cid, "schema_version": 1}))
    return out

"""A customer already lost (silent past the horizon, or account closed) gets a win-back,
not more retention alerts; coming back makes them alertable again."""

from datetime import UTC, datetime, timedelta

from config.settings import Settings
from engine.compose import processor_from
from engine.processor import to_dt
from engine.record import CustomerRecord
from models.prior import RulePrior
from models.scorer import Scorer
from schemas.events import OrderEvent, SupportEvent

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def order(i: int, t: datetime) -> OrderEvent:
    return OrderEvent(event_id=f"o{i}", customer_id="c1", occurred_at=t, event_type="order", order_id=f"o{i}",
                      status="placed", amount=30.0, currency="EUR", items=1, channel="web")


def complaint(i: int, t: datetime) -> SupportEvent:
    return SupportEvent(event_id=f"s{i}", customer_id="c1", occurred_at=t, event_type="support", ticket_id=f"t{i}",
                        action="opened", category="delivery", priority="high", is_complaint=True, csat=1, sentiment=-0.9)


def test_no_retention_alert_once_churn_is_noted_until_the_customer_is_back():
    s = Settings()
    proc = processor_from(s, Scorer(RulePrior(), min_labels=10**9))
    rec, t = CustomerRecord(), T0
    for i in range(6):
        rec = proc.on_event(rec, order(i, t), t).record
        t += timedelta(days=7)
    alerts_before, alerts_after, churn_at = [], [], None
    while rec.next_check is not None:
        step = proc.on_tick("c1", rec, to_dt(rec.next_check))
        rec = step.record
        if step.churned:
            churn_at = step.at
        if step.decision is not None:
            (alerts_before if churn_at is None else alerts_after).append(step.decision.tier)
    assert alerts_before, "silence alone raised no retention alert before the customer was lost"
    assert churn_at is not None and alerts_after == [], "retention alerts after the churn was noted"
    # Back, and unhappy: alertable again.
    back = to_dt(churn_at) + timedelta(days=10)
    decisions = []
    for i in range(4):
        step = proc.on_event(rec, complaint(i, back + timedelta(days=i)), back + timedelta(days=i))
        rec = step.record
        decisions.append(step.decision)
    assert rec.churn_noted_at is None and any(d is not None for d in decisions)

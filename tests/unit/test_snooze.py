"""A retention agent's snooze arrives as a profile update: no alert before it ends, the
episode is still tracked, and only an escalation after it alerts."""

from datetime import UTC, datetime, timedelta

from config.settings import Settings
from engine.compose import processor_from
from engine.record import CustomerRecord
from models.prior import RulePrior
from models.scorer import Scorer
from schemas.events import ProfileUpdate, SupportEvent

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def complaint(i: int, t: datetime) -> SupportEvent:
    return SupportEvent(event_id=f"s{i}", customer_id="c1", occurred_at=t, event_type="support", ticket_id=f"t{i}",
                        action="opened", category="delivery", priority="high", is_complaint=True, csat=1, sentiment=-0.9)


def alerts(proc, rec, start, n):  # noqa: ANN001
    out = []
    for i in range(n):
        t = start + timedelta(days=i)
        step = proc.on_event(rec, complaint(i + int(start.timestamp()), t), t)
        rec = step.record
        if step.decision is not None:
            out.append((t, step.decision.tier))
    return rec, out


def test_no_alert_while_snoozed_then_only_an_escalation():
    proc = processor_from(Settings(), Scorer(RulePrior(), min_labels=10**9))
    _, unsnoozed = alerts(proc, CustomerRecord(), T0, 6)
    assert unsnoozed, "complaints alone raise an alert (the premise)"

    until = T0 + timedelta(days=20)
    snooze = ProfileUpdate(event_type="profile", event_id="snz", customer_id="c1", occurred_at=T0, snooze_until=until)
    rec = proc.on_event(CustomerRecord(), snooze, T0).record
    assert rec.alert.snooze_until == until.timestamp()
    rec, during = alerts(proc, rec, T0, 6)
    peak = rec.alert.peak
    assert during == [] and peak != "none", "snoozed: the episode is tracked, nothing alerted"
    rank = ["none", "watch", "high", "critical"].index
    # after the snooze, the same episode alerts only when it escalates beyond what was reached
    rec, after = alerts(proc, rec, until + timedelta(days=1), 10)
    assert all(rank(tier) > rank(peak) for _, tier in after), (peak, after)
    # a customer without a snooze was alerted by the same complaints
    assert rank(max((tier for _, tier in unsnoozed), key=rank)) >= rank(peak)

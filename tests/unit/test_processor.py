"""The per-customer step: silence checkpoints end for a customer who is gone."""

from datetime import UTC, datetime, timedelta

from config.settings import Settings
from engine.compose import processor_from
from engine.processor import to_dt
from engine.record import CustomerRecord
from models.prior import RulePrior
from models.scorer import Scorer
from schemas.events import OrderEvent

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def order(i: int, t: datetime) -> OrderEvent:
    return OrderEvent(event_id=f"o{i}", customer_id="c1", occurred_at=t, event_type="order", order_id=f"o{i}",
                      status="placed", amount=30.0, currency="EUR", items=1, channel="web")


def test_a_silent_customer_is_checked_a_bounded_number_of_times_then_left_alone():
    proc = processor_from(Settings(), Scorer(RulePrior(), min_labels=10**9))
    rec = CustomerRecord()
    for i in range(5):
        rec = proc.on_event(rec, order(i, T0 + timedelta(days=7 * i)), T0 + timedelta(days=7 * i)).record
    ticks, labels, churned = 0, [], 0
    while rec.next_check is not None:
        assert ticks < 50, "checkpoints never end"
        step = proc.on_tick("c1", rec, to_dt(rec.next_check))
        rec, ticks = step.record, ticks + 1
        labels += step.labels
        churned += step.churned
    assert churned == 1, "churn by silence is acted on once (one win-back)"
    # the negative of the snapshot of the first order (held since the second) comes out at its horizon,
    # then one positive for the snapshot taken after it while they were silent
    assert [ex.y for ex in labels] == [False, True]

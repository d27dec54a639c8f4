"""Delayed labels: one pending snapshot, negatives on activity (released at the horizon),
positives on silence or closure."""

from dataclasses import fields
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.labelling import DAY, LabelledExample, Snapshot, horizon_due, on_activity, on_churn, on_score, on_silence

X = {"orders_30d": 2.0, "days_since_last_order": 3.0}


def snap(t=0.0):
    s = on_score(None, None, t, X, "rules-1", interval_days=7)
    assert s is not None
    return s


def test_at_most_one_pending_and_one_per_interval():
    s = snap()
    assert on_score(s, s.taken_at, 30 * DAY, X, "m-000009", interval_days=7) is s  # one pending, kept as is
    assert on_score(None, s.taken_at, 6.9 * DAY, X, "rules-1", interval_days=7) is None  # too soon
    again = on_score(None, s.taken_at, 7 * DAY, X, "m-000001", interval_days=7)
    assert again == Snapshot(taken_at=7 * DAY, x=X, model_version="m-000001")


def test_activity_within_horizon_is_negative_held_until_the_horizon():
    held, ex = on_activity(snap(), 12 * DAY, horizon_days=30)
    assert ex is None and held.outcome is False and held.resolved_at == 12 * DAY
    assert on_score(held, 0.0, 20 * DAY, X, "m-000003", interval_days=7) is held  # still the one pending
    assert on_activity(held, 20 * DAY, horizon_days=30) == (held, None)  # more activity changes nothing
    assert on_churn(held, 25 * DAY) == (held, None)  # active within the horizon: stays negative
    assert on_silence(held, 30 * DAY - 1, horizon_days=30) == (held, None)
    pending, ex = on_silence(held, 30 * DAY, horizon_days=30)
    assert pending is None
    assert ex == LabelledExample(x=X, y=False, taken_at=0.0, resolved_at=12 * DAY, model_version="rules-1")


def test_a_held_negative_missed_by_the_sweep_is_released_by_the_next_activity():
    held, _ = on_activity(snap(), 12 * DAY, horizon_days=30)
    pending, ex = on_activity(held, 45 * DAY, horizon_days=30)
    assert pending is None and ex.y is False and ex.resolved_at == 12 * DAY


def test_held_snapshot_round_trips_through_json():
    held, _ = on_activity(snap(), 12 * DAY, horizon_days=30)
    assert Snapshot.from_json(held.to_json()) == held
    assert "y" not in snap().to_json()


def test_activity_after_missed_horizon_is_positive_resolved_at_horizon():
    _, ex = on_activity(snap(), 45 * DAY, horizon_days=30)
    assert ex.y is True and ex.resolved_at == 30 * DAY


def test_silence_waits_until_due_then_positive():
    s = snap(DAY)
    assert horizon_due(s, 30) == 31 * DAY
    assert on_silence(s, 31 * DAY - 1, horizon_days=30) == (s, None)
    pending, ex = on_silence(s, 40 * DAY, horizon_days=30)
    assert pending is None and ex.y is True and ex.resolved_at == 31 * DAY


def test_churn_is_positive_now_and_nothing_pending_gives_nothing():
    _, ex = on_churn(snap(), 2 * DAY)
    assert ex.y is True and ex.resolved_at == 2 * DAY
    assert on_churn(None, 0.0) == on_activity(None, 0.0, 30) == on_silence(None, 0.0, 30) == (None, None)


def test_aware_datetime_equals_epoch_seconds():
    t = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert on_score(None, None, t, X, "v", 7).taken_at == t.timestamp()


def test_examples_carry_no_customer_id():
    assert "customer_id" not in {f.name for f in fields(LabelledExample)} | {f.name for f in fields(Snapshot)}


def test_json_round_trips_and_is_compact_for_the_catalogue():
    ex = on_silence(on_activity(snap(), DAY, 30)[0], 30 * DAY, 30)[1]
    assert LabelledExample.from_json(ex.to_json()) == ex
    features = pytest.importorskip("models.features")
    x = {name: float(i) for i, name in enumerate(features.FEATURE_NAMES)}
    s = Snapshot(taken_at=1.0, x=x, model_version="m-000002")
    doc = s.to_json()
    assert doc["x"] == list(x.values()) and "d" not in doc
    assert Snapshot.from_json(doc) == s


@given(gap=st.floats(min_value=0, max_value=400), horizon=st.floats(min_value=1, max_value=120))
def test_label_is_whether_the_gap_exceeded_the_horizon(gap, horizon):
    pending, ex = on_activity(snap(), gap * DAY, horizon)
    if ex is None:  # a negative, held: released by the sweep at the horizon
        pending, ex = on_silence(pending, horizon_due(snap(), horizon), horizon)
    assert pending is None
    assert ex.y == (gap * DAY > horizon * DAY)
    assert ex.resolved_at <= horizon_due(snap(), horizon)


def test_stops_rule_labels_whether_a_silence_begins_within_the_horizon():
    from models.labelling import Snapshot, horizon_due, on_activity, on_churn, on_silence

    day, s = 86400.0, Snapshot(0.0, {"a": 1.0}, "rules-1")
    # active on day 10 and day 20: the silence that would make it positive now starts on day 20
    p, ex = on_activity(s, 10 * day, 30, "stops")
    p, ex = on_activity(p, 20 * day, 30, "stops")
    assert ex is None and p.last_seen == 20 * day and horizon_due(p, 30, "stops") == 50 * day
    assert on_silence(p, 49 * day, 30, "stops") == (p, None)
    gone = on_silence(p, 50 * day, 30, "stops")[1]
    assert gone.y and gone.resolved_at == 50 * day  # stopped within the horizon: churned
    stayed = on_activity(p, 35 * day, 30, "stops")[1]
    assert stayed is not None and not stayed.y and stayed.resolved_at == 35 * day  # still here past the horizon
    back = on_activity(p, 55 * day, 30, "stops")[1]
    assert back.y and back.resolved_at == 50 * day  # a horizon's silence from day 20, then came back
    assert on_churn(p, 25 * day)[1].y
    assert Snapshot.from_json(p.to_json()) == p
    # the default rule is unchanged: activity within the horizon makes it a (held) negative
    held, ex = on_activity(s, 10 * day, 30)
    assert ex is None and held.outcome is False

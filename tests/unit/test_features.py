"""Churn features against values worked out by hand for a scripted customer."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.catalogue import catalogue_markdown
from models.features import FEATURE_NAMES, compute_features, describe, value_segment
from models.state import CustomerState, id_hash
from tests.unit.test_state import app, fold, order, profile, ticket

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 6, 12, 12, tzinfo=UTC)  # a Wednesday


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def script():
    """A customer with a year of orders, a bad month of support and fading app use."""
    return [
        profile(at("2023-05-01"), signup_date="2023-05-01", marketing_consent=True, owner="anna"),
        order(at("2023-06-01"), 100.0, channel="web"),                 # 377 days ago: outside 365d
        order(at("2024-01-15"), 80.0, discount=20.0, channel="app"),   # 149 days ago: previous 90d
        ticket(at("2024-04-01", 8), "t0", category="billing"),
        ticket(at("2024-04-01", 14), "t0", action="resolved"),         # resolved in 6 h
        order(at("2024-03-20"), 60.0),                                 # 84 days ago: last 90d
        app(at("2024-04-20"), "feature_used", feature="compare"),      # older than 28d
        app(at("2024-05-01"), duration=200.0),                         # 42 days ago: older than 28d
        *[app(at("2024-05-20", h), duration=300.0) for h in range(6)],  # 23 days ago: 6 sessions
        app(at("2024-05-20"), "feature_used", feature="search"),
        order(at("2024-05-20"), 50.0),                                 # 23 days ago
        order(at("2024-05-21"), 50.0, status="cancelled"),
        ticket(at("2024-05-25", 10), "t1", complaint=True, sentiment=-0.2),
        ticket(at("2024-05-26", 10), "t1", action="resolved", csat=2),  # resolved in 24 h
        app(at("2024-06-01"), "push_opened"),
        ticket(at("2024-06-01", 8), "t2", complaint=True, sentiment=-0.8),  # delivery again within 30d
        order(at("2024-06-02"), 70.0, channel="store"),                # 10 days ago: last order
        order(at("2024-06-03"), 70.0, status="returned"),
        ticket(at("2024-06-05"), "t2", action="escalated"),
        ticket(at("2024-06-06"), "t0", action="reopened", category="billing"),
        app(at("2024-06-08"), "notifications_disabled"),
        app(at("2024-06-10"), duration=100.0),                         # 2 days ago
        app(at("2024-06-10"), "feature_used", feature="wishlist"),
        app(at("2024-06-11"), "login"),                                # 1 day ago: last activity
    ]


def expected() -> dict[str, float]:
    gap = 367 / 4  # 5 order days from 2023-06-01 to 2024-06-02 (367 days): 4 gaps of 91.75 days
    fast = slow = 200.0  # session-length EWMAs: 200 s, then six of 300 s, then 100 s
    for d in [300.0] * 6 + [100.0]:
        fast, slow = round(fast + 0.5 * (d - fast), 4), round(slow + 0.1 * (d - slow), 4)
    return {
        "days_since_last_order": 10.0,
        "orders_30d": 2.0,                   # 2024-05-20 and 2024-06-02
        "orders_90d": 3.0,                   # + 2024-03-20 (84 days)
        "orders_365d": 4.0,                  # + 2024-01-15; 2023-06-01 is 377 days back
        "order_gap_typical_days": gap,
        "order_overdue_ratio": 10.0 / gap,
        "spend_90d": 180.0,                  # 60 + 50 + 70
        "spend_trend": (180.0 - 80.0) / 180.0,  # previous 90 days: the 80 of 2024-01-15
        "avg_order_value": 72.0,             # 360 / 5
        "discount_share": 20.0 / 380.0,      # 20 discount on 360 + 20 gross
        "cancel_share": 0.2, "refund_share": 0.0, "return_share": 0.2,  # 1 of 5 each
        "tickets_30d": 2.0,                  # t1, t2 (t0 was 72 days ago)
        "complaints_30d": 2.0,
        "open_tickets": 2.0,                 # t2 open, t0 reopened
        "reopened_tickets_90d": 1.0,
        "escalations_90d": 1.0,
        "csat_recent": 2.0,                  # the only score
        "sentiment_trend": -0.5 - -0.26,     # fast: -0.2 -> -0.5; slow: -0.2 -> -0.26
        "resolution_hours_avg": 6 + 0.3 * (24 - 6),  # 6 h then 24 h, EWMA weight 0.3
        "repeat_issue_30d": 1.0,             # delivery on 2024-05-25 and 2024-06-01
        "days_since_last_login": 1.0,
        "sessions_7d": 1.0,
        "sessions_28d": 7.0,                 # 6 on 2024-05-20 + 1 on 2024-06-10
        "session_trend": (1 / 7 - 7 / 28) / (7 / 28),  # -3/7: rate down 43%
        "session_length_trend": (fast - slow) / slow,
        "features_used_28d": 2.0,            # search, wishlist ("compare" is 53 days old)
        "notifications_disabled": 1.0,       # disabled 2024-06-08, last push opened 2024-06-01
        "uninstalled": 0.0,
        "tenure_days": 408.5,                # 2023-05-01 00:00 to 2024-06-12 12:00
        "clv_estimate": round(72.0 * 365 / gap * 2, 2),  # not overdue: no discount for silence
        "marketing_consent": 1.0,
        "has_owner": 1.0,
        "days_since_last_activity": 1.0,     # the login of 2024-06-11
        # last 28 days (from 2024-05-16): 2 placed orders, 2 tickets opened, 7 sessions and
        # 4 uses of keys (search, push_opened, wishlist, login)
        "events_28d": 15.0,
        "active_days_28d": 12.0,            # any order, support or app event: 12 distinct days
        "main_features_used_28d": 0.0,       # no vocabulary given: every key is pooled
        "use_other_28d": 4.0,
        **{f"use_{i}_{w}": 0.0 for i in range(1, 13) for w in ("7d", "28d", "usual_28d", "share_28d")},
    }


def test_scripted_customer_matches_hand_computed_values():
    events = script()
    x = compute_features(fold(events), NOW)
    assert list(x) == list(FEATURE_NAMES)
    assert id_hash("search") % 32 != id_hash("wishlist") % 32  # two distinct bits in the hashed set
    assert x == pytest.approx(expected(), rel=1e-9, abs=1e-9)
    assert value_segment(x) == "mid"  # R 3 (10 days) + F 2 (4 orders) + M 2 (72) = 7; clv 572.9 < 1000


def test_late_arrivals_give_the_same_window_features():
    events = script()
    late = events[:1] + events[12:] + events[1:12]  # the older half arrives after the newer half
    x, y = compute_features(fold(events), NOW), compute_features(fold(late), NOW)
    order_dependent = {"csat_recent", "sentiment_trend", "resolution_hours_avg", "session_length_trend"}
    assert {k: v for k, v in y.items() if k not in order_dependent} == \
        pytest.approx({k: v for k, v in x.items() if k not in order_dependent})


def test_week_buckets_count_a_week_when_its_middle_day_is_inside():
    # NOW is Wednesday 2024-06-12; 90 days back is Thursday 2024-03-14 (age 90).
    s = fold([order(at("2024-03-11")), order(at("2024-03-17")), order(at("2024-03-18")), order(NOW)])
    x = compute_features(s, NOW)
    # the week Mon 11 - Sun 17 March has its Thursday (14th) at age 90: outside; the next week is in
    assert x["orders_90d"] == 2.0
    assert compute_features(s, NOW - timedelta(days=1))["orders_90d"] == 4.0  # now its Thursday is at age 89


def test_silence_is_measured_against_now_not_the_last_event():
    x = compute_features(fold(script()), NOW + timedelta(days=60))
    assert x["days_since_last_order"] == 70.0 and x["orders_30d"] == 0.0 and x["sessions_28d"] == 0.0
    assert x["order_overdue_ratio"] == pytest.approx(70 / (367 / 4))
    assert x["tickets_30d"] == 0.0 and x["repeat_issue_30d"] == 0.0 and x["days_since_last_activity"] == 61.0


def test_defaults_for_an_unknown_customer_are_finite_and_documented():
    for s, now in ((CustomerState(), NOW), (fold([profile(NOW - timedelta(days=3), segment="x")]), NOW)):
        x = compute_features(s, now)
        assert list(x) == list(FEATURE_NAMES) and all(math.isfinite(v) for v in x.values())
        assert x["order_gap_typical_days"] == 30.0 and x["csat_recent"] == 4.0 and x["clv_estimate"] == 0.0
    assert x["days_since_last_order"] == 3.0 == x["days_since_last_activity"] == x["tenure_days"]
    assert value_segment(x) == "low"


def test_overdue_customers_lose_expected_value():
    s = fold(script())
    fresh, late = compute_features(s, NOW), compute_features(s, NOW + timedelta(days=365))
    # 375 days silent against a 91.75-day rhythm: expected value scaled by 91.75 / 375
    assert late["clv_estimate"] == pytest.approx(fresh["clv_estimate"] * (367 / 4) / 375, abs=0.01)


def test_describe_speaks_plainly():
    x = compute_features(fold(script()), NOW + timedelta(days=37))
    assert describe("order_overdue_ratio", x) == "No order for 47 days, 0.5x longer than usual for this customer"
    assert describe("complaints_30d", {"complaints_30d": 2.0}) == "2 complaints in the last 30 days"
    assert describe("complaints_30d", {"complaints_30d": 1.0}) == "1 complaint in the last 30 days"
    y = compute_features(fold(script()), NOW)
    assert describe("session_trend", y) == "App sessions down 43% (last 7 days vs last 4 weeks)"
    assert describe("spend_trend", y) == "Spending up 125% (last 90 days vs the 90 before)"  # 180 vs 80
    for name in FEATURE_NAMES:
        assert describe(name, y).strip()


def test_features_doc_is_generated_from_the_catalogue():
    doc = (ROOT / "docs" / "FEATURES.md").read_text()
    assert doc == catalogue_markdown(), "regenerate docs/FEATURES.md from models.catalogue.catalogue_markdown()"
    for name in FEATURE_NAMES:
        assert f"`{name}`" in doc

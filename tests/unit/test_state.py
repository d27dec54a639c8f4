"""CustomerState: purity, duplicates, late events, bounded size, exact JSON round trip."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.features import compute_features
from models.state import DAY_SPAN, DEFAULT_GAP_DAYS, SEEN_IDS, CustomerState, apply_event
from schemas.events import AppActivityEvent, OrderEvent, ProfileUpdate, SupportEvent

T0 = datetime(2024, 6, 12, 12, tzinfo=UTC)
_n = iter(range(10**9))


def order(at, amount=10.0, status="placed", channel="web", discount=0.0, eid=None):
    return OrderEvent(event_type="order", event_id=eid or f"o{next(_n)}", customer_id="c", occurred_at=at,
                      order_id=f"ord{next(_n)}", status=status, amount=amount, currency="EUR", items=1,
                      discount_amount=discount, channel=channel)


def ticket(at, tid, action="opened", complaint=False, category="delivery", csat=None, sentiment=None):
    return SupportEvent(event_type="support", event_id=f"s{next(_n)}", customer_id="c", occurred_at=at, ticket_id=tid,
                        action=action, category=category, priority="normal", is_complaint=complaint, csat=csat,
                        sentiment=sentiment)


def app(at, activity="session", duration=None, feature=None):
    return AppActivityEvent(event_type="app_activity", event_id=f"a{next(_n)}", customer_id="c", occurred_at=at,
                            activity=activity, duration_s=duration, feature=feature, platform="ios")


def profile(at, **kw):
    return ProfileUpdate(event_type="profile", event_id=f"p{next(_n)}", customer_id="c", occurred_at=at, **kw)


def fold(events, state=None):
    for ev in events:
        state = apply_event(state, ev)
    return state


def test_apply_event_never_mutates_its_input():
    s1 = fold([order(T0 - timedelta(days=3)), ticket(T0 - timedelta(days=2), "t1")])
    before = json.dumps(s1.to_json(), sort_keys=True)
    s2 = apply_event(s1, order(T0 + timedelta(days=40), amount=99.0))  # shifts every ring
    s3 = apply_event(s2, ticket(T0 + timedelta(days=41), "t1", action="resolved"))
    assert json.dumps(s1.to_json(), sort_keys=True) == before
    assert s2 is not s1 and s2.d_orders is not s1.d_orders and s3.open_tickets is not s2.open_tickets
    assert (s1.n_orders, s2.n_orders, len(s2.open_tickets), len(s3.open_tickets)) == (1, 2, 1, 0)


def test_duplicate_ids_are_seen_and_ignored_and_the_ring_is_bounded():
    ev = order(T0, amount=10.0, eid="dup")
    s = fold([ev, ev])
    assert s.seen("dup") and not s.seen("other")
    assert (s.n_orders, s.total_spend) == (1, 10.0)
    s = fold([order(T0 + timedelta(minutes=i), eid=f"e{i}") for i in range(SEEN_IDS + 8)], s)
    assert not s.seen("dup") and not s.seen("e7") and s.seen("e8") and s.seen(f"e{SEEN_IDS + 7}")
    assert len(s.seen_ids) == SEEN_IDS


def test_late_events_land_in_their_own_window():
    s = fold([order(T0)])
    s = apply_event(s, order(T0 - timedelta(days=10)))   # late, inside the day ring
    assert s.d_orders[10] == 1 and s.last_order == T0.timestamp()
    s = apply_event(s, order(T0 - timedelta(days=50)))   # late, only the week ring reaches it
    s = apply_event(s, order(T0 - timedelta(days=800)))  # older than every ring: lifetime only
    x = compute_features(s, T0)
    assert (x["orders_30d"], x["orders_90d"], x["orders_365d"], s.n_orders) == (2.0, 3.0, 3.0, 4)
    assert s.first_order == (T0 - timedelta(days=800)).timestamp()
    # 4 order days spanning 800 days: typical gap 800 / 3, whatever the arrival order
    assert s.typical_gap_days == 800 / 3


def test_arrival_order_does_not_change_windows_or_counters():
    rng = random.Random(7)
    evs = [order(T0 - timedelta(days=d, hours=3), amount=float(d)) for d in (0, 4, 9, 33, 36, 80, 95, 200, 400)]
    evs += [ticket(T0 - timedelta(days=d), f"t{d}", complaint=d % 2 == 0) for d in (1, 6, 29, 31)]
    evs += [app(T0 - timedelta(days=d)) for d in (0, 2, 6, 7, 27, 28)]
    ref = compute_features(fold(evs), T0)
    for _ in range(5):
        shuffled = evs[:]
        rng.shuffle(shuffled)
        assert compute_features(fold(shuffled), T0) == ref
    assert (ref["orders_30d"], ref["tickets_30d"], ref["complaints_30d"], ref["sessions_7d"], ref["sessions_28d"]) == (3, 3, 1, 3, 5)


def test_profile_consent_owner_and_late_profiles():
    s = fold([order(T0)])
    assert not s.marketing_consent and s.owner is None and s.signup_date is None
    s = apply_event(s, profile(T0, marketing_consent=True, owner="anna", segment="smb"))
    s = apply_event(s, profile(T0 - timedelta(days=5), marketing_consent=False, owner="bob",
                               signup_date="2020-02-03"))  # late: only fills what is unknown
    assert (s.marketing_consent, s.owner, s.segment, str(s.signup_date)) == (True, "anna", "smb", "2020-02-03")
    s = apply_event(s, profile(T0 + timedelta(days=1), marketing_consent=False))
    assert not s.marketing_consent and s.owner == "anna"


def test_public_view_activity_churn_channel_gap():
    s = fold([profile(T0 - timedelta(days=30), segment="x")])
    assert s.last_activity_at is None and s.first_seen_at == T0 - timedelta(days=30)
    assert s.preferred_channel is None and s.typical_gap_days == DEFAULT_GAP_DAYS
    s = fold([order(T0 - timedelta(days=20), channel="store"), order(T0 - timedelta(days=10), channel="app"),
              order(T0, channel="app"), order(T0, channel="store"), order(T0, channel="store")], s)
    # order days 20, 10 and 0 days ago: typical gap (20 days) / (3 - 1) = 10
    assert s.typical_gap_days == 10.0 and s.preferred_channel == "store"
    s = fold([ticket(T0 + timedelta(days=1), "t", action="resolved"), app(T0 + timedelta(days=2), "uninstall")], s)
    assert s.last_activity_at == T0 and not s.churned  # resolving and uninstalling are not the customer's activity
    s = apply_event(s, app(T0 + timedelta(days=3), "account_closed"))
    assert s.churned


def test_tickets_open_resolve_and_late_open_after_resolve():
    s = fold([ticket(T0, "a"), ticket(T0 + timedelta(hours=30), "a", action="resolved"),
              ticket(T0 + timedelta(hours=31), "b", action="resolved"), ticket(T0, "b")])  # b opened late
    assert s.open_tickets == {} and s.resolution_hours == 30.0
    s = apply_event(s, ticket(T0 + timedelta(days=2), "b", action="reopened"))
    assert len(s.open_tickets) == 1


def heavy_customer() -> CustomerState:
    """Three years of orders every other day, weekly tickets, daily app use."""
    rng = random.Random(3)
    start, evs = T0 - timedelta(days=3 * 365), []
    for d in range(3 * 365):
        at = start + timedelta(days=d, hours=rng.randint(0, 23))
        if d % 2 == 0:
            evs.append(order(at, amount=round(rng.uniform(5, 999), 2), discount=round(rng.uniform(0, 50), 2),
                             status=rng.choice(["placed"] * 8 + ["cancelled", "returned"])))
        if d % 7 == 0:
            for action in ("opened", "escalated", "reopened", "resolved"):
                evs.append(ticket(at, f"t{d}", action=action, complaint=True, category=rng.choice(["billing", "app"]),
                                  csat=rng.randint(1, 5), sentiment=round(rng.uniform(-1, 1), 3)))
        for _ in range(rng.randint(5, 12)):
            evs.append(app(at, "session", duration=round(rng.uniform(1, 5000), 1)))
        evs.append(app(at, "feature_used", feature=f"f{rng.randint(0, 80)}"))
    evs.append(profile(T0, signup_date="2019-01-01", marketing_consent=True, owner="a" * 40, segment="enterprise"))
    return fold(evs)


def test_heavy_customer_stays_within_2_kib_and_round_trips_exactly():
    s = heavy_customer()
    text = json.dumps(s.to_json(), separators=(",", ":"))
    assert len(text.encode()) <= 2048, len(text)
    back = CustomerState.from_json(json.loads(text))
    assert back == s and back.to_json() == s.to_json()
    assert compute_features(back, T0) == compute_features(s, T0)
    assert len(s.d_orders) == DAY_SPAN and s.n_orders > 400


def test_empty_state_round_trips():
    assert CustomerState.from_json(json.loads(json.dumps(CustomerState().to_json()))) == CustomerState()

_offsets = st.floats(-900, 5, allow_nan=False).map(lambda d: T0 + timedelta(days=d))
_events = st.one_of(
    st.builds(lambda at, a, stt, ch: order(at, a, status=stt, channel=ch), _offsets, st.floats(0, 5000, allow_nan=False),
              st.sampled_from(["placed", "cancelled", "refunded", "returned"]), st.sampled_from(["web", "app", "store", "other"])),
    st.builds(lambda at, tid, act, c, cs, se: ticket(at, tid, action=act, complaint=c, csat=cs, sentiment=se), _offsets,
              st.sampled_from(["t1", "t2", "t3"]), st.sampled_from(["opened", "escalated", "resolved", "reopened", "comment"]),
              st.booleans(), st.none() | st.integers(1, 5), st.none() | st.floats(-1, 1, allow_nan=False)),
    st.builds(lambda at, act, d, f: app(at, act, duration=d, feature=f), _offsets,
              st.sampled_from(["login", "session", "feature_used", "push_opened", "notifications_disabled", "uninstall"]),
              st.none() | st.floats(0, 1e5, allow_nan=False), st.none() | st.sampled_from(["a", "b", "c"])),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_events, max_size=40), _offsets)
def test_any_history_round_trips_and_gives_finite_features(events, now):
    s = fold(events) or CustomerState()
    back = CustomerState.from_json(json.loads(json.dumps(s.to_json(), separators=(",", ":"))))
    assert back == s
    x = compute_features(back, now)
    assert x == compute_features(s, now) and all(v == v and abs(v) < 1e9 for v in x.values())
    assert -1 <= x["spend_trend"] <= 1 and -1 <= x["session_trend"] <= 1 and 0 <= x["cancel_share"] <= 1


def test_every_field_has_its_own_short_json_key_and_full_names_still_decode():
    from models.state import _CODE, _NAMES

    assert set(_CODE) == set(_NAMES), "a state field without a short JSON key"
    assert len(set(_CODE.values())) == len(_CODE), "two fields share a JSON key"
    s = apply_event(apply_event(None, order(T0, amount=12.5)), order(T0 + timedelta(days=3), discount=2.0))
    short = s.to_json()
    assert set(short) <= set(_CODE.values())
    full = {next(n for n, c in _CODE.items() if c == k): v for k, v in short.items()}
    assert CustomerState.from_json(full) == CustomerState.from_json(short) == s

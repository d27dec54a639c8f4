"""The simulator: deterministic, window-independent, valid events, churners that really fade,
offers whose effect is known."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter

from schemas.events import AnyEvent, OfferOutcome, RetentionOffer
from simulator import SimulationError, Simulator
from simulator.io import sidecar_path

START = datetime(2024, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
INPUTS = ("order", "support", "app_activity")
ANY = TypeAdapter(AnyEvent)


@pytest.fixture(scope="module")
def year():
    sim = Simulator(600, seed=11, start=START)
    return sim, sim.events_between(START, START + YEAR)


def dumps(events):
    return [e.model_dump_json() for e in events]


def offer(cid, at, *, control=False, status="send", n=0):
    return RetentionOffer(offer_id=f"off-{cid}-{n}", alert_id=f"al-{cid}-{n}", customer_id=cid, offer_type="voucher",
                          channel="email", value=10.0, expires_at=at + timedelta(days=14), control_group=control,
                          reason="test", status="held_out" if control else status, occurred_at=at, created_at=at)


def test_same_seed_same_stream_other_seed_other_stream():
    a = Simulator(50, seed=3, start=START).events_between(START, START + timedelta(days=90))
    b = Simulator(50, seed=3, start=START).events_between(START, START + timedelta(days=90))
    c = Simulator(50, seed=4, start=START).events_between(START, START + timedelta(days=90))
    assert dumps(a) == dumps(b)
    assert dumps(a) != dumps(c)


def test_consecutive_windows_give_the_one_call_stream():
    whole = Simulator(80, seed=5, start=START).events_between(START, START + timedelta(days=200))
    sim, parts, t = Simulator(80, seed=5, start=START), [], START
    for step in [timedelta(hours=1), timedelta(days=1), timedelta(seconds=1), timedelta(days=7.5)] * 30:
        end = min(t + step, START + timedelta(days=200))
        parts += sim.events_between(t, end)
        t = end
    assert t == START + timedelta(days=200)
    assert dumps(parts) == dumps(whole)


def test_windows_cannot_go_back():
    sim = Simulator(5, seed=1, start=START)
    sim.events_between(START, START + timedelta(days=2))
    with pytest.raises(SimulationError):
        sim.events_between(START + timedelta(days=1), START + timedelta(days=3))


def test_events_valid_sorted_in_window_and_unique(year):
    sim, events = year
    t0, t1 = START + timedelta(days=30), START + timedelta(days=45)
    window = Simulator(600, seed=11, start=START)
    window.events_between(START, t0)
    part = window.events_between(t0, t1)
    assert part and all(t0 <= e.occurred_at < t1 for e in part)
    assert all(a.occurred_at <= b.occurred_at for a, b in zip(events, events[1:]))
    assert len({e.event_id for e in events}) == len(events)
    for e in events:
        assert type(e).model_validate_json(e.model_dump_json()) == e
        assert ANY.validate_json(e.model_dump_json()) == e
    assert {e.event_type for e in events} == {"order", "support", "app_activity", "profile"}


def test_profile_comes_first_with_realistic_values(year):
    sim, events = year
    first = {}
    for e in events:
        first.setdefault(e.customer_id, e)
    assert all(e.event_type == "profile" for e in first.values())
    consent = sum(e.marketing_consent for e in first.values()) / len(first)
    assert 0.74 < consent < 0.86
    owned = [e for e in first.values() if e.owner]
    assert owned and all(e.segment == "vip" for e in owned)
    orders = [e for e in events if e.event_type == "order" and e.status == "placed"]
    assert {e.currency for e in orders} == {"EUR"}
    assert 20 < sum(e.amount for e in orders) / len(orders) < 120


@pytest.mark.parametrize("share", [0.3, 0.6])
def test_share_of_churners_matches(share):
    fates = Simulator(3000, seed=2, start=START, churn_share=share).fates
    churners = [f for f in fates.values() if f.churns]
    assert abs(len(churners) / len(fates) - share) < 0.03
    assert all(START < f.churn_at <= START + YEAR for f in churners)
    assert 0.25 < sum(f.closes_account for f in churners) / len(churners) < 0.45
    assert {f.persona for f in churners} == {"disengaging", "service_failure", "price_sensitive", "product_fit"}


def test_nothing_after_churn_and_closures_match_fates(year):
    sim, events = year
    by = {}
    for e in events:
        by.setdefault(e.customer_id, []).append(e)
    for cid, fate in sim.fates.items():
        if not fate.churns:
            assert not any(getattr(e, "activity", None) == "account_closed" for e in by[cid])
            continue
        late = [e for e in by.get(cid, []) if e.event_type in INPUTS and e.occurred_at >= fate.churn_at]
        assert [e.activity for e in late] == (["account_closed"] if fate.closes_account else [])
        assert all(e.occurred_at == fate.churn_at for e in late)


def _rate(events, cid, t0, t1, pred):
    return sum(1 for e in events.get(cid, []) if t0 <= e.occurred_at < t1 and pred(e))


def test_churners_fade_before_churn(year):
    sim, events = year
    by = {}
    for e in events:
        by.setdefault(e.customer_id, []).append(e)
    since = {cid: evs[0].occurred_at for cid, evs in by.items()}
    loyal = [c for c, f in sim.fates.items() if not f.churns and since[c] < START + timedelta(days=1)]
    late = {c: f for c, f in sim.fates.items() if f.churns and since[c] < f.churn_at - timedelta(days=120)}

    def placed(e):
        return e.event_type == "order" and e.status == "placed"

    def mean(xs):
        xs = list(xs)
        return sum(xs) / len(xs)

    loyal_orders = mean(_rate(by, c, START, START + YEAR, placed) * 60 / 365 for c in loyal)
    churn_orders = mean(_rate(by, c, f.churn_at - timedelta(days=60), f.churn_at, placed) for c, f in late.items())
    assert churn_orders < 0.7 * loyal_orders

    def last60(persona, pred):
        return mean(_rate(by, c, f.churn_at - timedelta(days=60), f.churn_at, pred)
                    for c, f in late.items() if f.persona == persona)

    def loyal60(pred):
        return mean(_rate(by, c, START, START + YEAR, pred) * 60 / 365 for c in loyal)

    complaint = lambda e: e.event_type == "support" and e.action == "opened" and e.is_complaint  # noqa: E731
    session = lambda e: e.event_type == "app_activity" and e.activity == "session"  # noqa: E731
    back = lambda e: e.event_type == "order" and e.status in ("returned", "refunded")  # noqa: E731
    discounted = lambda e: placed(e) and e.discount_amount > 0  # noqa: E731
    assert last60("service_failure", complaint) > 3 * loyal60(complaint)
    assert last60("disengaging", session) < 0.5 * loyal60(session)
    assert last60("product_fit", back) / last60("product_fit", placed) > 2 * loyal60(back) / loyal60(placed)
    assert last60("price_sensitive", discounted) / last60("price_sensitive", placed) > 1.5 * loyal60(discounted) / loyal60(placed)


def test_offers_save_only_treated_churners_at_the_offer_effect_rate():
    sim = Simulator(3000, seed=8, start=START, offer_effect=0.35)
    before = copy.deepcopy(sim.fates)
    at = START + timedelta(days=1)
    for i, cid in enumerate(sim.fates):
        sim.on_offer(cid, offer(cid, at, control=i % 2 == 0))
    treated = [c for i, c in enumerate(sim.fates) if i % 2 == 1]
    assert all(sim.fates[c] == before[c] for i, c in enumerate(sim.fates) if i % 2 == 0)
    assert all(sim.fates[c] == before[c] for c in treated if not before[c].churns)
    churners = [c for c in treated if before[c].churns]
    saved = [c for c in churners if sim.fates[c].saved_by_offer]
    assert abs(len(saved) / len(churners) - 0.35) < 0.06
    assert all(not sim.fates[c].churns and sim.fates[c].planned_churn_at == before[c].churn_at for c in saved)
    assert abs(sim.realized_uplift() - sim.true_uplift()) < 0.04
    assert sim.true_uplift() > 0.05
    assert sim.true_uplift(horizon_days=30) == 0.0 == sim.realized_uplift(horizon_days=30)  # nobody churns that early
    assert 0 < sim.true_uplift(horizon_days=200) < sim.true_uplift()
    assert abs(sim.realized_uplift(horizon_days=200) - sim.true_uplift(horizon_days=200)) < 0.04


def test_a_saved_customers_events_keep_unique_ids():
    """Saving restarts the customer's activity processes; their numbering must go on, or the
    stream drops the saved customer's new events as duplicates of old ones."""
    sim = Simulator(200, seed=3, start=START, churn_share=1.0, offer_effect=1.0, horizon_days=120)
    events, t = [], START
    for _ in range(40):
        nxt = t + timedelta(days=5)
        events += sim.events_between(t, nxt)
        if t == START + timedelta(days=60):
            for cid in sim.fates:
                sim.on_offer(cid, offer(cid, t, control=False))
        t = nxt
    assert sum(f.saved_by_offer for f in sim.fates.values()) >= 20
    ids = Counter(e.event_id for e in events)
    assert [i for i, n in ids.items() if n > 1] == []
    orders = Counter(e.order_id for e in events if e.event_type == "order" and e.status == "placed")
    assert [i for i, n in orders.items() if n > 1] == []


def test_saved_customers_keep_coming_and_outcomes_say_so():
    sim = Simulator(300, seed=9, start=START)
    sim.events_between(START, START + timedelta(days=10))
    offers = {cid: offer(cid, START + timedelta(days=5)) for cid, f in sim.fates.items() if f.churns}
    for cid, off in offers.items():
        sim.on_offer(cid, off)
    saved = [c for c in offers if sim.fates[c].saved_by_offer]
    assert saved and all(sim.fates[c].saved_at >= START + timedelta(days=10) for c in saved)
    events = sim.events_between(START + timedelta(days=10), START + YEAR + timedelta(days=60))
    for c in saved:
        planned = sim.fates[c].planned_churn_at
        after = [e for e in events if e.customer_id == c and e.event_type in INPUTS and e.occurred_at > planned]
        assert after and not any(getattr(e, "activity", None) == "account_closed" for e in after)
        outs = sim.outcomes_for(offers[c])
        assert all(isinstance(o, OfferOutcome) and o.offer_id == offers[c].offer_id for o in outs)
        kinds = [o.outcome for o in outs]
        assert kinds[0] == "delivered" and "accepted" in kinds and next(o.revenue for o in outs if o.outcome == "redeemed") > 0
        assert all(a.occurred_at <= b.occurred_at for a, b in zip(outs, outs[1:]))


def test_control_and_unsent_offers_change_nothing_and_report_nothing():
    sim = Simulator(400, seed=10, start=START, offer_effect=1.0)
    churners = [c for c, f in sim.fates.items() if f.churns]
    before = copy.deepcopy(sim.fates)
    at = START + timedelta(days=2)
    for cid in churners:
        for off in (offer(cid, at, control=True), offer(cid, at, status="pending_approval", n=1)):
            sim.on_offer(cid, off)
            assert sim.outcomes_for(off) == []
    assert sim.fates == before
    sim.on_offer(churners[0], offer(churners[0], at, n=2))
    assert sim.fates[churners[0]].saved_by_offer
    with pytest.raises(SimulationError):
        sim.on_offer("cust-999999", offer("cust-999999", at))


def test_offer_after_churn_saves_nobody():
    sim = Simulator(300, seed=12, start=START, offer_effect=1.0)
    for cid, f in list(sim.fates.items()):
        if f.churns:
            sim.on_offer(cid, offer(cid, f.churn_at + timedelta(hours=1)))
    assert not any(f.saved_by_offer for f in sim.fates.values())
    assert sim.true_uplift() == 0.0


def test_cli_writes_events_and_fates(tmp_path, capsys):
    from cli.main import main as cli

    out = tmp_path / "run.jsonl"
    assert cli(["simulate", "--customers", "25", "--days", "40", "--seed", "6", "--start", START.isoformat(),
                "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    expected = Simulator(25, seed=6, start=START, horizon_days=40).events_between(START, START + timedelta(days=40))
    assert [ANY.validate_json(line) for line in lines] == expected
    fates = json.loads(sidecar_path(out).read_text())
    assert len(fates) == 25 and all(set(f) >= {"persona", "churns", "churn_at", "closes_account"} for f in fates.values())
    assert all(f["churn_at"] is None or f["churn_at"] <= (START + timedelta(days=40)).isoformat() for f in fates.values())


def test_churn_alert_simulate_out_writes_events_and_fates_without_a_broker(tmp_path, capsys):
    from cli.main import main as cli

    out = tmp_path / "run.jsonl"
    assert cli(["simulate", "--customers", "5", "--days", "10", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines and all(TypeAdapter(AnyEvent).validate_json(line) for line in lines)
    fates = json.loads(sidecar_path(out).read_text())
    assert len(fates) == 5 and f"wrote {len(lines)} events" in capsys.readouterr().out

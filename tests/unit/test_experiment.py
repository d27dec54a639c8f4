"""Outcome tracking, experiment counters (real Redis) and the uplift report's interval math."""

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts.experiment import OfferTracking, Resolution, on_activity, on_churn, on_offer, on_silence
from alerts.experiment_store import ExperimentStore
from alerts.offers import OfferPlan, in_control_group
from alerts.report import build_report, format_report, newcombe_diff, report, wilson
from schemas.events import OfferOutcome

T0 = datetime(2024, 5, 1, tzinfo=UTC)
H = timedelta(days=30)


def plan(cid, *, control=False, offer_type="free_returns", segment="mid", value=10.0):
    return OfferPlan(offer_id=f"off-{cid}", alert_id=f"al-{cid}", customer_id=cid, kind="retention", offer_type=offer_type,
                     channel="email", value=value, monetary=value > 0, expiry_days=14, driver="service",
                     value_segment=segment, reason="r", control_group=control,
                     status="held_out" if control else "send", occurred_at=T0.timestamp())


# ---------------------------------------------------------------- pure tracking
def test_tracking_resolves_by_whether_the_customer_is_still_there_after_the_horizon():
    tr = on_offer(plan("c1", control=True))
    assert tr.arm == "control" and OfferTracking.from_json(tr.to_json()) == tr
    day = timedelta(days=1)
    assert on_activity(tr, T0, H, last_seen=T0 - day) == (tr, None)  # the triggering moment itself is not a comeback
    assert on_activity(tr, T0 + H, H, last_seen=T0 + 20 * day) == (tr, None)  # active inside the horizon: not known yet
    assert on_activity(tr, T0 + H + day, H, last_seen=T0 + 20 * day)[1].outcome == "retained"
    # active for a week after the offer, then a horizon-long silence: churned, even if they come back later
    assert on_silence(tr, T0 + 7 * day + H - timedelta(seconds=1), H, last_seen=T0 + 7 * day) == (tr, None)
    assert on_silence(tr, T0 + 7 * day + H, H, last_seen=T0 + 7 * day)[1].outcome == "churned"
    assert on_activity(tr, T0 + 7 * day + H + day, H, last_seen=T0 + 7 * day)[1].outcome == "churned"
    # silent since before the offer: the horizon after the offer decides
    assert on_silence(tr, T0 + H - timedelta(seconds=1), H, last_seen=T0 - 5 * day) == (tr, None)
    left, res = on_silence(tr, T0 + H, H, last_seen=T0 - 5 * day)
    assert left is None and res == Resolution("off-c1", "free_returns", "mid", "control", "churned")
    assert on_churn(tr)[1].outcome == "churned" and on_churn(None) == (None, None)
    assert on_activity(None, T0, H, last_seen=None) == (None, None) and on_silence(None, T0, H, last_seen=None) == (None, None)


# ---------------------------------------------------------------- store on real Redis
def in_redis(scratch, body):
    scratch.run(lambda redis: body(ExperimentStore(redis, scratch.prefix), redis))


def outcome(offer_id, step, revenue=None):
    return OfferOutcome(event_id=f"{offer_id}-{step}", customer_id="c", occurred_at=T0, event_type="offer_outcome",
                        offer_id=offer_id, outcome=step, revenue=revenue)


def test_store_counts_each_offer_resolution_and_outcome_once(scratch_redis):
    async def body(store, redis):
        assert await store.record_offer(plan("a")) and not await store.record_offer(plan("a"))
        await store.record_offer(plan("b", control=True))
        assert await store.record_resolution(Resolution("off-a", "free_returns", "mid", "treated", "retained"))
        assert not await store.record_resolution(Resolution("off-a", "free_returns", "mid", "treated", "retained"))
        await store.record_resolution(Resolution("off-b", "free_returns", "mid", "control", "churned"))
        for step in ("delivered", "opened", "accepted", "redeemed", "redeemed"):
            await store.record_outcome(outcome("off-a", step, revenue=80.0 if step == "redeemed" else None))
        assert not await store.record_outcome(outcome("off-a", "declined"))
        assert not await store.record_outcome(outcome("off-unknown", "delivered"))
        assert await store.record_outcome(outcome("off-x", "delivered"), "deals_nudge", "low")
        counts = await store.counts()
        t, c = counts["free_returns", "mid", "treated"], counts["free_returns", "mid", "control"]
        assert t == {"offered": 1, "retained": 1, "delivered": 1, "opened": 1, "accepted": 1, "redeemed": 1,
                     "revenue": 80.0, "cost": 10.0}
        assert c == {"offered": 1, "churned": 1}
        assert counts["deals_nudge", "low", "treated"] == {"delivered": 1}
        rep = await report(store)
        row = next(r for r in rep.rows if r.segment == "mid")
        assert (row.offered, row.held_out, row.net) == (1, 1, 70.0)
        assert row.retention_treated == 1.0 and row.retention_control == 0.0
    in_redis(scratch_redis, body)


# ---------------------------------------------------------------- interval math
# Newcombe (1998), Stat Med 17:857-872 (single proportion, Table I, Wilson score without correction)
@pytest.mark.parametrize("k, n, lo, hi", [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605),
                                          (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)])
def test_wilson_matches_newcombe_table(k, n, lo, hi):
    assert wilson(k, n) == (lo, hi)


# Newcombe (1998), Stat Med 17:873-890, Table II, method 10 (hybrid score)
@pytest.mark.parametrize("a, lo, hi", [((56, 70, 48, 80), 0.0524, 0.3339), ((9, 10, 3, 10), 0.1705, 0.8090),
                                       ((6, 7, 2, 7), 0.0582, 0.8062), ((5, 56, 0, 29), -0.0381, 0.1926),
                                       ((0, 10, 0, 20), -0.1611, 0.2775), ((10, 10, 0, 20), 0.6791, 1.0)])
def test_newcombe_difference_matches_published_examples(a, lo, hi):
    d, got_lo, got_hi = newcombe_diff(*a)
    assert (got_lo, got_hi) == (lo, hi) and d == round(a[0] / a[1] - a[2] / a[3], 4)


def test_wilson_by_hand():
    # k=7, n=10, z=1.96: centre = (0.7 + 1.9208/10) / 1.38416, half = 1.96*sqrt(0.021 + 0.0096040)/1.38416
    centre, half = (0.7 + 0.19208) / 1.38416, 1.96 * math.sqrt(0.021 + 0.009604) / 1.38416
    lo, hi = wilson(7, 10, z=1.96, digits=None)
    assert lo == pytest.approx(centre - half, abs=1e-9) and hi == pytest.approx(centre + half, abs=1e-9)


def test_difference_interval_is_antisymmetric():
    d, lo, hi = newcombe_diff(30, 40, 12, 25, digits=None)
    d2, lo2, hi2 = newcombe_diff(12, 25, 30, 40, digits=None)
    assert (d, lo, hi) == pytest.approx((-d2, -hi2, -lo2))


def _simulate(seed, n=10_000, p_treated=0.7, p_control=0.6, share=0.10):
    rng = random.Random(seed)
    ids = [f"s{seed}-cust-{i}" for i in range(n)]
    counts = {}
    for cid in ids:
        arm = "control" if in_control_group(cid, share) else "treated"
        kept = rng.random() < (p_control if arm == "control" else p_treated)
        cell = counts.setdefault(("voucher", "mid", arm), {"offered": 0, "retained": 0, "churned": 0})
        cell["offered"] += 1
        cell["retained" if kept else "churned"] += 1
    return build_report(counts)


def test_simulated_uplift_interval_contains_truth_fixed_seed():
    rep = _simulate(seed=20240501)
    row = rep.overall
    assert abs(row.held_out / (row.held_out + row.offered) - 0.10) <= 0.02
    assert row.ci_low <= 0.1 <= row.ci_high and row.ci_low > 0  # 10,000 customers: the effect is detected
    assert row.uplift == pytest.approx(row.retention_treated - row.retention_control)


def test_interval_coverage_near_95_percent_over_200_seeds():
    rng = random.Random(99)
    hits = 0
    for _ in range(200):
        n_t, n_c = 9000, 1000
        k_t = sum(rng.random() < 0.7 for _ in range(n_t))
        k_c = sum(rng.random() < 0.6 for _ in range(n_c))
        _, lo, hi = newcombe_diff(k_t, n_t, k_c, n_c, digits=None)
        hits += lo <= 0.1 <= hi
    assert hits / 200 >= 0.90


def test_report_rates_subtotals_and_table():
    counts = {("voucher", "mid", "treated"): {"offered": 10, "delivered": 8, "accepted": 4, "redeemed": 2,
                                              "retained": 6, "churned": 2, "revenue": 100.0, "cost": 20.0},
              ("voucher", "mid", "control"): {"offered": 2, "retained": 1, "churned": 1},
              ("voucher", "low", "treated"): {"offered": 5, "delivered": 5, "retained": 1, "churned": 4}}
    rep = build_report(counts)
    mid = next(r for r in rep.rows if r.segment == "mid")
    assert (mid.delivery_rate, mid.acceptance_rate, mid.redemption_rate) == (0.8, 0.5, 0.25)
    assert mid.uplift == pytest.approx(6 / 8 - 1 / 2) and mid.net == 80.0
    low = next(r for r in rep.rows if r.segment == "low")
    assert low.uplift is None and low.retention_control is None  # no control group yet: no claim
    total = next(r for r in rep.rows if r.segment == "all")
    assert total.offered == 15 and total.resolved == (13, 2) and rep.overall.offered == 15
    text = format_report(rep)
    assert "uplift [95% CI]" in text and "voucher" in text and "+25.0 [" in text and "—" in text
    assert len(text.splitlines()) == 1 + 1 + 3 + 1 + 1

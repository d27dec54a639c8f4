"""The in-process backtest reports each customer's first alert at its event time, and the
figures the quality bench prints from it follow their definitions."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from bench.quality import simulator_figures
from config.settings import Settings
from engine.backtest import run_backtest
from models.model import ChurnModel
from simulator import Simulator

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_first_alert_at_is_the_time_of_each_alerted_customers_first_alert():
    end = START + timedelta(days=150)
    sim = Simulator(60, seed=3, start=START, horizon_days=150)
    events = sim.events_between(START, end)
    res = run_backtest(events, as_of=end, settings=Settings(min_labels=10**9), model=ChurnModel())
    assert res.alerts, "the rule prior alerts on some of 60 customers in 150 days"
    assert set(res.first_alert_at) == {cid for cid, _ in res.alerts}
    settings, second = Settings(min_labels=10**9), timedelta(seconds=1)
    for cid in sorted(res.first_alert_at)[:3]:  # replaying to just before / just after it agrees
        at = res.first_alert_at[cid]
        assert START <= at < end
        assert cid not in run_backtest(events, as_of=at - second, settings=settings, model=ChurnModel()).first_alert_at
        assert run_backtest(events, as_of=at + second, settings=settings, model=ChurnModel()).first_alert_at[cid] == at

def test_simulator_figures_follow_their_definitions():
    d = lambda days: START + timedelta(days=days)  # noqa: E731
    scored = [("a", 0.9, d(10)), ("b", 0.8, d(40)), ("c", 0.2, None), ("d", 0.7, d(5)), ("e", 0.1, None)]
    fates = {"a": d(30), "b": d(20), "c": d(50), "d": None, "e": None}
    f = simulator_figures(scored, fates)
    assert f["customers"] == 5
    assert f["churners_alerted_before_churn"] == 1 / 3  # a (b was alerted after churning, c never)
    assert f["median_days_of_warning"] == 20.0
    assert f["alert_precision"] == 1 / 3  # of a, b, d only a churned after the alert
    assert 0.0 <= f["roc_auc"] <= 1.0 and math.isfinite(f["pr_auc"])


def test_every_checkpoint_due_before_the_cut_off_runs_whatever_else_happens():
    """A checkpoint can schedule the customer's next one before the cut-off; those must run
    too, not wait for some other event to come along."""
    from schemas.events import AppActivityEvent, OrderEvent

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    orders = [OrderEvent(event_id=f"o{i}", customer_id="quiet", occurred_at=t0 + timedelta(days=7 * i), event_type="order",
                         order_id=f"o{i}", status="placed", amount=40.0, currency="EUR", items=1, channel="web")
              for i in range(8)]
    as_of = t0 + timedelta(days=7 * 7 + 40)
    others = [AppActivityEvent(event_id=f"x{i}", customer_id=f"other{i}", occurred_at=as_of - timedelta(minutes=i + 1),
                               event_type="app_activity", activity="login", platform="web") for i in range(20)]
    s = Settings(min_labels=10**9)
    alone, crowded = run_backtest(orders, as_of=as_of, settings=s), run_backtest(orders + others, as_of=as_of, settings=s)
    assert [d.alert_id for c, d in alone.alerts if c == "quiet"] == [d.alert_id for c, d in crowded.alerts if c == "quiet"]
    assert [d.tier for c, d in alone.alerts if c == "quiet"], "40 days of silence after a weekly rhythm raised no alert"


def test_ceiling_cross_validates_against_the_truth_it_is_given():
    import random

    from bench.quality import ceiling

    rng = random.Random(5)
    features = {f"c{i}": {"days_since_last_order": float(rng.randrange(200))} for i in range(400)}
    # churned exactly when silent for over 100 days: learnable, so out-of-fold AUC is near 1
    churned = {c: x["days_since_last_order"] > 100 for c, x in features.items()}
    assert ceiling(features, churned, epochs=3) > 0.95
    # the same features with outcomes unrelated to them: nothing to learn, AUC near 0.5
    noise = {c: rng.random() < 0.5 for c in features}
    assert abs(ceiling(features, noise, epochs=3) - 0.5) < 0.1


def test_backtest_applies_the_tier_thresholds_its_learner_sets_from_labels():
    """CHURN_TIER_MODE works in the backtest as in a worker: with each 'published' version
    the scorer takes the learner's thresholds, so a demanding precision target alerts less."""
    end = START + timedelta(days=240)
    events = Simulator(300, seed=3, start=START, horizon_days=240).events_between(START, end)
    # 'stops' labels: enough churners among recently active customers for the model to take over
    base = Settings(min_labels=50, publish_every=50, tier_mode="fixed", label_rule="stops")
    fixed = run_backtest(events, as_of=end, settings=base)
    assert fixed.handover["ready"], fixed.handover
    strict = run_backtest(events, as_of=end, settings=base.with_updates(**{"tier_mode": "precision",
                                                                             "tier_target_precision": 0.8}))
    assert fixed.labels == strict.labels > 1000, "the same labels, learned the same way"
    assert len(strict.alerts) < len(fixed.alerts), (len(strict.alerts), len(fixed.alerts))


def test_a_cut_off_keeps_the_feature_vectors_it_scored_when_asked():
    from models.prior import RulePrior

    end = START + timedelta(days=90)
    events = Simulator(30, seed=4, start=START, horizon_days=90).events_between(START, end)
    cut = START + timedelta(days=60)
    plain = run_backtest(events, as_of=end, settings=Settings(min_labels=10**9), cutoffs=[cut])
    kept = run_backtest(events, as_of=end, settings=Settings(min_labels=10**9), cutoffs=[cut], keep_features=True)
    assert plain.at[cut].features == {} and plain.at[cut].scores == kept.at[cut].scores  # nothing else changes
    feats = kept.at[cut].features
    assert set(feats) == set(kept.at[cut].scores) and feats
    prior = RulePrior()  # the prior scored them (the model is never ready here): the same vectors score the same
    assert all(prior.score(x) == kept.at[cut].scores[c] for c, x in feats.items())

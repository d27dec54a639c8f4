"""The in-process backtest reports each customer's first alert at its event time, and the
figures the quality bench prints from it follow their definitions."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from bench.quality import simulator_figures
from models.model import ChurnModel
from streams.backtest import run_backtest
from streams.settings import Settings
from streams.simulator import Simulator

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


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

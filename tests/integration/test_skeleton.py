"""Walking skeleton through the real broker and Redis: events → state → score → alert."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import redis

from cli.procs import WorkerProcess
from engine.backtest import run_backtest
from schemas.events import AppActivityEvent, OrderEvent, ProfileUpdate, SupportEvent
from tests.integration.kafka import collect, publish, run, sentinels, wait_for

pytestmark = pytest.mark.integration
START = datetime(2024, 1, 1, tzinfo=UTC)


def history(n: int, seed: int = 3) -> list:
    """Loyal customers order and use the app steadily; at-risk ones complain, then go quiet."""
    rng, out = random.Random(seed), []
    for i in range(n):
        cid, risky = f"c{i:04d}", i % 3 == 0
        out.append(ProfileUpdate(event_id=f"{cid}-p", customer_id=cid, occurred_at=START, event_type="profile",
                                 marketing_consent=True))
        gap = rng.uniform(6, 12)
        t, k = START + timedelta(days=rng.uniform(0, 5)), 0
        while t < START + timedelta(days=(25 if risky else 60)):
            out.append(OrderEvent(event_id=f"{cid}-o{k}", customer_id=cid, occurred_at=t, event_type="order", order_id=f"o{k}",
                                  status="placed", amount=round(rng.uniform(20, 90), 2), currency="EUR", items=2, channel="web"))
            out.append(AppActivityEvent(event_id=f"{cid}-a{k}", customer_id=cid, occurred_at=t + timedelta(hours=3),
                                        event_type="app_activity", activity="session", duration_s=300, platform="ios"))
            t, k = t + timedelta(days=gap), k + 1
        if risky:
            for j in range(3):
                out.append(SupportEvent(event_id=f"{cid}-s{j}", customer_id=cid, occurred_at=START + timedelta(days=26 + 3 * j),
                                        event_type="support", ticket_id=f"t{j}", action="opened", category="delivery",
                                        priority="high", is_complaint=True, csat=1, sentiment=-0.8))
    return sorted(out, key=lambda e: e.occurred_at)


def test_at_risk_customers_are_alerted_and_every_score_reaches_redis(run_settings):
    """Through Kafka the three input topics are read independently, so their interleaving
    (and with it the exact episode start, hence alert ids) may differ from the in-process
    run; which customers are at risk may not."""
    s = run_settings.with_updates(**{"min_labels": 10**9})  # the rule prior scores throughout
    end = START + timedelta(days=64)  # loyal customers ordered until day 60: none overdue yet
    events = history(300) + sentinels(s, end)
    expected = run_backtest(events, as_of=end + timedelta(milliseconds=1), settings=s)
    risky = {f"c{i:04d}" for i in range(0, 300, 3)}
    assert {cid for cid, _ in expected.alerts} == risky, "in process, exactly the at-risk customers are alerted"
    with WorkerProcess(s) as worker:
        run(publish(s, events))
        got = run(collect(s, ["alerts"], lambda rs: risky <= {a["customer_id"] for _, _, a in rs},
                          deadline_s=120, workers=[worker]))
        r = redis.Redis.from_url(s.redis_url)
        customers = {e.customer_id for e in events}
        wait_for(lambda: len(list(r.scan_iter(match=f"{s.redis_prefix}:cust:*:score", count=1000))) >= len(customers),
                 "every customer's score in Redis", [worker], 30, every=0.2)
        one = r.hgetall(f"{s.redis_prefix}:cust:c0000:score")
    alerts = [a for _, _, a in got]
    assert len({a["alert_id"] for a in alerts}) == len(alerts), "one alert id, one alert"
    assert all(a["reasons"] and a["model_version"] == "rules-1" and a["tier"] != "none" for a in alerts)
    complaint_reasons = {r["feature"] for a in alerts if a["customer_id"] in risky for r in a["reasons"]}
    assert complaint_reasons & {"complaints_30d", "tickets_30d", "csat_recent", "sentiment_trend"}
    loyal_alerted = {a["customer_id"] for a in alerts} - risky
    assert len(loyal_alerted) <= 20, f"too many loyal customers alerted: {sorted(loyal_alerted)}"
    assert 0.0 <= float(one[b"score"]) <= 1.0 and one[b"tier"] in (b"watch", b"high", b"critical")

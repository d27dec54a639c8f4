"""Dependencies that are away: a worker started before its broker waits for it, and a Redis
outage pauses the work that needs Redis and loses nothing, dead-letters nothing and sends
nothing twice. Real worker processes, the real broker, a real redis-server of the test's
own (the machine's shared one is never stopped).

What the worker decides is checked against the in-process backtest of the same events
(the customers of ``test_same_decisions``: app-activity only, so arrival order is event
order in the stream too).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest

from cli.procs import WorkerProcess
from engine.backtest import run_backtest
from services import embedded
from services.embedded import free_port
from tests.integration.kafka import Feed, metric, publish, run, sample, sentinels, wait_for
from tests.integration.test_same_decisions import DAYS, START, customers, uncapped_policy

pytestmark = pytest.mark.integration
OUTAGE_S = 30.0


def test_a_worker_started_before_its_broker_waits_for_it_and_then_consumes(run_settings):
    port, metrics_port = free_port(), free_port()
    s = run_settings.with_updates(bootstrap_servers=f"127.0.0.1:{port}", embedded_broker=True, metrics_port=metrics_port)
    profiles, _ = customers(3)
    with WorkerProcess(s, "early-worker") as worker:
        wait_for(lambda: "waiting for the broker at" in worker.log_tail(20_000), "the worker saying what it waits for",
                 [worker], 60)
        with embedded.broker(port):
            wait_for(lambda: "answers; starting" in worker.log_tail(20_000), "the worker noticing the broker", [worker], 60)
            run(publish(s, profiles))
            wait_for(lambda: sample(metrics_port, "churn_messages_total", outcome="applied") >= 3,
                     "the worker consuming once the broker is up", [worker], 90)


def test_a_redis_outage_pauses_the_worker_and_loses_nothing(run_settings, tmp_path):
    redis_port, metrics_port = free_port(), free_port()
    s = run_settings.with_updates(redis_url=f"redis://127.0.0.1:{redis_port}/0", metrics_port=metrics_port, min_labels=10**9,
                                  control_share=0.3, policy_file=uncapped_policy(tmp_path), redis_timeout_s=1.0)
    profiles, acts = customers(120)
    end = START + timedelta(days=DAYS + 40)
    tail = [e for e in sentinels(s, end) if e.event_type == "app_activity"]
    half = len(acts) // 2
    feed = Feed(s)
    redis = embedded.redis_server(redis_port, data_dir=tmp_path / "redis").start()
    try:
        with WorkerProcess(s, "redis-outage") as worker:
            feed(profiles + acts[:half])
            feed.drained([worker])
            redis.stop()  # a clean stop: the append-only file keeps every claim, cap and counter
            stopped = time.monotonic()
            feed(acts[half:] + tail)
            wait_for(lambda: sample(metrics_port, "churn_dependency_up", dependency="redis") == 0,
                     "the worker reporting Redis away", [worker], 30)
            # the outage lasts OUTAGE_S by design; the worker must stay up all along
            wait_for(lambda: time.monotonic() - stopped >= OUTAGE_S, "the outage's end", [worker], OUTAGE_S + 5, every=0.5)
            assert metric(metrics_port, "churn_dependency_retries_total") > 0
            redis = embedded.redis_server(redis_port, data_dir=tmp_path / "redis").start()
            feed.drained([worker], deadline_s=180)
            assert sample(metrics_port, "churn_dependency_up", dependency="redis") == 1
            dead = metric(metrics_port, "churn_dead_letters_total")
            applied = sample(metrics_port, "churn_messages_total", outcome="applied")
            alerts, offers = feed.outputs()
    finally:
        redis.stop()
    assert dead == 0, "a Redis outage must never dead-letter a valid event"
    assert applied >= len(profiles) + len(acts) + len(tail), "every event applied"
    result = run_backtest(profiles + acts + tail, as_of=end + timedelta(seconds=1), settings=s)
    ids = Counter(a["alert_id"] for a in alerts)
    assert not [i for i, n in ids.items() if n > 1], "an alert sent twice"
    assert set(ids) == {d.alert_id for _, d in result.alerts}, "an alert lost, or one that should not exist"
    offer_ids = Counter(o["offer_id"] for o in offers)
    assert not [i for i, n in offer_ids.items() if n > 1], "an offer sent twice"
    assert set(offer_ids) == {p.offer_id for p in result.offers}

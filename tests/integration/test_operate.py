"""What an operator sees, through the real broker and a private Redis: after a run every
worker family on /metrics has values, the consumer lag was measured while messages
waited, readiness holds while everything answers and turns false when Redis stops (a
private redis-server, so the machine's shared one is never stopped) while liveness stays."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from cli.procs import WorkerProcess
from services.embedded import free_port, redis_server
from simulator import Simulator
from tests.integration.kafka import Feed, metric, publish, run, scrape, wait_for

pytestmark = pytest.mark.integration

#: Families that count or measure something every run of live traffic does: > 0 after it.
COUNTED = ["churn_messages_total", "churn_dead_letters_total", "churn_alerts_total", "churn_event_to_alert_seconds_count",
           "churn_alert_processing_seconds_count", "churn_score_ratio_count", "churn_model_score_duration_seconds_count",
           "churn_offers_total", "churn_labels_total", "churn_complaints_total", "churn_sweep_seconds_count",
           "churn_sweep_due_customers_total", "churn_sweep_ticks_total", "churn_customers", "churn_silence_scheduled",
           "churn_model_examples_total", "churn_model_learn_duration_seconds_count", "churn_model_published_versions_total",
           "churn_model_loads_total", "churn_model_loaded_version", "churn_model_rolling_roc_auc_ratio",
           "churn_model_rolling_log_loss", "churn_step_seconds_count", "churn_watermark_seconds"]
#: Gauges whose right value after a drained run may be 0: present, with their labels.
PRESENT = ["churn_consumer_lag_messages", "churn_model_using_prior", "churn_redis_errors_total"]


def probe(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except OSError:
        return 0, {}


def test_metrics_have_values_after_a_run_and_readiness_follows_redis(run_settings):
    port, now = free_port(), datetime.now(UTC)
    start = now - timedelta(days=120)
    with redis_server() as redis:
        s = run_settings.model_copy(update={
            "redis_url": f"redis://{redis.address}/0", "metrics_port": port, "clock": "wall", "sweep_interval_s": 0.5,
            "horizon_days": 14.0, "snapshot_interval_days": 3.0, "min_labels": 50, "publish_every": 50, "model_poll_s": 0.5,
            "lag_interval_s": 0.2})  # sampled often: the backlog must be seen before the worker has worked it off
        sim = Simulator(400, seed=5, start=start, churn_share=0.5, horizon_days=100)
        feed = Feed(s)
        feed(sim.events_between(start, now))  # waiting before the worker starts: lag to measure
        run(publish(s, raw=[(s.topic("orders"), b"c-bad", b"{not json")]))
        with WorkerProcess(s, "operate") as worker:
            lag_seen = [0.0]

            def drained_with_lag() -> bool:
                lag_seen[0] = max(lag_seen[0], metric(port, "churn_consumer_lag_messages"))
                return metric(port, "churn_messages_total") >= sum(feed.sent.values()) + 1

            wait_for(drained_with_lag, "every message taken off the input topics", [worker], 240, every=0.2)
            feed.drained([worker], deadline_s=120)
            wait_for(lambda: metric(port, "churn_model_loads_total") >= 1, "a model version loaded", [worker], 60)
            wait_for(lambda: probe(port, "/readyz")[0] == 200, "the worker ready", [worker], 30)
            empty: list[str] = []

            def all_counted() -> bool:  # silence ticks the sweep sent may still be on their way through the tick topic
                empty[:] = [f for f in COUNTED if metric(port, f) <= 0]
                return not empty

            try:
                wait_for(all_counted, "every worker family with a value", [worker], 60, every=0.5)
            except AssertionError:
                raise AssertionError(f"families without values after the run: {empty}") from None
            text = scrape(port)
            for family in PRESENT:
                assert f"\n{family}" in text, f"{family} missing from /metrics"
            for topic in ("orders", "support-tickets", "app-activity"):
                assert f'churn_consumer_lag_messages{{topic="{topic}"}}' in text
            assert lag_seen[0] > 0, "consumer lag never measured above 0 while the published backlog waited"
            assert "customer_id" not in text and "c-bad" not in text

            errors_before = metric(port, "churn_redis_errors_total")
            redis.stop()
            wait_for(lambda: probe(port, "/readyz")[0] == 503, "readiness false once Redis stopped", [worker], 30)
            status, body = probe(port, "/readyz")
            assert body["checks"]["redis"] == "unreachable" and body["checks"]["broker"] == "ok", body
            assert probe(port, "/healthz")[0] == 200, "a Redis outage does not make the worker dead"
            wait_for(lambda: metric(port, "churn_redis_errors_total") > errors_before, "Redis errors counted", [worker], 30)
            assert worker.alive()

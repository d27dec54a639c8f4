"""The metric declarations follow the house rules; probes say what is wrong."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry

from models.metrics import ModelMetrics
from services.embedded import free_port
from streams.endpoints import Endpoints
from streams.health import Health
from streams.metrics import RuntimeMetrics


def families() -> tuple[CollectorRegistry, list]:
    reg = CollectorRegistry()
    RuntimeMetrics(reg), ModelMetrics(reg)
    return reg, list(reg.collect())


def test_names_units_and_labels_follow_the_rules():
    _, fams = families()
    assert len(fams) >= 30
    for f in fams:
        assert f.name.startswith("churn_"), f.name
        if f.type == "counter":
            assert not f.name.endswith("_total"), f"{f.name}: prometheus-client adds _total itself"
        if f.type == "histogram":
            assert f.name.endswith(("_seconds", "_ratio")), f"{f.name}: histograms in base units"
        labels = {k for s in f.samples for k in s.labels}
        assert not {k for k in labels if "customer" in k or k in ("id", "alert_id", "offer_id")}, f.name


def test_labelled_families_are_pre_initialised():
    reg = CollectorRegistry()
    m = RuntimeMetrics(reg)
    m.bind_topics(["t-orders", "t-support-tickets"], "t-")
    m.bind_offers([("retention", "discount_10")])
    # a rate over a series that appears late is wrong: each exists at 0 before the first event
    for name, labels in [("churn_messages_total", {"topic": "orders", "outcome": "dead_lettered"}),
                         ("churn_alerts_total", {"tier": "critical", "trigger": "silence", "driver": "service"}),
                         ("churn_dead_letters_total", {"reason": "not_json"}),
                         ("churn_offers_total", {"kind": "retention", "offer_type": "discount_10", "arm": "control",
                                                 "status": "held_out"}),
                         ("churn_complaints_total", {"category": "billing"}),
                         ("churn_redis_errors_total", {"path": "probe"}),
                         ("churn_consumer_lag_messages", {"topic": "support-tickets"}),
                         ("churn_score_ratio_count", {"trigger": "event"})]:
        assert reg.get_sample_value(name, labels) == 0.0, (name, labels)


def test_liveness_follows_the_heartbeat():
    now = [0.0]
    h = Health(checks={}, model_checked=lambda: True, stale_after_s=30, start_grace_s=60, clock=lambda: now[0])
    assert h.live()[0]  # starting
    now[0] = 61
    assert not h.live()[0], "no heartbeat within the start grace"
    h.beat(assigned={("orders", 0)}, busy=False)
    now[0] = 80
    assert h.live()[0] and h.ready()[0]
    now[0] = 112
    assert not h.live()[0] and not h.ready()[0], "a loop that stopped beating is neither live nor ready"


def test_readiness_names_what_is_missing():
    redis_up, checked = [True], [False]

    def boom() -> bool:
        raise OSError("refused")

    h = Health(checks={"redis": lambda: redis_up[0], "broker": boom}, model_checked=lambda: checked[0])
    h.beat(assigned=set(), busy=False)
    ok, checks = h.ready()
    assert not ok and checks == {"redis": "ok", "broker": "unreachable", "partitions": "none assigned",
                                 "model": "model registry not read yet"}
    h.checks["broker"] = lambda: True
    checked[0] = True
    h.beat(assigned={("orders", 1)}, busy=True)
    assert h.ready() == (False, {"redis": "ok", "broker": "ok", "partitions": "rebalancing or recovering", "model": "ok"})
    h.beat(assigned={("orders", 1)}, busy=False)
    assert h.ready()[0]
    redis_up[0] = False
    assert h.ready() == (False, {"redis": "unreachable", "broker": "ok", "partitions": "1 assigned", "model": "ok"})


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_endpoints_serve_metrics_and_probes():
    reg = CollectorRegistry()
    m = RuntimeMetrics(reg)
    m.erasures.inc()
    m.messages.labels(topic="orders", outcome="applied").inc()
    up = [False]
    h = Health(checks={"redis": lambda: up[0]}, model_checked=lambda: True)
    h.beat(assigned={("orders", 0)}, busy=False)
    ep = Endpoints(reg, h, free_port(), host="127.0.0.1").start()
    try:
        status, body = get(ep.port, "/metrics")
        assert status == 200 and "churn_erasures_total 1.0" in body
        status, body = get(ep.port, "/metrics?name[]=churn_messages_total")
        assert status == 200 and "churn_messages_total" in body and "churn_erasures_total" not in body
        assert get(ep.port, "/healthz")[0] == 200
        status, body = get(ep.port, "/readyz")
        assert status == 503 and json.loads(body)["checks"]["redis"] == "unreachable"
        up[0] = True
        assert get(ep.port, "/readyz") == (200, json.dumps({"ok": True, "checks": {"redis": "ok", "partitions": "1 assigned", "model": "ok"}}) + "\n")
        assert get(ep.port, "/nope")[0] == 404
    finally:
        ep.stop()

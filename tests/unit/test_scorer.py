"""Scorer: prior until the model has min_labels, shared model in process, hot reload from Redis."""

from datetime import UTC

from prometheus_client import CollectorRegistry

from models.metrics import ModelMetrics
from models.model import ChurnModel
from models.prior import RulePrior
from models.registry import ModelRegistry
from models.scorer import Scorer

X = {"order_overdue_ratio": 3.0, "complaints_30d": 1.0}


def model_with(n, y=True):
    m = ChurnModel()
    for i in range(n):
        m.learn({"order_overdue_ratio": float(i % 5)}, y if i % 2 else not y)
    return m


def test_shared_model_takes_over_at_min_labels():
    model = model_with(9)
    scorer = Scorer.from_model(model, min_labels=10)
    prior = RulePrior()
    assert scorer.score(X) == (prior.score(X), "rules-1")
    assert scorer.explain(X) == prior.explain(X)
    model.learn(X, True)  # the learner's learning is visible at once
    assert scorer.score(X) == (model.score(X), "logreg-local")
    assert scorer.explain(X) == model.explain(X)


def test_refresh_loads_only_new_versions(scratch_redis):
    async def body(client):
        reg = ModelRegistry(client, scratch_redis.prefix)
        metrics = ModelMetrics(CollectorRegistry())
        scorer = Scorer(RulePrior(), min_labels=20, metrics=metrics)
        assert await scorer.refresh(reg) is False and scorer.score(X)[1] == "rules-1"

        v1 = await reg.publish(model_with(10).to_bytes(), {})
        assert await scorer.refresh(reg) is True and scorer.loaded == v1
        assert scorer.score(X)[1] == "rules-1"  # too few labels: still the prior
        assert metrics.using_prior._value.get() == 1
        assert await scorer.refresh(reg) is False

        m2 = model_with(40)
        await reg.publish(m2.to_bytes(), {"ready": False})
        assert await scorer.refresh(reg) is True
        assert scorer.score(X)[1] == "rules-1"  # enough labels, but the learner has not declared it ready
        v3 = await reg.publish(m2.to_bytes(), {"ready": True})
        assert await scorer.refresh(reg) is True
        assert scorer.score(X) == (m2.score(X), v3)
        assert metrics.using_prior._value.get() == 0 and metrics.model_loads._value.get() == 3
    scratch_redis.run(body)


def test_thresholds_set_from_labels_apply_only_with_the_model_that_carries_them(scratch_redis):
    async def body(client):
        reg = ModelRegistry(client, scratch_redis.prefix)
        scorer = Scorer(RulePrior(), min_labels=20)
        m = model_with(40)
        await reg.publish(m.to_bytes(), {"ready": False, "tiers": [0.3, 0.5, 0.7]})
        await scorer.refresh(reg)
        assert scorer.thresholds is None  # the prior scores: the configured thresholds apply
        await reg.publish(m.to_bytes(), {"ready": True, "tiers": [0.3, 0.5, 0.7]})
        await scorer.refresh(reg)
        assert scorer.thresholds == (0.3, 0.5, 0.7)
        await reg.publish(m.to_bytes(), {"ready": True})  # fixed mode: no thresholds in the meta
        await scorer.refresh(reg)
        assert scorer.thresholds is None
    scratch_redis.run(body)


def test_the_processor_decides_tiers_with_the_scorers_thresholds_when_it_has_them():
    from datetime import datetime

    from config.settings import Settings
    from engine.compose import processor_from
    from engine.record import CustomerRecord
    from schemas.events import SupportEvent

    ev = SupportEvent(event_id="s1", customer_id="c1", occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
                      event_type="support", ticket_id="t1", action="opened", category="delivery", priority="low", is_complaint=False)
    scorer = Scorer(RulePrior(), min_labels=10**9)
    proc = processor_from(Settings(), scorer)
    score = proc.on_event(CustomerRecord(), ev, ev.occurred_at).score
    assert score < 0.5 and proc.on_event(CustomerRecord(), ev, ev.occurred_at).decision is None
    scorer.model, scorer.ready, scorer.min_labels = model_with(1), (lambda: True), 0
    scorer.model.score = lambda x: score  # the model in use scores like the prior did
    scorer.model_thresholds = (score - 0.01, 0.8, 0.9)
    d = proc.on_event(CustomerRecord(), ev, ev.occurred_at).decision
    assert d is not None and d.tier == "watch"

"""Effects against the session's real Redis with a fake producer: an alert whose
worker died between claiming it and delivering it goes out when its message is processed
again, with the same ids, and only then is it final."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from alerts.experiment_store import ExperimentStore
from alerts.ledger import OfferLedger, message_source
from alerts.offers import OfferPolicy
from config.settings import Settings
from engine.compose import processor_from
from engine.processor import to_dt
from engine.record import CustomerRecord
from models.prior import RulePrior
from models.scorer import Scorer
from schemas.events import OrderEvent, ProfileUpdate
from streams.effects import Effects, OutputTopics
from streams.metrics import RuntimeMetrics

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def first_alert_step(settings: Settings):
    """Consent, weekly orders, then silence: the first checkpoint step that decides an alert."""
    proc = processor_from(settings, Scorer(RulePrior(), min_labels=10**9))
    t = T0 - timedelta(days=1)
    rec = proc.on_event(CustomerRecord(), ProfileUpdate(event_id="p", customer_id="c1", occurred_at=t, event_type="profile",
                                                        marketing_consent=True), t).record
    for i in range(6):
        t = T0 + timedelta(days=7 * i)
        rec = proc.on_event(rec, OrderEvent(event_id=f"o{i}", customer_id="c1", occurred_at=t, event_type="order",
                                            order_id=f"o{i}", status="placed", amount=30.0, currency="EUR", items=1,
                                            channel="web"), t).record
    while rec.next_check is not None:
        step = proc.on_tick("c1", rec, to_dt(rec.next_check))
        if step.decision is not None:
            return step
        rec = step.record
    raise AssertionError("six weekly orders then silence decided no alert")


def test_an_alert_claimed_but_never_delivered_goes_out_when_its_message_is_processed_again(scratch_redis):
    async def main(redis, prefix):
        settings = Settings(redis_prefix=prefix, control_share=0.0)
        out: list[tuple[str, dict]] = []
        broker_up = False

        async def send(topic, key, value, *, delivered=False):
            if topic == settings.topic("alerts") and not broker_up:
                raise ConnectionError("the worker died before the broker had the alert")
            out.append((topic, json.loads(value)))

        def worker(unfinished):
            topics = OutputTopics(alerts=settings.topic("alerts"), offers=settings.topic("offers"),
                                  labels=settings.topic("labels"), erasure_done=settings.topic("erasure_done"))
            return Effects(topics=topics, redis=redis, score_prefix=prefix, cooldown_days=settings.cooldown_days,
                           ledger=OfferLedger(redis, prefix), store=ExperimentStore(redis, prefix),
                           caps=OfferPolicy.load(None).caps, send=send, metrics=RuntimeMetrics(CollectorRegistry()),
                           unfinished=unfinished)

        source = message_source("silence-ticks", 0, 41)
        step = first_alert_step(settings)
        with pytest.raises(ConnectionError):
            await worker(lambda *msg: True).after_step("c1", step, None, source)
        assert [t for t, _ in out] == [settings.topic("offers")], "the offer went out, the alert did not"
        broker_up = True
        # The successor processes the same uncommitted message and decides the same alert.
        await worker(lambda *msg: msg == ("silence-ticks", 0, 41)).after_step("c1", first_alert_step(settings), None, source)
        alerts = [v for t, v in out if t == settings.topic("alerts")]
        offers = [v for t, v in out if t == settings.topic("offers")]
        assert [a["alert_id"] for a in alerts] == [step.decision.alert_id]
        assert len(offers) == 2 and offers[0] == offers[1] | {"created_at": offers[0]["created_at"]}, (
            "the offer is sent again with the same id: at least once, never lost")
        assert offers[0]["alert_id"] == step.decision.alert_id and alerts[0]["offer_note"].startswith("offer ")
        # Delivered now: a later replay of the message, committed or not, sends nothing.
        for unfinished in (lambda *msg: True, lambda *msg: False):
            await worker(unfinished).after_step("c1", first_alert_step(settings), None, source)
        assert [v["alert_id"] for t, v in out if t == settings.topic("alerts")] == [step.decision.alert_id]

    scratch_redis.run(lambda redis: main(redis, scratch_redis.prefix))


def test_in_a_batch_claims_are_held_by_their_message_until_the_deliveries_settle(scratch_redis):
    async def main(redis, prefix):
        import asyncio

        settings = Settings(redis_prefix=prefix, control_share=0.0)
        acks: list[asyncio.Future] = []

        async def send(topic, key, value, *, delivered=False):
            ack = asyncio.get_running_loop().create_future()
            acks.append(ack)
            if delivered:
                ack.set_result(None)
            return ack

        topics = OutputTopics(alerts=settings.topic("alerts"), offers=settings.topic("offers"),
                              labels=settings.topic("labels"), erasure_done=settings.topic("erasure_done"))
        effects = Effects(topics=topics, redis=redis, score_prefix=prefix, cooldown_days=settings.cooldown_days,
                          ledger=OfferLedger(redis, prefix), store=ExperimentStore(redis, prefix),
                          caps=OfferPolicy.load(None).caps, send=send, metrics=RuntimeMetrics(CollectorRegistry()))
        step = first_alert_step(settings)
        source = message_source("silence-ticks", 0, 7)
        effects.begin_batch()
        await effects.after_step("c1", step, None, source)
        claim = f"{prefix}:alert:{step.decision.alert_id}"
        assert len(acks) == 2 and not any(a.done() for a in acks), "offer and alert handed over, not awaited"
        assert await redis.get(claim) == source.encode(), "held by its message until delivered"
        settling = asyncio.ensure_future(effects.settle())
        await asyncio.sleep(0)
        assert not settling.done() and await redis.get(claim) == source.encode()
        acks[0].set_result(None)
        acks[1].set_exception(ConnectionError("lost"))  # sent again, waiting
        await settling
        assert len(acks) == 3 and await redis.get(claim) == b"sent"

    scratch_redis.run(lambda redis: main(redis, scratch_redis.prefix))

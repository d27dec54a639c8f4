"""Proof that the uplift measurement is right: the simulator gives offers a known effect
(some customers it would lose stay when treated); the worker alerts, makes offers with a
control arm and tracks every offered customer over the horizon; the report's uplift
interval must contain the simulator's true effect, and exclude zero.

The loop is closed through the real broker: the simulator's events go out a window at a
time, the worker's offers come back to the simulator (which saves the customers who
accept) before the next window, and delivery outcomes go to ``offer-outcomes``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from alerts.experiment_store import ExperimentStore
from alerts.report import format_report, report
from cli.procs import WorkerProcess
from schemas.events import RetentionOffer
from services.embedded import free_port
from simulator import Simulator
from tests.integration.kafka import Feed, metric, run, sentinels, wait_for

pytestmark = pytest.mark.integration
START = datetime(2024, 1, 1, tzinfo=UTC)
CUSTOMERS, CHURN_WITHIN_DAYS, RUN_DAYS, WINDOW_DAYS = 1000, 120, 150, 3


async def offers_so_far(cons: AIOKafkaConsumer) -> list[RetentionOffer]:
    out = []
    for recs in (await cons.getmany(timeout_ms=200, max_records=5000)).values():
        out += [RetentionOffer.model_validate(json.loads(r.value)) for r in recs]
    return out


def test_measured_uplift_interval_contains_the_simulators_true_effect(run_settings):
    port = free_port()
    s = run_settings.with_updates(**{"min_labels": 10**9, "metrics_port": port, "control_share": 0.5})
    sim = Simulator(CUSTOMERS, seed=11, start=START, churn_share=0.7, offer_effect=0.8, horizon_days=CHURN_WITHIN_DAYS)
    feed = Feed(s)
    exposed = 0

    async def loop(worker: WorkerProcess) -> None:
        nonlocal exposed
        cons = AIOKafkaConsumer(s.topic("offers"), bootstrap_servers=s.bootstrap_servers,
                                auto_offset_reset="earliest", group_id=None)
        await cons.start()
        try:
            t = START
            while t < START + timedelta(days=RUN_DAYS):
                nxt = t + timedelta(days=WINDOW_DAYS)
                await asyncio.to_thread(feed, sim.events_between(t, nxt))
                t = nxt
                # the worker has taken everything so far before the simulator moves on
                await asyncio.to_thread(wait_for, lambda: metric(port, "churn_messages_total") >= sum(feed.sent.values()),
                                        "window processed", [worker], 60.0, 0.05)
                outcomes = []
                for offer in await offers_so_far(cons):
                    if offer.kind == "retention":  # the experiment is about retention offers
                        sim.on_offer(offer.customer_id, offer)
                        exposed += 1
                        outcomes += sim.outcomes_for(offer)
                if outcomes:
                    await asyncio.to_thread(feed, outcomes)
        finally:
            await cons.stop()

    with WorkerProcess(s, "uplift") as w:
        run(loop(w))
        # silence checkpoints of every still-tracked customer: every partition's watermark moves past the horizon
        feed(sentinels(s, START + timedelta(days=RUN_DAYS + 2 * s.horizon_days + 1)))
        feed.drained([w])

    async def read_report():
        r = aioredis.Redis.from_url(s.redis_url)
        try:
            return await report(ExperimentStore(r, s.redis_prefix))
        finally:
            await r.aclose()

    rep = run(read_report())
    truth = sim.true_uplift(horizon_days=s.horizon_days)
    realized = sim.realized_uplift(horizon_days=s.horizon_days)
    total = rep.overall
    print(format_report(rep))
    print(f"{exposed} retention offers; true uplift {truth:+.3f} (realized {realized:+.3f}); measured "
          f"{total.uplift:+.3f} [{total.ci_low:+.3f}, {total.ci_high:+.3f}], resolved treated/control {total.resolved}")
    assert min(total.resolved) >= 60, f"too few resolved customers per arm to measure anything: {total.resolved}"
    assert truth >= 0.1, f"the simulation gives offers too little effect to test against: {truth}"
    assert total.ci_low <= truth <= total.ci_high, "the measured uplift's interval misses the true effect"
    assert total.ci_low > 0, "a real effect was not detected"

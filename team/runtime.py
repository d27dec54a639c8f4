"""The team service's composition root: settings → database, Redis, producer, metrics,
background loops. The app factory, ``churn-alert api`` and the tests all use it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from alerts.experiment_store import ExperimentStore
from alerts.ledger import OfferLedger
from config.settings import Settings
from services.broker import wait_for_broker
from services.retry import Dependency
from team import db
from team.hub import Hub
from team.metrics import TeamMetrics
from team.pseudonyms import load_key, pseudonym

log = logging.getLogger(__name__)


@dataclass
class TeamRuntime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    redis: aioredis.Redis
    ledger: OfferLedger
    experiment: ExperimentStore
    producer: AIOKafkaProducer
    metrics: TeamMetrics
    hub: Hub
    database: Dependency  # every loop's database work goes through it: retried while the database is away
    key: bytes = b""
    consumer_running: bool = False
    tasks: list[asyncio.Task] = field(default_factory=list)

    def ref(self, customer_id: str) -> str:
        """The customer's stable pseudonym."""
        return pseudonym(self.key, customer_id)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def db_ok(self, timeout_s: float = 2.0) -> bool:
        """Does the database answer a query within ``timeout_s`` (readiness must answer quickly)?"""

        async def probe() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        try:
            await asyncio.wait_for(probe(), timeout_s)
            return True
        except Exception:  # noqa: BLE001 - readiness reports any failure as not ready
            self.metrics.db_errors.inc()
            return False


def database(url: str, metrics: TeamMetrics) -> Dependency:
    """The team database as a :class:`services.retry.Dependency`: one log line when it goes
    away and one when it is back, ``churn_api_database_up`` meanwhile."""
    return Dependency(db.where(url), errors=db.UNAVAILABLE, max_delay_s=2.0,
                      on_change=lambda ok: metrics.database_up.set(1 if ok else 0), on_retry=metrics.db_errors.inc)


async def start(settings: Settings, *, registry: CollectorRegistry | None = None, background: bool = True) -> TeamRuntime:
    """Migrate the database, connect everything and start the loops (consumer, notifier,
    live updates, score watch, approved-offer resend)."""
    from team.consumer import consume
    from team.notifier import notify_loop
    from team.offers import resend_loop
    from team.scores import watch_scores

    assert settings.database_url is not None, "resolve the database first (services.database)"
    url = settings.database_url.get_secret_value()
    await asyncio.to_thread(db.migrate, url)
    engine = db.async_engine(url)
    r = aioredis.Redis.from_url(settings.redis_url, password=settings.redis_password.get_secret_value()
                                if settings.redis_password else None)
    await wait_for_broker(settings)  # started before its broker: wait for it, saying so, rather than fail
    prod = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)
    await prod.start()
    metrics = TeamMetrics(registry or CollectorRegistry())
    rt = TeamRuntime(settings=settings, engine=engine, sessions=db.sessions(engine), redis=r,
                     ledger=OfferLedger(r, settings.redis_prefix), experiment=ExperimentStore(r, settings.redis_prefix),
                     producer=prod, metrics=metrics, hub=Hub(), database=database(url, metrics))
    async with rt.sessions() as session:
        rt.key = await load_key(session, settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None)
    listening = asyncio.Event()
    rt.tasks.append(asyncio.create_task(rt.hub.listen(url, listening, rt.database), name="live-updates"))
    await asyncio.wait_for(listening.wait(), 10)
    if background:
        for loop, name in ((consume, "consumer"), (notify_loop, "notifier"), (resend_loop, "offer-resend"),
                           (watch_scores, "score-watch")):
            rt.tasks.append(asyncio.create_task(_supervised(loop, rt, name), name=name))
    return rt


async def _supervised(loop: Any, rt: TeamRuntime, name: str) -> None:
    """Run a loop forever: an unexpected error is logged and the loop restarted."""
    while True:
        try:
            await loop(rt)
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a background loop must not die silently
            log.exception("%s failed; restarting in 1 s", name)
            await asyncio.sleep(1.0)  # restart back-off


async def stop(rt: TeamRuntime) -> None:
    for t in rt.tasks:
        t.cancel()
    for t in rt.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    await rt.producer.stop()
    await rt.redis.aclose()
    await rt.engine.dispose()

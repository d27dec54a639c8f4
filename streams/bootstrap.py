"""The composition root: the one place that wires settings to Redis, topics, the
table, the model registry, scorer, policy, metrics and agents. Tests call it too."""

from __future__ import annotations

import socket
from typing import Any

import faust
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerts.experiment_store import ExperimentStore
from alerts.ledger import OfferLedger
from config.settings import Settings
from engine.compose import processor_from
from models.metrics import ModelMetrics
from models.prior import RulePrior
from models.registry import ModelRegistry
from models.scorer import Scorer
from streams import faust_compat
from streams import topics as topics_mod
from streams.app import build_app, rocksdb_options
from streams.effects import Effects, OutputTopics
from streams.endpoints import Endpoints
from streams.handler import CustomerHandler, Edge
from streams.health import Health, broker_answers, redis_answers
from streams.metrics import RuntimeMetrics
from streams.offsets import OffsetWatch
from streams.runtime import Runtime
from streams.sweep import Sweep


def bootstrap(settings: Settings, *, app: faust.App | None = None, redis: aioredis.Redis | None = None,
              prometheus: CollectorRegistry | None = None) -> Runtime:
    """Wire a worker. ``settings`` must have a resolved broker and Redis (see services.resolve)."""
    from streams.agents import customer, learner, ops

    faust_compat.deliver_without_tasks()
    faust_compat.flush_completely()  # before a commit, every table write is with the client producer
    faust_compat.producer_buffer_limit(2 * settings.batch_max)  # a batch's writes do not stop the next batch's delivery
    faust_compat.tune_fetcher(max_wait_s=settings.fetch_max_wait_s,  # a record sent to an idle worker is not held at the
                              prefetch_backoff_s=settings.prefetch_backoff_s)  # broker; partitions handed over in turn
    faust_compat.ack_current_generation_only()  # a batch that outlived a rebalance is read again, not committed
    if settings.role == "learner":  # its own group: it reads the labels topic only
        settings = settings.model_copy(update={"app_id": f"{settings.app_id}-learner"})
    app = app or build_app(settings)
    tops = topics_mod.declare(app, settings)
    table: Any = {} if settings.role == "learner" else app.Table(
        "customers", partitions=settings.partitions, key_type=bytes, value_type=bytes,
        options=rocksdb_options(settings) if settings.store == "rocksdb" else None)
    redis = redis or aioredis.Redis.from_url(
        settings.redis_url, password=settings.redis_password.get_secret_value() if settings.redis_password else None,
        socket_timeout=settings.redis_timeout_s, socket_connect_timeout=settings.redis_timeout_s)
    prometheus = prometheus if prometheus is not None else CollectorRegistry()
    metrics, model_metrics = RuntimeMetrics(prometheus), ModelMetrics(prometheus)
    redis_dep = metrics.dependency("redis")  # every Redis call of the worker is retried while Redis is away
    registry = ModelRegistry(redis, settings.redis_prefix)
    scorer = Scorer(RulePrior(), min_labels=settings.min_labels, metrics=model_metrics)
    processor = processor_from(settings, scorer)  # loads the offer policy: a bad file stops the worker here
    metrics.bind_offers(offer_types(processor.offers.policy))
    broker_dep = metrics.dependency("broker")

    async def send(topic: str, key: bytes | None, value: bytes, *, delivered: bool = False) -> Any:
        """Hand a message to the producer; with ``delivered``, return only once the broker has it,
        else return what to await for that. While the broker is away, the send is retried (a message
        that was delivered but whose acknowledgement was lost goes out twice, with the same ids: at
        least once).

        Straight to Faust's producer, the one whose flush precedes every commit, so a message handed
        over before its batch is acked is on the broker before the batch's offsets are committed.
        Not through a Faust topic, whose per-message promise and callbacks made a send cost 184 µs
        against 32 (a burst of malformed messages was worked off at 3,200 a second against 6,000)."""

        async def once() -> Any:
            pending = await app.producer.send(topic, key, value, partition=None, timestamp=None, headers=None)
            if delivered:
                await pending
            return pending

        return await broker_dep.call(once)

    def committed(topic: str, partition: int) -> int | None:
        return faust_compat.committed_offset(app, topic, partition)

    def unfinished(topic: str, partition: int, offset: int) -> bool:
        """The group has not committed past this message: it will be processed again."""
        done = committed(topic, partition)
        return done is None or offset >= done

    outputs = OutputTopics(alerts=settings.topic("alerts"), offers=settings.topic("offers"),
                           labels=settings.topic("labels"), erasure_done=settings.topic("erasure_done"))
    effects = Effects(topics=outputs, redis=redis, score_prefix=settings.redis_prefix, cooldown_days=settings.cooldown_days,
                      ledger=OfferLedger(redis, settings.redis_prefix), store=ExperimentStore(redis, settings.redis_prefix),
                      caps=processor.offers.policy.caps, send=send, metrics=metrics, redis_dep=redis_dep,
                      unfinished=unfinished)

    watch = OffsetWatch(committed=committed, generation=lambda: app.consumer_generation_id)
    edge = Edge(ticks_topic=settings.topic("ticks"), dead_letter_topic=settings.topic("dead_letter"), clock=settings.clock,
                max_message_bytes=settings.max_message_bytes, max_future_s=settings.max_future_s,
                dead_letter_raw_bytes=settings.dead_letter_raw_bytes, topic_prefix=settings.topic_prefix,
                erasure_marker_s=settings.erasure_marker_s)
    handler = CustomerHandler(edge=edge, table=table, processor=processor,
                              effects=effects, sweep=Sweep(settings.partitions), metrics=metrics, send=send,
                              accepts=tops.accepts, worker_name=socket.gethostname(), watch=watch,
                              write=faust_compat.table_writer(table))
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    health = Health(checks={"broker": broker_answers(settings.bootstrap_servers or ""),
                            "redis": redis_answers(settings.redis_url, password, metrics.redis_errors.labels(path="probe").inc)},
                    model_checked=lambda: scorer.checked)
    rt = Runtime(settings=settings, app=app, topics=tops, table=table, redis=redis, registry=registry, scorer=scorer,
                 handler=handler, effects=effects, metrics=metrics, model_metrics=model_metrics, prometheus=prometheus,
                 redis_dep=redis_dep, health=health)
    rt.show_tiers()
    if settings.role != "learner":
        customer.register(rt)
    if settings.role != "stream":
        learner.register(rt)
    learner.register_refresh(rt)
    ops.register(rt)
    if settings.metrics_port is not None:
        rt.endpoints = Endpoints(prometheus, health, settings.metrics_port).start()
    return rt


def offer_types(policy: Any) -> set[tuple[str, str]]:
    """Every (kind, offer type) the policy can make, to pre-initialise the offer counters."""
    return {(kind, rule.offer_type) for kind, table in (("retention", policy.retention), ("win_back", policy.win_back))
            for by_segment in table.values() for rule in by_segment.values()}

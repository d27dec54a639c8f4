"""The worker's own vital signs: a heartbeat for liveness and readiness, consumer lag, RocksDB's memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.agents.guard import guarded
from streams.faust_compat import consumer_lag
from streams.store import rocksdb_memory

if TYPE_CHECKING:
    from streams.runtime import Runtime

HEARTBEAT_S = 1.0


def register(rt: Runtime) -> None:
    s = rt.settings
    labels = {full: full[len(s.topic_prefix):] for full in [*rt.topics.accepts, rt.topics.ticks]}

    @rt.app.timer(HEARTBEAT_S, name="heartbeat")
    @guarded
    async def heartbeat() -> None:
        app = rt.app
        rt.health.beat(assigned=app.consumer.assignment(), busy=bool(app.rebalancing or app.in_recovery))

    @rt.app.timer(s.lag_interval_s, name="consumer-lag")
    @guarded(on_error=rt.count_error)
    async def lag() -> None:
        got = await consumer_lag(rt.app, frozenset(labels))
        for full, label in labels.items():
            rt.metrics.lag.labels(topic=label).set(got.get(full, 0))
        for kind, n in (rocksdb_memory(rt.table) or {}).items():
            rt.metrics.rocksdb_memory.labels(kind=kind).set(n)

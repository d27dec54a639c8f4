"""Helpers for integration tests: publish, collect with a deadline, run workers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer

from streams.publish import ensure_topics, producer, publish_models
from streams.settings import Settings


async def publish(settings: Settings, events: Iterable = (), raw: Iterable[tuple[str, bytes | None, bytes]] = ()) -> int:
    """Publish pydantic events (to their topics) and raw (topic name, key, value) messages."""
    await ensure_topics(settings)
    prod = producer(settings)
    await prod.start()
    try:
        n = await publish_models(prod, settings, events)
        for topic, key, value in raw:
            await prod.send(topic, value, key=key)
            n += 1
        await prod.flush()
    finally:
        await prod.stop()
    return n


async def collect(settings: Settings, topic_names: list[str], done: Callable[[list], bool], *,
                  deadline_s: float = 90.0, workers: Iterable = ()) -> list:
    """Records (topic, key, decoded JSON value) from the start of the topics until ``done(records)``.

    Fails with what it has when the deadline passes.
    """
    cons = AIOKafkaConsumer(*[settings.topic(t) for t in topic_names], bootstrap_servers=settings.bootstrap_servers,
                            auto_offset_reset="earliest", group_id=None)
    await cons.start()
    out: list = []
    end = time.monotonic() + deadline_s
    try:
        while not done(out):
            for w in workers:
                assert w.alive(), f"worker died:\n{w.log_tail()}"
            if time.monotonic() > end:
                logs = "\n".join(w.log_tail(1500) for w in workers)
                raise AssertionError(f"deadline of {deadline_s}s passed with {len(out)} records: {out[-3:]}\n{logs}")
            for recs in (await cons.getmany(timeout_ms=500, max_records=2000)).values():
                out.extend((r.topic, r.key.decode() if r.key else None, json.loads(r.value)) for r in recs)
    finally:
        await cons.stop()
    return out


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)

"""Publishing events to the input topics (replay, simulate, demo, tests)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from config.settings import Settings
from schemas.catalogue import TOPIC_OF_TYPE
from schemas.errors import DecodeError
from services.broker import ensure_topics, wait_for_broker

__all__ = ["ensure_topics", "wait_for_broker", "producer", "route", "publish_models"]

log = logging.getLogger(__name__)


def producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5, acks="all",
                            max_batch_size=1 << 20, enable_idempotence=False)


def route(obj: dict) -> str:
    """The topic setting name for a decoded event object.

    >>> route({"event_type": "support"})
    'support'
    """
    try:
        return TOPIC_OF_TYPE[obj["event_type"]]
    except (KeyError, TypeError):
        raise DecodeError("unknown_event_type", f"cannot route event_type {obj.get('event_type')!r}") from None


async def publish_models(prod: AIOKafkaProducer, settings: Settings, events: Iterable) -> int:
    """Send pydantic events to their topics, keyed by customer_id; returns the count."""
    n = 0
    for ev in events:
        await prod.send(settings.topic(TOPIC_OF_TYPE[ev.event_type]), ev.model_dump_json().encode(),
                        key=ev.customer_id.encode())
        n += 1
    return n

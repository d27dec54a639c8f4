"""Publishing events to the input topics (replay, simulate, demo, tests)."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from config.settings import Settings
from schemas.catalogue import TOPIC_OF_TYPE, TOPICS
from schemas.errors import DecodeError


async def ensure_topics(settings: Settings) -> None:
    """Create every topic of the catalogue: keyed ones with the configured partition count, the rest with one.

    Producers and workers then agree on partitions from the first message on.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(settings.topic(t.setting), settings.partitions if t.partitions == "keyed" else 1, 1)
                  for t in TOPICS]
        missing = [t for t in wanted if t.name not in existing]
        for t in missing:  # one at a time: a concurrent creator must not fail the others
            try:
                await admin.create_topics([t])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


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

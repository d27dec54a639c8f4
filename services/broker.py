"""The broker's topics, and waiting for a broker that is not up yet: shared by the workers
(``churn-alert worker``) and the team service (``churn-alert api``), either of which may
start before its broker.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from config.settings import Settings
from schemas.catalogue import TOPICS
from schemas.errors import ServiceError

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings) -> None:
    """Create every topic of the catalogue: keyed ones with the configured partition count, the rest with one.

    Producers and workers then agree on partitions from the first message on.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        await admin.start()
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


async def wait_for_broker(settings: Settings) -> None:
    """:func:`ensure_topics`, retried with backoff while the broker does not answer yet (a process
    started before its broker), saying what it waits for; ``ServiceError`` after ``broker_wait_s``."""
    deadline, delay, attempt = time.monotonic() + settings.broker_wait_s, 0.5, 1
    while True:
        try:
            await ensure_topics(settings)
            if attempt > 1:
                log.warning("the broker at %s answers; starting", settings.bootstrap_servers)
            return
        except (KafkaError, OSError) as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServiceError(f"the broker at {settings.bootstrap_servers} did not answer within "
                                   f"{settings.broker_wait_s:g} s (CHURN_BOOTSTRAP_SERVERS, CHURN_BROKER_WAIT_S): "
                                   f"{type(exc).__name__}: {exc}") from None
            log.warning("waiting for the broker at %s (attempt %d: %s); next attempt in %.1f s",
                        settings.bootstrap_servers, attempt, type(exc).__name__, min(delay, left))
            await asyncio.sleep(min(delay, left))  # backoff before the next attempt
            delay, attempt = min(10.0, delay * 2), attempt + 1

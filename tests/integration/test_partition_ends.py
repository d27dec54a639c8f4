"""Where a partition ends, as a worker needs to know at an assignment: whether an input topic
has messages after the group's committed offset (``streams.faust_compat.unread``). The embedded
broker reports a partition's end as its last batch's first offset + 1;
``faust_compat.last_offsets`` reads on from there."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from yarl import URL

from streams.faust_compat import last_offsets
from streams.publish import producer
from tests.integration.kafka import new_topic, run

pytestmark = pytest.mark.integration


async def _ends(settings, batches: int, per_batch: int) -> tuple[int, int, int]:  # noqa: ANN001
    """(end reported, end found without waiting for quiet, end found reading until quiet)."""
    name = await new_topic(settings, "ends", 1)
    prod = producer(settings)
    await prod.start()
    try:
        for b in range(batches):
            for i in range(per_batch):
                await prod.send(name, f"{b}-{i}".encode())
            await prod.flush()  # one batch each
    finally:
        await prod.stop()
    tp = TopicPartition(name, 0)
    cons = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    await cons.start()
    try:
        reported = (await cons.end_offsets([tp]))[tp]
    finally:
        await cons.stop()
    brokers = [URL(f"kafka://{address}") for address in settings.bootstrap_servers.split(",")]
    found = await last_offsets(brokers, {tp: reported - 1}, until_quiet=False)
    settled = await last_offsets(brokers, {tp: reported - 1})
    return reported, found[tp] + 1, settled[tp] + 1


def test_the_end_of_a_partition_is_found_past_what_the_broker_reports(run_settings):
    reported, found, settled = run(_ends(run_settings, batches=3, per_batch=10))
    assert (found, settled) == (30, 30), f"the broker reported an end of {reported}"
    assert reported in (21, 30), "the last batch's first offset + 1 (embedded broker), or the end (Kafka)"


def test_an_empty_partition_ends_at_zero(run_settings):
    assert run(_ends(run_settings, batches=0, per_batch=0)) == (0, 0, 0)

"""The worker's consumer hands over what it fetched in slices shared among the partitions holding
records, in turn (``streams.faust_compat.tune_fetcher``): records fetched on one partition while
another's burst waits to be handed over go next, not after the whole burst. On the real broker
and aiokafka."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.faust_compat import hand_over_in_turns
from streams.publish import producer
from tests.integration.kafka import new_topic, run

pytestmark = pytest.mark.integration
BURST, SLICE = 3_000, 100


def _consumer(settings) -> AIOKafkaConsumer:  # noqa: ANN001
    return AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                            max_poll_records=SLICE, fetch_max_wait_ms=20, auto_offset_reset="earliest")


async def _fetched(cons: AIOKafkaConsumer, tps: list[TopicPartition], what: str) -> None:
    """Until the consumer's fetcher holds records of every one of ``tps`` (not handed over yet)."""
    records = cons._fetcher._records  # noqa: SLF001
    deadline = time.monotonic() + 30
    while not all(tp in records for tp in tps):
        assert time.monotonic() < deadline, f"{what} never fetched"
        await asyncio.sleep(0.005)  # polling with a deadline: the fetcher's task runs meanwhile


async def _burst_handed_over_first(settings, in_turns: bool) -> int:  # noqa: ANN001
    """How many of a burst on partition 1 are handed over before a record sent to partition 0 after
    the burst was fetched."""
    name = await new_topic(settings, "turns", 2)
    burst, other = TopicPartition(name, 1), TopicPartition(name, 0)
    prod = producer(settings)
    await prod.start()
    cons = _consumer(settings)
    try:
        for i in range(BURST):
            await prod.send(name, f"burst-{i}".encode(), partition=1)
        await prod.flush()
        await cons.start()
        cons.assign([burst, other])
        if in_turns:
            hand_over_in_turns(cons, prefetch_backoff_s=0.02)
        handed = len((await cons.getmany(burst, other, timeout_ms=10_000)).get(burst, []))
        assert handed == SLICE, "the first slice is the burst's"
        await (await prod.send(name, b"probe", partition=0))
        await _fetched(cons, [other], "the probe was")  # while the burst waits to be handed over
        while True:
            got = await cons.getmany(burst, other, timeout_ms=10_000)
            assert got, "nothing more was handed over"
            if other in got:
                return handed
            handed += len(got.get(burst, []))
    finally:
        await cons.stop()
        await prod.stop()


def test_a_record_fetched_behind_a_burst_on_another_partition_is_handed_over_next(run_settings):
    before = run(_burst_handed_over_first(run_settings, in_turns=True))
    print(f"{before:,} of the burst of {BURST:,} went before the other partition's record")
    assert before <= 2 * SLICE, f"{before} of the burst were handed over before the other partition's record"


def test_without_turns_the_whole_burst_went_first(run_settings):
    """What the turns change: aiokafka hands over the rest of the burst's fetch first."""
    before = run(_burst_handed_over_first(run_settings, in_turns=False))
    print(f"without turns: {before:,} of the burst of {BURST:,} went before the other partition's record")
    assert before >= BURST // 2, before


async def _shares(settings, in_turns: bool) -> dict[int, int]:  # noqa: ANN001
    """Records of each partition in the first hand-over once two partitions' backlogs are fetched."""
    name = await new_topic(settings, "shares", 2)
    tps = [TopicPartition(name, 0), TopicPartition(name, 1)]
    prod = producer(settings)
    await prod.start()
    cons = _consumer(settings)
    try:
        for i in range(1_000):
            for tp in tps:
                await prod.send(name, f"{tp.partition}-{i}".encode(), partition=tp.partition)
        await prod.flush()
        await cons.start()
        cons.assign(tps)
        if in_turns:
            hand_over_in_turns(cons, prefetch_backoff_s=0.02)
        await _fetched(cons, tps, "the backlogs were")
        got = await cons.getmany(*tps, timeout_ms=10_000)
        return {tp.partition: len(got.get(tp, [])) for tp in tps}
    finally:
        await cons.stop()
        await prod.stop()


def test_a_hand_over_carries_some_of_each_partition_holding_records(run_settings):
    """So that Faust's delivery, which takes one record per topic at a time, interleaves the input topics
    (a fresh group replaying the log reads them about as interleaved as they were written)."""
    assert run(_shares(run_settings, in_turns=True)) == {0: SLICE // 2, 1: SLICE // 2}
    assert sorted(run(_shares(run_settings, in_turns=False)).values()) == [0, SLICE], "aiokafka fills it from one"

"""The producer buffer's flush that Faust's consumer runs before it commits offsets (streams.faust_compat)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.transport.producer import ProducerBuffer

from streams import faust_compat

FAUST_FLUSH_GIVES_UP_S = 0.1  # ProducerBuffer.flush_atmost: wait_for(message_sent.wait(), timeout=0.1), then return


class Channel:
    """Stands in for a topic: ``publish_message`` hands a message over when its gate opens."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.sent: list[str] = []

    def message(self, name: str, *, blocked: bool = False) -> SimpleNamespace:
        gate = self.gates[name] = asyncio.Event()
        if not blocked:
            gate.set()
        return SimpleNamespace(name=name, message=SimpleNamespace(channel=self))

    async def publish_message(self, fut: SimpleNamespace, wait: bool = False) -> None:
        await self.gates[fut.name].wait()
        self.sent.append(fut.name)


async def _flush_waits_for_what_was_buffered_before_it() -> list[str]:
    faust_compat.flush_completely()
    buf = ProducerBuffer()
    buf.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buf.start()
    try:
        ch = Channel()
        buf.put(ch.message("a"))
        buf.put(ch.message("b", blocked=True))  # the sender holds it, the queue is empty: longer than 0.1 s
        flush = asyncio.ensure_future(buf.flush())
        async with asyncio.timeout(5):  # until the state Faust's own flush gave up in: queue empty, "b" held
            while not (ch.sent == ["a"] and buf.size == 0):
                await asyncio.sleep(0.01)
        await asyncio.sleep(3 * FAUST_FLUSH_GIVES_UP_S)  # outlast Faust's timeout, after which its flush returned
        assert not flush.done(), "flush returned while a message buffered before it was still being sent"
        buf.put(ch.message("c", blocked=True))  # buffered after the flush began: not waited for
        ch.gates["b"].set()
        await asyncio.wait_for(flush, timeout=2)
        assert ch.sent == ["a", "b"]
        ch.gates["c"].set()
        await asyncio.wait_for(buf.flush(), timeout=2)
        return ch.sent
    finally:
        await buf.stop()


def test_flush_returns_once_everything_buffered_before_it_is_sent_and_no_later():
    assert asyncio.run(_flush_waits_for_what_was_buffered_before_it()) == ["a", "b", "c"]


def _consumer(generation: int) -> SimpleNamespace:
    """What ``Consumer.ack`` reads of a consumer, just after a rebalance forgot the committed offsets."""
    from collections import defaultdict

    return SimpleNamespace(app=SimpleNamespace(consumer_generation_id=generation,
                                               topics=SimpleNamespace(acks_enabled_for=lambda topic: True)),
                           _committed_offset=defaultdict(lambda: None), _acked_index=defaultdict(set),
                           _acked=defaultdict(list), _n_acked=0, _unacked_messages=set(), _waiting_for_ack=None)


class _Message(SimpleNamespace):
    __hash__ = object.__hash__  # consumers keep messages in sets


def _message(offset: int, generation: int) -> _Message:
    return _Message(acked=False, tp=("orders", 0), topic="orders", offset=offset, generation_id=generation)


def test_an_ack_of_a_message_delivered_before_the_rebalance_does_not_count():
    consumer = _consumer(generation=5)
    old, new = _message(10, generation=4), _message(11, generation=5)
    assert faust_compat._ack(consumer, old) is False  # read again from the committed offset
    assert faust_compat._ack(consumer, new) is True
    assert consumer._acked[("orders", 0)] == [11]


async def _worker_consumer_fetch_wait(seconds: float) -> int:
    from config.settings import Settings
    from streams.app import build_app

    faust_compat.tune_fetcher(max_wait_s=seconds, prefetch_backoff_s=0.02)
    app = build_app(Settings(bootstrap_servers="127.0.0.1:1"))  # nothing is connected: the consumer is only built
    consumer = app.consumer._thread._create_worker_consumer(app.transport)  # noqa: SLF001
    try:
        return consumer._fetch_max_wait_ms  # noqa: SLF001
    finally:
        await consumer.stop()


def test_the_worker_consumer_waits_at_most_the_configured_time_in_an_empty_fetch():
    """Faust builds it with 1,500 ms; the embedded broker holds a fetch that long even when records arrive."""
    assert asyncio.run(_worker_consumer_fetch_wait(0.05)) == 50
    assert asyncio.run(_worker_consumer_fetch_wait(0.2)) == 200


class _ClientConsumer:
    """aiokafka's consumer as ``committed`` sees it: the group's offsets on the broker."""

    def __init__(self, committed: dict) -> None:
        self.offsets, self.asked = committed, []

    async def committed(self, tp) -> int | None:  # noqa: ANN001
        self.asked.append(tp)
        return self.offsets.get(tp)


class _ConsumerThread:
    def __init__(self, client: _ClientConsumer) -> None:
        self.client, self.calls = client, 0

    def _ensure_consumer(self) -> _ClientConsumer:
        return self.client

    async def call_thread(self, fun, *args):  # noqa: ANN001, ANN201 - runs it here instead of in the thread
        self.calls += 1
        return await fun(*args)


def _app(assigned: list, ends: dict, earliest: dict, committed: dict) -> SimpleNamespace:
    """A Faust app whose own record of committed offsets is still empty (it is filled only when it seeks)."""
    async def highwaters(*tps):  # noqa: ANN001, ANN202
        return {tp: ends[tp] for tp in tps}

    async def earliest_offsets(*tps):  # noqa: ANN001, ANN202
        return {tp: earliest[tp] for tp in tps}

    consumer = SimpleNamespace(assignment=lambda: set(assigned), highwaters=highwaters, earliest_offsets=earliest_offsets,
                               _committed_offset={}, _thread=_ConsumerThread(_ClientConsumer(committed)))
    return SimpleNamespace(consumer=consumer, conf=SimpleNamespace(broker=["kafka://probe:9092"]))


def test_unread_starts_at_the_offsets_committed_on_the_broker_or_the_earliest():
    from faust.types import TP

    orders0, orders1, support0, ticks0 = TP("orders", 0), TP("orders", 1), TP("support", 0), TP("ticks", 0)
    app = _app([orders0, orders1, support0, ticks0], ends={orders0: 50, orders1: 7, support0: 9, ticks0: 3},
               earliest={orders1: 2, support0: 9}, committed={orders0: 40})
    got = asyncio.run(faust_compat.unread(app, frozenset({"orders", "support"}), ask=True))
    assert got == {orders0: (40, 50), orders1: (2, 7), support0: (9, 9)}
    assert sorted(app.consumer._thread.client.asked) == [orders0, orders1, support0]
    assert app.consumer._thread.calls == 1, "asked in the consumer's own thread, at once"
    # The lag metric, every few seconds, reads Faust's own record instead: nothing asked of the broker.
    app.consumer._committed_offset.update({orders0: 45})
    assert asyncio.run(faust_compat.consumer_lag(app, frozenset({"orders", "support"}))) == {"orders": 10, "support": 0}
    assert app.consumer._thread.calls == 1
    assert asyncio.run(faust_compat.unread(app, frozenset({"activity"}))) == {}


def test_unread_with_true_ends_reads_past_the_end_the_embedded_broker_reports(monkeypatch):
    from faust.types import TP

    orders0, support0, empty = TP("orders", 0), TP("support", 0), TP("orders", 1)
    app = _app([orders0, support0, empty], ends={orders0: 21, support0: 5, empty: 0}, earliest={empty: 0},
               committed={orders0: 25, support0: 5})
    probed = []

    async def last_offsets(brokers, reported, deadline_s=60.0, *, until_quiet=True):  # noqa: ANN001, ANN202
        probed.append((brokers, dict(reported), until_quiet))
        return {orders0: 29, support0: 4, empty: -1}  # orders' last batch, 20..29, reported as ending at 21

    monkeypatch.setattr(faust_compat, "last_offsets", last_offsets)
    got = asyncio.run(faust_compat.unread(app, frozenset({"orders", "support"}), ask=True, true_ends=True))
    assert probed == [(["kafka://probe:9092"], {orders0: 20, support0: 4, empty: -1}, False)]
    assert got == {orders0: (25, 30), support0: (5, 5), empty: (0, 0)}

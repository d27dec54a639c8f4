"""Every use of Faust's private API, in one place, behind a check of the installed version.

- :func:`check_version`: the worker stops at start with a clear message on a faust-streaming
  release these workarounds were not tested with (``TESTED``).
- :func:`committed_offset`: the offsets Faust committed (sought to after recovery) have no
  public accessor; :func:`group_committed` asks the broker through Faust's client consumer,
  which lives in a thread of its own.
- :func:`deliver_without_tasks`: Faust's fetch loop hands each message to the streams through
  ``Service.wait_first``, which creates four tasks per message; a message whose delivery
  completes without waiting (the common case) is handed over directly.
- :func:`table_writer`: a table write outside Faust's per-message iteration (the customer agent
  writes each record once per batch) names the changelog partition through Faust's
  current-event context variable.
- :func:`flush_completely`: the producer-buffer flush Faust runs before it commits offsets waits
  for every table write buffered before it (Faust's could return with writes still queued).
- :func:`tune_fetcher`: Faust creates its worker consumer with ``fetch_max_wait_ms=1500``
  and no setting for it; and aiokafka's fetcher (its ``fetched_records`` and prefetch backoff,
  private) hands what it fetched over in arrival order, which here takes partitions in turn.
- :func:`producer_buffer_limit`: how many table writes may wait in the producer buffer before
  Faust stops delivering messages to the streams (Faust's 100 is less than one batch's writes).
- :class:`QuietMonitor`: Faust's monitor without its bookkeeping per message, event, table
  access and send, which nothing here reads (the worker's metrics are its own).
- :func:`ack_current_generation_only`: an ack of a message delivered before the current
  rebalance does not count (the message is read again from the committed offset).
- :class:`App`: Faust's app whose stream queues take events one partition at a time in turn
  (:class:`PartitionTurns`), so that a flood read ahead on one partition does not hold the
  others back; asyncio's queue hooks (``_init``, ``_put``, ``_get``) and Faust's queue factory.
- Faust's recovery, with the consumer's flow stopped while the stream partitions are sought
  (:class:`ChurnTableManager`, always), and, on the embedded Tansu broker only, changelog
  highwaters raised to the last offset present (:class:`EmbeddedBrokerTableManager`).

The flow fix:

faust-streaming 0.15.x ends a recovery with: resume stream partitions, seek them to the
committed offsets, then ``flow_control.resume()``, which clears every stream queue, while
the fetcher that read the changelogs keeps running. Records it delivers from the committed
offset before that clear are dropped while Faust's read offset has already passed them,
and a batch fetched before the seek, delivered after it, makes Faust record an offset
"gap" that it then commits as if processed. A restarted worker silently skipped the
first messages after its committed offset (faust-streaming #596, #606; seen here on most
restarts, measured by ``streams.offsets.OffsetWatch``). Clearing the queues before the
seek and keeping what arrived after (an earlier fix here) still let that late batch make a
gap, whose offsets, counted once as gap and once as acked, then let commits advance by one
offset per commit interval. Here the consumer's flow is stopped for the whole sequence.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import weakref
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping, MutableMapping
from types import MethodType
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher, FetchResult
from faust.sensors import Monitor
from faust.streams import _current_event
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.producer import ProducerBuffer
from faust.types import TP
from mode import Service
from mode.services import WaitResults
from mode.utils.queues import ThrowableQueue

from schemas.errors import ConfigError

log = logging.getLogger(__name__)
TESTED = ("0.15.",)  # faust-streaming releases whose private recovery API this module follows


_ORIGINAL_PUT, _ORIGINAL_SEND_PENDING = ProducerBuffer.put, ProducerBuffer._send_pending  # noqa: SLF001
_ORIGINAL_ACK = Consumer.ack


def check_version(installed: str | None = None) -> str:
    """The installed faust-streaming version; ``ConfigError`` when it is not one we tested.

    >>> check_version("0.15.3")
    '0.15.3'
    >>> check_version("0.16.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    schemas.errors.ConfigError: faust-streaming 0.16.0 is installed, but churn-alert uses ... install 'faust-streaming>=0.15,<0.16'
    """
    version = installed or importlib.metadata.version("faust-streaming")
    if not version.startswith(TESTED):
        raise ConfigError(f"faust-streaming {version} is installed, but churn-alert uses Faust's private recovery API "
                          f"(streams/faust_compat.py) and was tested with {', '.join(v + 'x' for v in TESTED)} only: "
                          "install 'faust-streaming>=0.15,<0.16'")
    return version


def committed_offset(app: faust.App, topic: str, partition: int) -> int | None:
    """The offset the group committed (and Faust sought to after recovery), or ``None``."""
    return app.consumer._committed_offset.get(TP(topic, partition))  # noqa: SLF001


class _Resumed:
    """Awaits a coroutine that was already started and suspended at ``first`` (what it yielded)."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Any, first: Any) -> None:
        self.coro, self.first = coro, first

    def __await__(self):  # noqa: ANN204 - a generator driving the coroutine on, as ``yield from`` would
        coro, pending = self.coro, self.first
        while True:
            try:
                sent = yield pending
            except BaseException as exc:  # noqa: BLE001 - forwarded into the coroutine (cancellation too)
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _wait_first(self: Service, *coros: Any, timeout: Any = None) -> WaitResults:
    """``Service.wait_first``, but a first coroutine that completes without suspending wins at once."""
    first = coros[0] if coros else None
    if not asyncio.iscoroutine(first) or self._stopped.is_set() or self._crashed.is_set():  # noqa: SLF001
        return await Service.wait_first(self, *coros, timeout=timeout)
    try:
        pending = first.send(None)
    except StopIteration as stop:
        for other in coros[1:]:
            if asyncio.iscoroutine(other):
                other.close()  # never started
        return WaitResults([first], [stop.value], False)
    return await Service.wait_first(self, _Resumed(first, pending), *coros[1:], timeout=timeout)


def deliver_without_tasks() -> None:
    """Install :func:`_wait_first` on Faust's consumers (the fetch loop's per-message wait; idempotent).

    The loop waits for the first of: the message's delivery to its streams, the flow being
    suspended (a rebalance), the consumer stopping or crashing. Delivery usually completes
    without waiting (the stream's queue has room); then there is nothing to wait for. When it
    does wait, the rest of it runs in a task raced against the others, as before.
    """
    Consumer.wait_first = _wait_first


def _put(self: ProducerBuffer, fut: Any) -> None:
    """``ProducerBuffer.put``, counting the messages buffered (``_churn_put``)."""
    self._churn_put += 1
    _ORIGINAL_PUT(self, fut)


async def _send_pending(self: ProducerBuffer, fut: Any) -> None:
    """``ProducerBuffer._send_pending``, counting the messages handed to the client producer (``_churn_sent``).
    One task sends them in the order they were buffered."""
    try:
        await _ORIGINAL_SEND_PENDING(self, fut)
    finally:
        self._churn_sent += 1


async def _flush(self: ProducerBuffer) -> None:
    """``ProducerBuffer.flush`` that returns once every message buffered before it began is with the client
    producer, whose own flush (next, in ``Producer.flush``) then waits for the broker's acknowledgement.

    Faust's version stops after 0.1 s without a message sent, or as soon as the queue is empty while
    its sender still holds the last message taken off it; its consumer commits offsets right after
    ``Producer.flush``, so the changelog write of a message whose offset is committed could still be
    on its way, and is lost if the worker dies then. It also waits for messages buffered after it
    began, so under steady load a commit could wait for minutes (seen: 181 s).
    """
    target = self._churn_put
    while self._churn_sent < target:
        if self.state != "running":
            raise RuntimeError("Cannot flush: Producer not Running")
        self.message_sent.clear()
        try:
            await asyncio.wait_for(self.message_sent.wait(), timeout=1.0)
        except TimeoutError:
            continue  # still sending (a slow broker): look again


def flush_completely() -> None:
    """Install :func:`_flush` (and the counts it needs) on Faust's producer buffer; idempotent."""
    if ProducerBuffer.flush is not _flush:
        ProducerBuffer._churn_put = ProducerBuffer._churn_sent = 0  # noqa: SLF001 - per instance once incremented
        ProducerBuffer.put, ProducerBuffer._send_pending, ProducerBuffer.flush = _put, _send_pending, _flush  # noqa: SLF001


def producer_buffer_limit(limit: int) -> None:
    """Let ``limit`` messages wait in Faust's producer buffer (table writes: changelog records) before
    Faust's message delivery waits for it to drain (``ProducerBuffer.wait_until_ebb``).

    Faust's limit is 100, and it is checked for every message the consumer delivers to a stream.
    The customer agent writes its batch's records together, one per customer (up to ``batch_max``),
    so with 100 nearly every batch stopped the delivery of the next one's messages (and logged
    "producer buffer full") until all but 100 of its writes were handed to the producer, one at a
    time. What a commit waits for (:func:`flush_completely`) does not change.
    """
    ProducerBuffer.max_messages = max(int(limit), 100)


_ORIGINAL_WORKER_CONSUMER = AIOKafkaConsumerThread._create_worker_consumer  # noqa: SLF001


def tune_fetcher(*, max_wait_s: float, prefetch_backoff_s: float) -> None:
    """The worker's consumer: fetches wait at most ``max_wait_s`` at the broker, and what was
    fetched is handed over a partition at a time in turn.

    Faust fixes the fetch wait at 1.5 s. A broker may hold a fetch that long even when records
    arrive meanwhile: the embedded Tansu broker does (one record sent every 37 ms on 4 partitions
    reached an aiokafka consumer after 371 ms at the median with 1.5 s, 4 ms with 20 ms), and
    every record waited there is event-to-alert latency. Apache Kafka answers a waiting fetch
    as soon as records arrive, so there a short wait costs only idle fetches (20 a second at 50 ms).

    In turn: aiokafka's fetcher keeps what it fetched per partition and hands it over in the order
    it arrived, so once a fetch brought a burst on one partition (the embedded broker returns a
    partition's whole backlog in one fetch), every other partition's next records came after all
    of it, and Faust's delivery loop asks for more only when it has queued all it was given:
    measured, 9,473 malformed messages fetched at once kept the records of another partition,
    fetched 24 ms later, from the worker for 177 ms. With Faust's ``broker_max_poll_records``
    (``Settings.poll_records``) each hand-over is a slice, here shared out among the partitions
    holding records, those served then put behind the others (:func:`_in_turns`); while one
    partition's records wait to be handed over, the fetcher fetches the others after
    ``prefetch_backoff_s`` (aiokafka's fixed 0.1 s).
    """
    wait_ms = max(1, round(max_wait_s * 1000))

    def create(self: AIOKafkaConsumerThread, transport: Any) -> AIOKafkaConsumer:
        consumer = _ORIGINAL_WORKER_CONSUMER(self, transport)
        consumer._fetch_max_wait_ms = wait_ms  # noqa: SLF001 - read when the consumer starts its fetcher
        start = consumer.start

        async def start_in_turns() -> None:
            await start()
            hand_over_in_turns(consumer, prefetch_backoff_s)

        consumer.start = start_in_turns
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create  # noqa: SLF001


_FETCHED_RECORDS = Fetcher.fetched_records


def hand_over_in_turns(consumer: AIOKafkaConsumer, prefetch_backoff_s: float) -> None:
    """A started consumer's fetcher hands partitions over in turn (:func:`tune_fetcher`); on an
    aiokafka whose fetcher is not built as this expects, a warning, and aiokafka's own order."""
    fetcher = getattr(consumer, "_fetcher", None)  # made by start()
    if not (isinstance(getattr(fetcher, "_records", None), OrderedDict) and hasattr(fetcher, "_prefetch_backoff")):
        log.warning("aiokafka's fetcher is not as tested (streams/faust_compat.py): partitions are handed over "
                    "in arrival order, and a burst on one may hold the others back")
        return
    fetcher._prefetch_backoff = prefetch_backoff_s  # noqa: SLF001 - read as each fetch's records are kept
    fetcher.fetched_records = MethodType(_in_turns, fetcher)


async def _in_turns(self: Fetcher, partitions: Any, timeout: float = 0, max_records: int | None = None) -> dict:
    """aiokafka's ``fetched_records``, with ``max_records`` shared out among the partitions holding
    records (aiokafka fills it from the first one): a hand-over carries some of each, which Faust's
    delivery interleaves one record per topic at a time, as it did whole fetches (a replay then
    reads the input topics about as interleaved as they were written). Then :func:`behind_the_others`.

    A partition whose fetch ended in an error is left to aiokafka's own call, which raises it
    only when it has nothing else to return (records handed over are never dropped)."""
    if max_records is None:
        return await _FETCHED_RECORDS(self, partitions, timeout, None)
    records = self._records  # noqa: SLF001 - an OrderedDict: partition → what is left of its fetch
    holding = [tp for tp, left in records.items() if type(left) is FetchResult and (not partitions or tp in partitions)]
    share = max(1, max_records // max(1, len(holding)))
    got = await _FETCHED_RECORDS(self, partitions, timeout, share)  # waits when nothing is fetched yet
    room = max_records - sum(map(len, got.values()))
    for tp in holding:
        if room <= 0:
            break
        if tp not in got and type(records.get(tp)) is FetchResult:
            more = await _FETCHED_RECORDS(self, {tp}, 0, min(share, room))  # returns at once: it holds records
            for k, recs in more.items():
                got[k] = recs
                room -= len(recs)
    behind_the_others(records, got)
    return got


def behind_the_others(left: OrderedDict, handed: Mapping) -> None:
    """Each partition just handed records that still holds more goes behind the others, so that the
    next hand-over (which takes partitions in the order of ``left``) starts with another one.

    >>> left = OrderedDict(a=[3], b=[5], c=[6])  # a and b were handed [1, 2] and [4] and hold more
    >>> behind_the_others(left, {"a": [1, 2], "b": [4]}); list(left)
    ['c', 'a', 'b']
    """
    for tp in handed:
        if tp in left:
            left.move_to_end(tp)


def _ack(self: Consumer, message: Any) -> bool:
    """``Consumer.ack``, except for a message delivered before the current rebalance generation.

    A rebalance seeks every assigned partition back to its committed offset, so such a message
    is read again. Faust forgets the committed offsets of revoked partitions, though, and then
    takes any ack: one that the customer agent's batch gave after the rebalance began (streams
    do not wait for it: ``stream_wait_empty=False``) let a commit during the recovery pass the
    message, while the recovery was replacing its table writes with older changelog records.
    Its effects are kept only by being applied again.
    """
    gen = message.generation_id
    if gen is not None and gen != self.app.consumer_generation_id:
        message.acked = True
        self._unacked_messages.discard(message)  # noqa: SLF001
        return False
    return _ORIGINAL_ACK(self, message)


def ack_current_generation_only() -> None:
    """Install :func:`_ack` on Faust's consumers (idempotent)."""
    Consumer.ack = _ack


class QuietMonitor(Monitor):
    """Faust's ``Monitor`` (the app's own statistics, read only by Faust's web views, which the
    worker does not serve) without the hooks Faust calls for every message, stream event, table
    access and produced message; commits, rebalances and assignments are still recorded."""

    def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
        pass

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> None:
        return None

    def on_stream_event_out(self, tp: TP, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        pass

    def on_message_out(self, tp: TP, offset: int, message: Any) -> None:
        pass

    def on_table_get(self, table: Any, key: Any) -> None:
        pass

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        pass

    def on_table_del(self, table: Any, key: Any) -> None:
        pass

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> None:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        pass


class _AsOf:
    """Stands in for the event Faust's tables ask for: they read only its ``message``."""

    __slots__ = ("message", "__weakref__")

    def __init__(self, message: Any) -> None:
        self.message = message


def table_writer(table: MutableMapping[bytes, bytes]) -> Callable[[Any, bytes, bytes | None], None]:
    """``write(message, key, value)``: set (``None``: delete) ``table[key]`` as if while ``message`` was
    being processed, so its changelog record goes to that message's partition, as Faust's own
    in-iteration writes do (``Collection.partition_for_key`` reads ``faust.streams.current_event()``)."""
    def write(message: Any, key: bytes, value: bytes | None) -> None:
        holder = _AsOf(message)
        token = _current_event.set(weakref.ref(holder))
        try:
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
        finally:
            _current_event.reset(token)
    return write


class FlowSafeRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        # Faust resumes the stream partitions, seeks them, clears the stream queues and
        # only then resumes the consumer's flow, while its fetcher runs throughout. With the
        # flow stopped first, a fetch that includes the stream partitions can only begin
        # after the seek and the clear: nothing is delivered early to be dropped, and no
        # batch fetched before the seek arrives after it.
        self.app.consumer.stop_flow()
        await super().on_recovery_completed(generation_id)


class EmbeddedBrokerRecovery(FlowSafeRecovery):
    async def _build_highwaters(self, consumer, tps: set[TP], destination: Counter, title: str) -> None:  # noqa: ANN001
        """Faust's highwaters, raised to the last offset actually present.

        Recovery reads each changelog partition up to its highwater. The embedded Tansu
        broker reports a partition's end as its last *batch*'s base offset + 1, which
        would leave that batch's later records (the customers' latest states) unread. A
        probe reads from the reported end on; on Kafka it finds nothing beyond it.
        """
        await super()._build_highwaters(consumer, tps, destination, title)
        true_last = await last_offsets(self.app.conf.broker, {tp: destination[tp] for tp in tps})
        for tp, last in true_last.items():
            if last > destination[tp]:
                self.log.warning("highwater of %s raised from %s to %s (broker under-reported its end)",
                                 tp, destination[tp], last)
                destination[tp] = last


async def last_offsets(brokers: list, reported: dict[TP, int], deadline_s: float = 60.0, *,
                       until_quiet: bool = True) -> dict[TP, int]:
    """The last offset present in each partition, reading on from ``reported`` (the last offset the
    broker reports, or -1 for an empty partition). Without ``until_quiet``: as of the first fetch that
    reached the reported offset (its batch; a partition being written to is never quiet)."""
    unseen = {tp for tp, off in reported.items() if off >= 0}
    if not unseen and not until_quiet:  # empty partitions only (a probe stopped before it read fails to stop)
        return dict(reported)
    if not reported:
        return {}
    probe = AIOKafkaConsumer(bootstrap_servers=[f"{u.host}:{u.port}" for u in brokers], enable_auto_commit=False)
    await probe.start()
    try:
        probe.assign([TP(tp.topic, tp.partition) for tp in reported])
        last = dict(reported)
        for tp, off in reported.items():
            probe.seek(TP(tp.topic, tp.partition), max(off, 0))
        # The record at each reported last offset exists: read until every partition gave at least that
        # one (a fresh consumer's first fetches can take longer than a quiet round on a busy machine, and
        # stopping at an empty round then would leave the reported end as it was), then until quiet.
        deadline = asyncio.get_running_loop().time() + deadline_s
        while unseen and asyncio.get_running_loop().time() < deadline:
            for tp, records in (await probe.getmany(timeout_ms=300)).items():
                key = TP(tp.topic, tp.partition)
                last[key] = max(last[key], records[-1].offset)
                if records[-1].offset >= reported[key]:
                    unseen.discard(key)
        if unseen:
            raise RuntimeError(f"partitions {sorted(unseen)} did not answer within {deadline_s:g} s")
        while until_quiet:
            batch = await probe.getmany(timeout_ms=300)
            if not batch:
                return last
            for tp, records in batch.items():
                key = TP(tp.topic, tp.partition)
                last[key] = max(last[key], records[-1].offset)
        return last
    finally:
        await probe.stop()


class ChurnTableManager(TableManager):
    """The table manager Faust builds, with :class:`FlowSafeRecovery`."""

    recovery_class: type[Recovery] = FlowSafeRecovery

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = self.recovery_class(self.app, self, beacon=self.beacon, loop=self.loop)  # noqa: SLF001
        return self._recovery


class EmbeddedBrokerTableManager(ChurnTableManager):
    """For the embedded Tansu broker: also :class:`EmbeddedBrokerRecovery`'s highwater probe."""

    recovery_class = EmbeddedBrokerRecovery


async def group_committed(app: faust.App, tps: list[TP]) -> dict[TP, int | None]:
    """The offsets the group committed, asked of the broker (``None``: nothing committed). Faust's own
    record (:func:`committed_offset`) is filled only when it seeks, after the recovery callbacks ran."""
    thread = app.consumer._thread  # noqa: SLF001 - the consumer lives in its own thread and event loop
    consumer = thread._ensure_consumer()  # noqa: SLF001

    async def ask() -> dict[TP, int | None]:
        got = await asyncio.gather(*(consumer.committed(tp) for tp in tps))
        return dict(zip(tps, got))

    return await thread.call_thread(ask)


async def unread(app: faust.App, topics: frozenset[str], *, ask: bool = False,
                 true_ends: bool = False) -> dict[TP, tuple[int, int]]:
    """Per partition of ``topics`` assigned to this worker: ``(start, end)``, where the group goes on
    reading (its committed offset; the earliest offset where nothing was committed yet) and the
    broker's end offset. ``ask``: the committed offsets asked of the broker (:func:`group_committed`),
    not Faust's own record, which is filled only when it seeks after a recovery. ``true_ends``: on the embedded broker, which reports a partition's end as its
    last batch's first offset + 1, read the records after it (:func:`last_offsets`)."""
    tps = [tp for tp in app.consumer.assignment() if tp.topic in topics]
    if not tps:
        return {}
    ends = dict(await app.consumer.highwaters(*tps))
    if true_ends:
        reported = {tp: ends[tp] - 1 for tp in tps if ends.get(tp) is not None}
        ends.update({tp: last + 1 for tp, last in (await last_offsets(app.conf.broker, reported, until_quiet=False)).items()})
    starts = (await group_committed(app, tps) if ask
              else {tp: committed_offset(app, tp.topic, tp.partition) for tp in tps})
    missing = [tp for tp, off in starts.items() if off is None]
    if missing:
        starts.update(await app.consumer.earliest_offsets(*missing))
    return {tp: (starts[tp], ends[tp]) for tp in tps if starts.get(tp) is not None and ends.get(tp) is not None}


async def consumer_lag(app: faust.App, topics: frozenset[str]) -> dict[str, int]:
    """Per topic of ``topics``, over the partitions assigned to this worker: log end offset
    minus the committed offset (the earliest offset where nothing was committed yet)."""
    lag: dict[str, int] = {}
    for tp, (start, end) in (await unread(app, topics)).items():
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - start)
    return lag


class PartitionTurns:
    """The container of a stream queue (what ``asyncio.Queue`` keeps in a deque): in order within a
    partition number, taken from one partition at a time in turn.

    One worker's customer agent reads all its partitions into one queue. First in, first out, a
    burst read ahead on one partition (the fetcher reads far faster than the agent handles) put
    every other partition's next message behind all of it: measured, ten probe customers on the
    other partition waited 1.1-1.7 s behind 9,474 malformed messages, nearly the whole burst.
    Kafka orders a partition only, and the input topics are co-partitioned, so keeping each
    partition number's own arrival order (every topic of it together: a customer's messages stay
    in the order they came) keeps every order the worker relies on.

    >>> from types import SimpleNamespace as event
    >>> q = PartitionTurns()
    >>> for p, x in [(0, "a"), (0, "b"), (0, "c"), (1, "x"), (0, "d"), (1, "y")]:
    ...     q.append(event(message=event(partition=p), value=x))
    >>> len(list(q)), [q.popleft().value for _ in range(len(q))]
    (6, ['a', 'x', 'b', 'y', 'c', 'd'])
    """

    __slots__ = ("_parts", "_turns", "_n")

    def __init__(self) -> None:
        self._parts: dict[int | None, deque] = {}
        self._turns: deque = deque()  # partitions with something queued, whose turn is next first
        self._n = 0

    def append(self, item: Any) -> None:
        message = getattr(item, "message", None)  # a stream event; anything else queues as one partition
        key = getattr(message, "partition", None)
        part = self._parts.get(key)
        if part is None:
            part = self._parts[key] = deque()
            self._turns.append(key)
        part.append(item)
        self._n += 1

    def popleft(self) -> Any:
        key = self._turns[0]  # IndexError when empty, as a deque's (asyncio takes only from a non-empty queue)
        part = self._parts[key]
        item = part.popleft()
        self._n -= 1
        if part:
            self._turns.rotate(-1)
        else:
            del self._parts[key]
            self._turns.popleft()
        return item

    def clear(self) -> None:
        self._parts.clear()
        self._turns.clear()
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def __iter__(self) -> Any:  # what a queue's repr lists: each partition's items, in turn order
        return (item for key in self._turns for item in self._parts[key])


class PartitionFairQueue(ThrowableQueue):
    """Faust's stream queue (flow control, pressure callbacks, errors) on :class:`PartitionTurns`."""

    def _init(self, maxsize: int) -> None:  # asyncio.Queue's hook for its container
        self._queue = PartitionTurns()


class App(faust.App):
    """Faust's app with :class:`PartitionFairQueue` for every channel's queue."""

    def FlowControlQueue(self, maxsize: int | None = None, *, clear_on_resume: bool = False) -> ThrowableQueue:  # noqa: N802 - Faust's name
        return PartitionFairQueue(maxsize=maxsize, flow_control=self.flow_control, clear_on_resume=clear_on_resume)

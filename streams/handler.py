"""The body of the customer agent: decode → step → effects → schedule, per message; the
records are stored once per batch.

An input message read again after a restart (the table's changelog may be ahead of the
committed offsets) is a duplicate when the customer's record already holds its position
(:meth:`engine.record.CustomerRecord.handled`): each record remembers, per input topic, the
partition, offset and timestamp of the newest message handled for it. Behind that, the
processor still recognises an event id among the customer's last ``SEEN_IDS`` (a producer that
sent the same event twice).

An erasure leaves an erasure marker in the customer's place (:meth:`engine.record.CustomerRecord.erased`):
their positions, with the erasure request's own, and nothing else. A message of theirs read
again after a crash (the erasure's offset committed, not those of their earlier events on
other topics) is then a duplicate, instead of making the customer anew; a new one starts a new
customer from nothing, as the backtest does, who keeps the positions (the marker goes then).
Otherwise it goes when its ``next_check`` comes due, like a silence checkpoint, once
``Edge.erasure_marker_s`` has passed on the wall clock as well (on the event clock a replay may
pass days in a second, which a commit does not keep up with).

On the event clock a partition's watermark is state like the customers' records: what it rests
on (the latest event time read on each input topic) is stored in the table under the partition's
own key (:func:`heads_key`), with the batch's records, so a worker that takes the partition over
goes on from the same watermark instead of from whichever topic it happens to read first.
Message keys beginning with ``RESERVED`` are therefore no customer's (``reserved_key``).

No exception escapes: a message that cannot be applied goes to the dead-letter
topic with its reason, and the worker keeps consuming.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from redis.exceptions import RedisError

from alerts.ledger import message_source
from engine.processor import Processor, Step, to_dt
from engine.record import CustomerRecord
from schemas import codec
from schemas.deadletter import dead_letter
from schemas.errors import DecodeError
from schemas.events import INPUT_TYPES, SupportEvent
from streams.batch import Records, Write
from streams.effects import Effects, Send
from streams.metrics import COMPLAINT_CATEGORIES, RuntimeMetrics
from streams.offsets import OffsetWatch
from streams.sweep import Sweep, decode_tick, encode_tick

log = logging.getLogger(__name__)

RESERVED = b"\x00"  # table keys of the worker's own, never a customer's
HEADS = RESERVED + b"heads/"


def heads_key(partition: int) -> bytes:
    """The table key of a partition's watermark heads (each input topic's latest event time)."""
    return HEADS + b"%d" % partition


@dataclass(frozen=True)
class Edge:
    """What the handler needs to know of the topic edge."""

    ticks_topic: str  # full names
    dead_letter_topic: str
    clock: Literal["wall", "event"]
    max_message_bytes: int
    max_future_s: float
    dead_letter_raw_bytes: int
    topic_prefix: str = ""  # taken off topic names in metric labels
    erasure_marker_s: float = 7 * 86_400.0  # how long an erased customer's marker stays (see the module docstring)


class Message(NamedTuple):
    """What the handler reads of a consumed message (Faust's messages have these attributes too)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None  # the broker record's timestamp, in seconds as Faust gives it; None: unknown


class CustomerHandler:
    """Handles the customer agent's messages a batch at a time (see :mod:`streams.batch`)."""

    def __init__(self, *, edge: Edge, table: MutableMapping[bytes, bytes], processor: Processor, effects: Effects,
                 sweep: Sweep, metrics: RuntimeMetrics, send: Send, accepts: dict[str, frozenset[str]],
                 worker_name: str, watch: OffsetWatch | None = None, write: Write | None = None) -> None:
        """``write(message, key, value)`` stores a record as of the message that last changed it (the
        runtime's writes the table under that message, for Faust's changelog partition); ``None`` deletes."""
        self.edge, self.table, self.processor, self.effects, self.sweep = edge, table, processor, effects, sweep
        self.metrics, self.send, self.accepts, self.worker_name = metrics, send, accepts, worker_name
        self.watch = watch
        self.write = write or _plain_write(table)
        self.ticks_topic, self.dead_letter_topic = edge.ticks_topic, edge.dead_letter_topic
        self.max_future = timedelta(seconds=edge.max_future_s)
        self.watermarks: dict[int, float] = {}
        self.heads: dict[int, dict[str, float]] = {}  # partition → activity topic → latest event time
        self._moved: dict[int, Any] = {}  # partition → the batch's last message that moved its heads
        self.pending: dict[int, dict[str, int]] = {}  # partition → activity topic with a backlog → its end offset
        self.activity_topics = frozenset(t for t, types in accepts.items() if types & INPUT_TYPES)
        self._consumed = metrics.bind_topics([*accepts, self.ticks_topic], edge.topic_prefix)  # bound once, not per message
        self._redis_errors = metrics.redis_errors.labels(path="event")
        self._complaints = {c: metrics.complaints.labels(category=c) for c in COMPLAINT_CATEGORIES}
        self._watermark_gauges: dict[int, Any] = {}
        self.clock = time.time  # the wall clock (a test's own)

    async def handle(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                     timestamp: float | None = None) -> None:
        """One message, as a batch of one."""
        await self.handle_batch([Message(topic, partition, offset, key, value, timestamp)])

    async def handle_batch(self, messages: Sequence[Any]) -> None:
        """Apply messages (each with ``topic``, ``partition``, ``offset``, ``key``, ``value``, ``timestamp``)
        in order; then write each changed record once."""
        if not messages:
            return
        t0 = time.perf_counter()
        self._records = Records(self.table, self.write)
        self._wall = datetime.fromtimestamp(self.clock(), UTC)
        counts: dict[tuple[str, str], int] = {}
        self.effects.begin_batch()  # the batch's alerts and offers are awaited together, below
        for msg in messages:
            outcome = (msg.topic, await self._handle(msg))
            counts[outcome] = counts.get(outcome, 0) + 1
        last = messages[-1]
        try:
            self._records.flush()
            self._store_heads()  # after the records they bound: written in this order to the changelog
        except Exception:  # noqa: BLE001 - nothing escapes the agent's loop
            log.exception("cannot store the records of a batch ending at %s[%s]@%s", last.topic, last.partition, last.offset)
        try:
            await self.effects.settle()  # before the batch is acked
        except Exception:  # noqa: BLE001 - nothing escapes the agent's loop
            log.exception("cannot settle the deliveries of a batch ending at %s[%s]@%s", last.topic, last.partition, last.offset)
        for outcome, n in counts.items():
            self._consumed[outcome].inc(n)
        self.metrics.step_seconds.observe((time.perf_counter() - t0) / len(messages))

    async def _handle(self, msg: Any) -> str:
        topic, partition, offset, key, value = msg.topic, msg.partition, msg.offset, msg.key, msg.value
        if self.pending:
            self._read_to_end(topic, partition, offset)
        if self.watch is not None and (skipped := self.watch.observe(topic, partition, offset)):
            self.metrics.offset_gaps.inc(skipped)
        before = self._records.snapshot(key) if key is not None else None
        self.effects.received_at = time.perf_counter()
        try:
            source = message_source(topic, partition, offset)
            if topic == self.ticks_topic:
                return await self._tick(msg, key, value, source)
            return await self._event(msg, key, value, source)
        except Exception as exc:  # noqa: BLE001 - nothing escapes the agent's loop
            if key is not None:
                self._records.restore(key, before)
            if isinstance(exc, RedisError):
                self._redis_errors.inc()
            if not isinstance(exc, DecodeError):
                log.exception("cannot process %s[%s]@%s", topic, partition, offset)
            await self._dead_letter(topic, partition, offset, key, value, exc)
            return "dead_lettered"

    async def _event(self, msg: Any, key: bytes | None, value: bytes | None, source: str) -> str:
        topic, partition = msg.topic, msg.partition
        ev = codec.decode(value, allowed=self.accepts[topic], now=self._wall, max_bytes=self.edge.max_message_bytes,
                          max_future=self.max_future)
        if key is None or key.decode("utf-8", "replace") != ev.customer_id:
            raise DecodeError("key_mismatch", f"message key {key!r} is not the event's customer_id {ev.customer_id!r}")
        if key.startswith(RESERVED):
            raise DecodeError("reserved_key", f"customer_id {ev.customer_id!r} begins with a NUL character")
        wm = self._advance(msg, ev.occurred_at.timestamp())
        if self.edge.clock == "event":
            # Replay mode: checkpoints the watermark passed run first, inline, exactly as in the
            # backtest. Their keys share this partition (one due index per partition), and Faust
            # writes the changelog to the current event's partition, so this is safe.
            # Until none is due: a checkpoint may schedule the customer's next one before ``wm``.
            while due := self.sweep.due(partition, wm):
                self.metrics.sweep_customers_due.inc(len(due))
                for customer_id, at in due:
                    await self._apply_tick(msg, customer_id.encode(), at, source)
        record = self._records.get(key)
        known = record.state is not None
        ts = msg.timestamp
        at = (partition, msg.offset, round(ts * 1000)) if ts is not None and ts >= 0 else None  # Faust: -0.001 for none
        if at is not None and record.handled(topic, *at):
            return "duplicate"  # an erased customer's too, whose marker holds their positions
        if record.erased_at is not None:  # a new message of an erased customer: a new customer, as in the
            record = CustomerRecord(positions=record.positions)  # backtest, who keeps the positions
        step = self.processor.on_event(record, ev, ev.occurred_at)
        outcome = await self._commit(msg, key, ev.customer_id, step, event=ev, source=source)
        if outcome == "erased":
            self._leave_marker(msg, key, ev, record.positions, at, wm)
        if at is not None and step.kind in ("scored", "stored", "duplicate"):  # not erased; offer outcomes as before
            step.record.note_handled(topic, *at)  # into the record put back (a duplicate's too: its id may leave
            if step.kind == "duplicate":          # the last SEEN_IDS before the message is read again)
                self._records.put(key, step.record, msg)
        if outcome == "applied":
            if not known and step.kind != "outcome":
                self.metrics.customers.inc()
            if type(ev) is SupportEvent and ev.is_complaint and ev.action == "opened":  # not getattr: a missing
                # attribute of a pydantic model raises inside its __getattr__ (0.8 % of the worker's time)
                self._complaints[ev.category].inc()
        elif outcome == "erased" and known:
            self.metrics.customers.dec()
        return outcome

    def _advance(self, msg: Any, t: float) -> float:
        """The partition's watermark: the minimum, over the input topics seen on this
        partition, of the latest event time on each. Faust reads topics independently, so
        one topic may run ahead of another; the slowest one bounds what has surely passed.
        While a topic that had a backlog at assignment is not read yet (:meth:`hold_for_backlogs`),
        the watermark stays where it is.
        """
        topic, partition = msg.topic, msg.partition
        heads = self.heads.setdefault(partition, {})
        if topic not in self.activity_topics:  # sparse side topics (profiles, outcomes, erasure) neither hold it
            return self.watermarks.get(partition, float("-inf"))  # back nor move it: none yet, nothing is due
        if t > heads.get(topic, float("-inf")):
            heads[topic] = t
            self._moved[partition] = msg
        if self.pending and self._release(topic, partition):
            return self.watermarks.get(partition, float("-inf"))
        wm = min(heads.values())
        if wm > self.watermarks.get(partition, float("-inf")):
            self.watermarks[partition] = wm
            gauge = self._watermark_gauges.get(partition)
            if gauge is None:
                gauge = self._watermark_gauges[partition] = self.metrics.watermark.labels(partition=str(partition))
            gauge.set(wm)
        return self.watermarks[partition]

    def _store_heads(self) -> None:
        """On the event clock, each partition's heads the batch moved, under the last message that moved them."""
        if self.edge.clock == "event":
            for partition, msg in self._moved.items():
                self.write(msg, heads_key(partition), json.dumps(self.heads[partition]).encode())
        self._moved.clear()

    def _load_heads(self, key: bytes, raw: bytes) -> None:
        """A partition's stored heads, as :meth:`_store_heads` wrote them: its watermark is theirs again."""
        partition = int(key[len(HEADS):])
        heads = self.heads[partition] = {t: float(v) for t, v in json.loads(raw).items() if t in self.activity_topics}
        if heads:
            self.watermarks[partition] = min(heads.values())

    def hold_for_backlogs(self, ends: Mapping[tuple[str, int], int]) -> None:
        """After an assignment: ``ends`` maps each input (topic, partition) with a backlog (messages
        after the group's committed offset) to the broker's end offset then.

        Faust reads the topics independently: after a restart, a rebalance or in a fresh group it
        may read one topic's backlog before the first message of another arrives, and a topic not
        seen yet does not hold the watermark back. So a partition's watermark stays put while any
        of its activity topics with a backlog is pending: until a valid event of it was read, or a
        message at its end offset minus one (a backlog of malformed messages only). Replaces what
        an earlier assignment left pending."""
        pending: dict[int, dict[str, int]] = {}
        for (topic, partition), end in ends.items():
            if topic in self.activity_topics:
                pending.setdefault(partition, {})[topic] = end
        self.pending = pending
        for partition, held in sorted(pending.items()):
            log.info("partition %s: watermark held until %s are read", partition, ", ".join(sorted(held)))

    def _read_to_end(self, topic: str, partition: int, offset: int) -> None:
        held = self.pending.get(partition)
        if held is not None and topic in held and offset >= held[topic] - 1:
            self._release(topic, partition)

    def _release(self, topic: str, partition: int) -> bool:
        """``topic`` was read on ``partition``: it holds the watermark no longer; True while another does."""
        held = self.pending.get(partition)
        if held is None:
            return False
        held.pop(topic, None)
        if held:
            return True
        del self.pending[partition]
        return False

    async def _tick(self, msg: Any, key: bytes | None, value: bytes | None, source: str) -> str:
        if key is None or value is None:
            raise DecodeError("invalid", "silence tick without key or value")
        return "applied" if await self._apply_tick(msg, key, decode_tick(value), source) else "stale_tick"

    def _leave_marker(self, msg: Any, key: bytes, ev: Any, positions: dict[str, list[int]] | None,
                      at: tuple[int, int, int] | None, wm: float) -> None:
        """In place of the erased record, a marker with its positions and the erasure's own (so the
        request read again is a duplicate too), due to go ``erasure_marker_s`` later by the sweep's
        clock; nothing when there is no position to keep."""
        wall, keep = self._wall.timestamp(), self.edge.erasure_marker_s
        base = wall if self.edge.clock == "wall" else max(ev.occurred_at.timestamp(), wm)
        marker = CustomerRecord.erased(positions, at=wall, until=base + keep)
        if at is not None:
            marker.note_handled(msg.topic, *at)
        if marker.positions:
            self._records.put(key, marker, msg)
            self.sweep.schedule(msg.partition, ev.customer_id, marker.next_check)

    def _drop_marker(self, msg: Any, key: bytes, marker: CustomerRecord, at: float) -> bool:
        """An erasure marker's checkpoint: it goes once ``erasure_marker_s`` has passed on the wall
        clock too (True); until then, on the event clock, it is due again that much later."""
        if marker.next_check is None or at < marker.next_check:
            return False
        keep = self.edge.erasure_marker_s
        if self._wall.timestamp() < marker.erased_at + keep:
            kept = marker.copy()
            kept.next_check = (marker.erased_at if self.edge.clock == "wall"
                               else max(at, self.watermarks.get(msg.partition, at))) + keep
            self._records.put(key, kept, msg)
            self.sweep.schedule(msg.partition, key.decode(), kept.next_check)
            return False
        self._records.delete(key, msg)
        self.sweep.remove(msg.partition, key.decode())
        return True

    async def _apply_tick(self, msg: Any, key: bytes, at: float, source: str) -> bool:
        """Score a due silence checkpoint; False when it was stale (rescheduled since)."""
        record = self._records.get(key)
        if record.erased_at is not None:
            return self._drop_marker(msg, key, record, at)
        step = self.processor.on_tick(key.decode(), record, to_dt(at))
        if step.kind == "stale":
            return False
        self.metrics.sweep_due.inc()
        await self._commit(msg, key, key.decode(), step, event=None, source=source)
        return True

    async def _commit(self, msg: Any, key: bytes, customer_id: str, step: Step, *, event: Any, source: str) -> str:
        """Effects, then the record (written back at the end of the batch); returns the message's outcome."""
        if step.kind == "duplicate":
            return "duplicate"
        if step.record is None:  # erasure
            self._records.delete(key, msg)
            self.sweep.remove(msg.partition, customer_id)
            await self.effects.erase(customer_id, event)
            return "erased"
        await self.effects.after_step(customer_id, step, event, source)
        if step.kind != "outcome":
            self._records.put(key, step.record, msg)
            self.sweep.schedule(msg.partition, customer_id, step.record.next_check)
        return "applied"

    async def sweep_wall(self) -> None:
        """Live mode: a tick for everything due by the wall clock, across partitions.

        A timer has no current event, and Faust writes tables only inside stream
        iteration, so the ticks go through the co-partitioned tick topic.
        """
        with self.metrics.sweep_seconds.time():
            due = self.sweep.due_all(self.clock())
        self.metrics.sweep_customers_due.inc(len(due))
        for customer_id, at in due:
            await self.send(self.ticks_topic, customer_id.encode(), encode_tick(at))
        self.metrics.scheduled.set(len(self.sweep))

    async def rebuild_sweep(self) -> None:
        """After table recovery: schedule every recovered customer's next checkpoint, and every
        erasure marker's (when it may go); only customers count as customers. The partitions'
        stored watermark heads are taken up again."""
        n = 0
        for key, raw in self.table.items():
            if key.startswith(RESERVED):
                if key.startswith(HEADS):
                    self._load_heads(key, raw)
                continue
            self.sweep.schedule_key(key, CustomerRecord.peek_next_check(raw))
            n += not CustomerRecord.peek_erased(raw)
        self.metrics.scheduled.set(len(self.sweep))
        self.metrics.customers.set(n)

    async def _dead_letter(self, topic: str, partition: int, offset: int, key: bytes | None,
                           value: bytes | None, exc: Exception) -> None:
        record = dead_letter(value, topic=topic, partition=partition, offset=offset, key=key, error=exc,
                             max_raw=self.edge.dead_letter_raw_bytes, now=datetime.now(UTC), worker=self.worker_name)
        await self.send(self.dead_letter_topic, key, record)
        self.metrics.dead_letters.labels(reason=getattr(exc, "code", "processing_error")).inc()


def _plain_write(table: MutableMapping[bytes, bytes]) -> Write:
    def write(message: Any, key: bytes, value: bytes | None) -> None:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return write

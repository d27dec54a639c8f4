"""CustomerHandler without a broker: a dict as the table, a fake send that records
(topic, key, value), the real processor with the rule prior and real Effects on the
test's scratch Redis. What reaches the handler is applied, counted or dead-lettered;
nothing escapes it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from alerts.experiment_store import ExperimentStore
from alerts.ledger import OfferLedger
from config.settings import Settings
from engine.compose import processor_from
from engine.processor import to_dt
from engine.record import CustomerRecord
from models.prior import RulePrior
from models.scorer import Scorer
from models.state import SEEN_IDS
from schemas.catalogue import INPUTS
from schemas.codec import REASONS, encode
from schemas.deadletter import DeadLetter, decode_raw, read
from schemas.events import ErasureConfirmation, ErasureRequest, OfferOutcome, OrderEvent, ProfileUpdate, SupportEvent
from streams.effects import Effects, OutputTopics
from streams.handler import RESERVED, CustomerHandler, Edge, heads_key
from streams.metrics import RuntimeMetrics
from streams.sweep import Sweep, encode_tick

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def order(cid: str, i: int, t: datetime) -> OrderEvent:
    return OrderEvent(event_id=f"{cid}-o{i}", customer_id=cid, occurred_at=t, event_type="order", order_id=f"{cid}-o{i}",
                      status="placed", amount=30.0, currency="EUR", items=1, channel="web")


def support(cid: str, i: int, t: datetime) -> SupportEvent:
    return SupportEvent(event_id=f"{cid}-s{i}", customer_id=cid, occurred_at=t, event_type="support", ticket_id=f"t{i}",
                        action="opened", category="delivery", priority="low", is_complaint=False)


def profile(cid: str, t: datetime) -> ProfileUpdate:
    return ProfileUpdate(event_id=f"{cid}-p-{t.timestamp():.0f}", customer_id=cid, occurred_at=t, event_type="profile",
                         marketing_consent=True)


class Table(dict):
    """The in-memory table: a dict that also remembers the order of its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


@dataclass
class World:
    """One handler and what it did: the table, the sent messages and the metrics."""

    settings: Settings
    handler: CustomerHandler
    table: Table
    registry: CollectorRegistry
    sent: list[tuple[str, bytes | None, bytes]]  # (topic, key, value), in order
    offset: int = 0

    async def feed(self, setting: str, event=None, *, raw: bytes | None = None, key: bytes | None = b"",
                   partition: int = 0, offset: int | None = None, timestamp: float | None = None) -> None:
        """Hand one message of the ``setting`` topic to the handler, as the agent does (at the next
        offset unless given; without a broker timestamp unless given, as the guard then is off)."""
        value = raw if raw is not None or event is None else encode(event)
        if key == b"" and event is not None:
            key = event.customer_id.encode()
        self.offset += 1
        await self.handler.handle(self.settings.topic(setting), partition, self.offset if offset is None else offset,
                                  key, value, timestamp)

    def count(self, outcome: str) -> float:
        """Messages with this outcome, over all topics."""
        return sum(s.value for f in self.registry.collect() if f.name == "churn_messages" for s in f.samples
                   if s.name == "churn_messages_total" and s.labels["outcome"] == outcome)

    def on(self, setting: str) -> list[tuple[bytes | None, bytes]]:
        return [(k, v) for t, k, v in self.sent if t == self.settings.topic(setting)]

    def dead_letters(self) -> list[DeadLetter]:
        return [read(v) for _, v in self.on("dead_letter")]

    def record(self, cid: str) -> CustomerRecord:
        return CustomerRecord.decode(self.table[cid.encode()])

    def customers(self) -> dict[bytes, bytes]:
        """The table without the worker's own keys (the partitions' watermark heads)."""
        return {k: v for k, v in self.table.items() if not k.startswith(RESERVED)}

    def watermark(self, partition: int = 0) -> float | None:
        return self.registry.get_sample_value("churn_watermark_seconds", {"partition": str(partition)})


def settings_for(prefix: str, clock: str = "event") -> Settings:
    return Settings(redis_prefix=prefix, clock=clock, partitions=1, control_share=0.0)


def world(redis, prefix: str, *, clock: str = "event", table: Table | None = None) -> World:
    settings = settings_for(prefix, clock)
    registry = CollectorRegistry()
    metrics = RuntimeMetrics(registry)
    table = table if table is not None else Table()
    sent: list[tuple[str, bytes | None, bytes]] = []

    async def send(topic: str, key: bytes | None, value: bytes, *, delivered: bool = False) -> None:
        sent.append((topic, key, value))

    processor = processor_from(settings, Scorer(RulePrior(), min_labels=10**9))
    outputs = OutputTopics(alerts=settings.topic("alerts"), offers=settings.topic("offers"),
                           labels=settings.topic("labels"), erasure_done=settings.topic("erasure_done"))
    effects = Effects(topics=outputs, redis=redis, score_prefix=prefix, cooldown_days=settings.cooldown_days,
                      ledger=OfferLedger(redis, prefix), store=ExperimentStore(redis, prefix),
                      caps=processor.offers.policy.caps, send=send, metrics=metrics)
    edge = Edge(ticks_topic=settings.topic("ticks"), dead_letter_topic=settings.topic("dead_letter"), clock=settings.clock,
                max_message_bytes=settings.max_message_bytes, max_future_s=settings.max_future_s,
                dead_letter_raw_bytes=settings.dead_letter_raw_bytes, erasure_marker_s=settings.erasure_marker_s)
    handler = CustomerHandler(edge=edge, table=table, processor=processor, effects=effects,
                              sweep=Sweep(settings.partitions), metrics=metrics, send=send,
                              accepts={settings.topic(t.setting): t.accepts for t in INPUTS}, worker_name="test-worker")
    return World(settings, handler, table, registry, sent)


async def weekly_orders_then_silence(w: World, cid: str = "c1", n: int = 6) -> float:
    """Consent and ``n`` weekly orders; returns the customer's first silence checkpoint."""
    await w.feed("profiles", profile(cid, T0 - DAY))
    for i in range(n):
        await w.feed("orders", order(cid, i, T0 + 7 * i * DAY))
    return w.record(cid).next_check


def test_a_valid_event_is_applied_stored_scheduled_and_its_score_written(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        await w.feed("orders", order("c1", 0, T0))
        rec = w.record("c1")
        assert rec.state is not None and rec.state.last_activity_at == T0 and rec.next_check > T0.timestamp()
        assert w.count("applied") == 1 and w.count("dead_lettered") == 0 and w.sent == []
        assert len(w.handler.sweep) == 1 and w.handler.sweep.due(0, rec.next_check) == [("c1", rec.next_check)]
        await w.handler.effects.flush_scores()
        score = await redis.hgetall(f"{scratch_redis.prefix}:cust:c1:score")
        assert score[b"model_version"] == b"rules-1" and float(score[b"at"]) == T0.timestamp()
    scratch_redis.run(body)


BAD = {  # name: (topic setting, key, value, reason code)
    "not json": ("orders", b"c1", b'{"event_id": "x",', "not_json"),
    "wrong topic": ("support", b"c1", encode(order("c1", 0, T0)), "wrong_topic"),
    "key is another customer": ("orders", b"c2", encode(order("c1", 0, T0)), "key_mismatch"),
    "no key": ("orders", None, encode(order("c1", 0, T0)), "key_mismatch"),
    "tick without key": ("ticks", None, encode_tick(T0.timestamp()), "invalid"),
    "reserved key": ("orders", b"\x00heads/0", encode(order("\x00heads/0", 0, T0)), "reserved_key"),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_message_is_dead_lettered_with_its_reason_and_the_handler_goes_on(scratch_redis, name):
    setting, key, value, code = BAD[name]

    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        await w.feed(setting, raw=value, key=key, partition=0)  # returns: nothing escapes
        [dl] = w.dead_letters()
        assert (dl.reason_code, dl.source_topic, dl.partition, dl.offset) == (code, w.settings.topic(setting), 0, 1)
        assert dl.key == (key.decode() if key else None) and decode_raw(dl) == value and dl.worker == "test-worker"
        assert w.on("dead_letter")[0][0] == key, "keyed by the original key"
        assert code in REASONS, "every reason code is in the contract's list"
        assert w.registry.get_sample_value("churn_dead_letters_total", {"reason": code}) == 1
        assert w.count("dead_lettered") == 1 and w.count("applied") == 0 and dict(w.table) == {}
        await w.feed("orders", order("c1", 1, T0))
        assert w.count("applied") == 1 and list(w.customers()) == [b"c1"]
    scratch_redis.run(body)


def test_a_repeated_event_id_is_counted_duplicate_and_changes_nothing(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        await weekly_orders_then_silence(w, n=3)
        before, sent = dict(w.table), list(w.sent)
        await w.feed("orders", order("c1", 1, T0 + 7 * DAY))  # a redelivery of the second order
        assert w.count("duplicate") == 1 and w.count("applied") == 4
        assert dict(w.table) == before and w.sent == sent
    scratch_redis.run(body)


BROKER_T0 = 1_760_000_000.0  # broker timestamps (seconds, as Faust gives them): when the messages were produced


async def flood(w: World, cid: str, n: int) -> list[tuple[OrderEvent, int, float]]:
    """``n`` orders of one customer on the orders topic, at offsets 0.. and 10 ms apart; returns
    (event, offset, broker timestamp) of each."""
    sent = [(order(cid, i, T0 + i * timedelta(hours=1)), i, BROKER_T0 + i / 100) for i in range(n)]
    for ev, offset, ts in sent:
        await w.feed("orders", ev, offset=offset, timestamp=ts)
    return sent


def test_a_message_read_again_up_to_the_stored_position_is_a_duplicate_even_when_its_id_left_the_window(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        sent = await flood(w, "c1", SEEN_IDS + 8)
        before, alerts = dict(w.table), list(w.sent)
        rec = w.record("c1")
        assert rec.positions == {w.settings.topic("orders"): [0, SEEN_IDS + 7, round((BROKER_T0 + (SEEN_IDS + 7) / 100) * 1000)]}
        assert not rec.state.seen(sent[0][0].event_id), "the first ids are out of the id window"
        for ev, offset, ts in sent:  # all read again from offset 0, as after a restart from an older commit
            await w.feed("orders", ev, offset=offset, timestamp=ts)
        assert w.count("duplicate") == len(sent) and w.count("applied") == len(sent)
        assert dict(w.table) == before and w.sent == alerts and w.record("c1").state.n_orders == len(sent)
    scratch_redis.run(body)


def test_without_the_position_a_message_outside_the_id_window_would_be_applied_twice(scratch_redis):
    """The premise of the guard: with no broker timestamp (no position) only the event ids protect."""
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        sent = await flood(w, "c1", SEEN_IDS + 8)
        await w.feed("orders", sent[0][0], offset=0)
        assert w.count("duplicate") == 0 and w.record("c1").state.n_orders == len(sent) + 1
    scratch_redis.run(body)


def test_after_a_re_created_topic_lower_offsets_with_later_timestamps_are_applied(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        sent = await flood(w, "c1", 10)
        later = sent[-1][2] + 60
        for i in range(3):  # the topic deleted and created again: offsets from 0, later timestamps
            await w.feed("orders", order("c1", 100 + i, T0 + 30 * DAY + i * DAY), offset=i, timestamp=later + i)
        assert w.count("applied") == 13 and w.count("duplicate") == 0 and w.record("c1").state.n_orders == 13
        assert w.record("c1").positions[w.settings.topic("orders")] == [0, 2, round((later + 2) * 1000)]
        await w.feed("orders", order("c1", 101, T0 + 31 * DAY), offset=1, timestamp=later + 1)  # and read again
        assert w.count("duplicate") == 1 and w.record("c1").state.n_orders == 13
    scratch_redis.run(body)


def test_on_another_partition_a_message_is_applied_and_its_position_kept(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        sent = await flood(w, "c1", 10)
        # partitions added: the customer's messages now come from partition 1, at lower offsets
        await w.feed("orders", order("c1", 50, T0 + 40 * DAY), partition=1, offset=3, timestamp=sent[2][2])
        assert w.count("applied") == 11 and w.count("duplicate") == 0
        assert w.record("c1").positions[w.settings.topic("orders")] == [1, 3, round(sent[2][2] * 1000)]
    scratch_redis.run(body)


def test_positions_are_kept_per_topic_and_for_an_event_id_duplicate(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        sent = await flood(w, "c1", 3)
        await w.feed("support", support("c1", 0, T0 + DAY), offset=7, timestamp=BROKER_T0 + 1)
        await w.feed("orders", sent[1][0], offset=3, timestamp=BROKER_T0 + 2)  # sent twice by its producer
        assert w.count("duplicate") == 1
        assert w.record("c1").positions == {w.settings.topic("orders"): [0, 3, round((BROKER_T0 + 2) * 1000)],
                                            w.settings.topic("support"): [0, 7, round((BROKER_T0 + 1) * 1000)]}
        await w.feed("orders", sent[1][0], offset=3, timestamp=BROKER_T0 + 2)  # that second copy read again
        assert w.count("duplicate") == 2 and w.record("c1").state.n_orders == 3
    scratch_redis.run(body)


def test_an_erasure_removes_the_customer_from_the_table_the_sweep_and_redis(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        first_check = await weekly_orders_then_silence(w, "c1", n=2)
        await w.feed("orders", order("c2", 0, T0 + 8 * DAY))
        await w.handler.effects.flush_scores()
        assert len(w.handler.sweep) == 2 and await redis.exists(f"{scratch_redis.prefix}:cust:c1:score")

        await w.feed("erasure", ErasureRequest(event_id="er-1", customer_id="c1", occurred_at=T0 + 8 * DAY,
                                               event_type="erasure_request"))
        assert b"c1" not in w.table and b"c2" in w.table and len(w.handler.sweep) == 1
        assert w.count("erased") == 1 and not await redis.exists(f"{scratch_redis.prefix}:cust:c1:score")
        [(key, value)] = w.on("erasure_done")
        done = ErasureConfirmation.model_validate_json(value)
        assert key == b"c1" and done.request_event_id == "er-1" and "redis:score" in done.removed
        due = w.handler.sweep.due(0, first_check + 90 * DAY.total_seconds())
        assert [cid for cid, _ in due] == ["c2"], "c1's checkpoint went with them"
    scratch_redis.run(body)


def erasure(cid: str, t: datetime, k: int = 1) -> ErasureRequest:
    return ErasureRequest(event_id=f"er-{cid}-{k}", customer_id=cid, occurred_at=t, event_type="erasure_request")


async def history_then_erasure(w: World, cid: str = "c1") -> list[tuple[str, object, int, float]]:
    """Consent, four weekly orders and a complaint of ``cid``, each with its position, then their
    erasure; returns (topic setting, event, offset, broker timestamp) of each message, the erasure last."""
    sent = [("profiles", profile(cid, T0 - DAY), 3, BROKER_T0)]
    sent += [("orders", order(cid, i, T0 + 7 * i * DAY), 10 + i, BROKER_T0 + 1 + i) for i in range(4)]
    sent += [("support", support(cid, 0, T0 + 22 * DAY), 5, BROKER_T0 + 6)]
    sent += [("erasure", erasure(cid, T0 + 23 * DAY), 2, BROKER_T0 + 7)]
    for setting, ev, offset, ts in sent:
        await w.feed(setting, ev, offset=offset, timestamp=ts)
    return sent


def test_an_erasure_leaves_a_marker_of_positions_only_and_the_customer_read_again_is_not_made_anew(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        sent = await history_then_erasure(w)
        await w.handler.effects.flush_scores()
        marker = w.record("c1")
        # nothing of the customer but where their messages were, and when the marker may go
        assert marker == CustomerRecord.erased({w.settings.topic(t): [0, o, round(ts * 1000)] for t, _, o, ts in sent},
                                               at=marker.erased_at, until=(T0 + 30 * DAY).timestamp())
        assert abs(marker.erased_at - time.time()) < 60 and w.count("erased") == 1
        assert [cid for cid, _ in w.handler.sweep.due(0, float("inf"))] == ["c1"], "only the marker's checkpoint"
        assert w.registry.get_sample_value("churn_customers") == 0
        table, out = dict(w.table), list(w.sent)

        for setting, ev, offset, ts in sent:  # all read again, as after a crash before their commit
            await w.feed(setting, ev, offset=offset, timestamp=ts)
        await w.handler.effects.flush_scores()
        assert w.count("duplicate") == len(sent) and w.count("applied") == len(sent) - 1
        assert dict(w.table) == table and w.sent == out, "no state, no alert, no second confirmation"
        assert not await redis.exists(f"{scratch_redis.prefix}:cust:c1:score")
        assert w.registry.get_sample_value("churn_customers") == 0
    scratch_redis.run(body)


def test_without_positions_an_erasure_leaves_no_marker_and_a_customer_read_again_is_made_anew(scratch_redis):
    """The premise of the marker: what a message read again does when nothing of the customer is left."""
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        await w.feed("orders", order("c1", 0, T0))  # no broker timestamps: no positions
        await w.feed("erasure", erasure("c1", T0 + DAY))
        assert b"c1" not in w.table
        await w.feed("orders", order("c1", 0, T0))
        assert w.count("duplicate") == 0 and w.record("c1").state.n_orders == 1
    scratch_redis.run(body)


def test_after_an_erasure_a_new_event_starts_a_new_customer_as_in_the_backtest_who_keeps_the_positions(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        sent = await history_then_erasure(w)
        later = order("c1", 99, T0 + 40 * DAY)
        await w.feed("orders", later, offset=20, timestamp=BROKER_T0 + 20)
        fresh = processor_from(w.settings, Scorer(RulePrior(), min_labels=10**9)).on_event(CustomerRecord(), later,
                                                                                           later.occurred_at)
        rec = w.record("c1")
        assert replace(rec, positions=None) == fresh.record, "exactly a new customer's record, as the backtest's"
        assert rec.erased_at is None and rec.positions == {
            **{w.settings.topic(t): [0, o, round(ts * 1000)] for t, _, o, ts in sent if t != "orders"},
            w.settings.topic("orders"): [0, 20, round((BROKER_T0 + 20) * 1000)]}
        assert w.registry.get_sample_value("churn_customers") == 1
        assert [cid for cid, _ in w.handler.sweep.due(0, float("inf"))] == ["c1"]
        assert w.handler.sweep.due(0, float("inf")) == [] and rec.next_check == fresh.record.next_check
        w.handler.sweep.schedule(0, "c1", rec.next_check)
        before = dict(w.table)
        for setting, ev, offset, ts in sent:  # the old messages read again, the erasure too: the new customer stays
            await w.feed(setting, ev, offset=offset, timestamp=ts)
        assert dict(w.table) == before and w.count("duplicate") == len(sent) and w.count("erased") == 1
    scratch_redis.run(body)


def test_an_erasure_marker_goes_once_its_time_passed_on_the_event_clock_and_on_the_wall_clock(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        await history_then_erasure(w)
        keep = w.settings.erasure_marker_s
        due = w.record("c1").next_check
        assert due == (T0 + 23 * DAY).timestamp() + keep
        await w.feed("support", support("c2", 0, to_dt(due) + DAY))  # the watermark (of orders and support)
        await w.feed("orders", order("c2", 0, to_dt(due) + DAY))    # passes it; the wall clock has not
        marker = w.record("c1")
        assert marker.erased_at is not None and marker.next_check == due + DAY.total_seconds() + keep
        assert w.count("dead_lettered") == 0

        w.handler.clock = lambda: time.time() + keep + 60  # the wall clock passed it too
        await w.feed("support", support("c2", 1, to_dt(marker.next_check) + DAY))
        await w.feed("orders", order("c2", 1, to_dt(marker.next_check) + DAY))
        assert b"c1" not in w.table and b"c2" in w.table
        assert [cid for cid, _ in w.handler.sweep.due(0, float("inf"))] == ["c2"]
        assert w.registry.get_sample_value("churn_customers") == 1
    scratch_redis.run(body)


def test_on_the_wall_clock_an_erasure_marker_goes_by_a_tick_once_its_time_passed(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix, clock="wall")
        now = float(int(time.time()))  # whole seconds: exact through a datetime
        w.handler.clock = lambda: now
        await w.feed("orders", order("c1", 0, T0), offset=0, timestamp=BROKER_T0)
        await w.feed("erasure", erasure("c1", T0 + DAY), offset=0, timestamp=BROKER_T0 + 1)
        w.sent.clear()
        marker = w.record("c1")
        assert marker.next_check == now + w.settings.erasure_marker_s
        await w.handler.sweep_wall()
        assert w.on("ticks") == [], "not due yet"

        w.handler.clock = lambda: marker.next_check
        await w.handler.sweep_wall()
        assert w.on("ticks") == [(b"c1", encode_tick(marker.next_check))]
        await w.feed("ticks", raw=encode_tick(marker.next_check), key=b"c1")
        assert b"c1" not in w.table and len(w.handler.sweep) == 0 and w.count("dead_lettered") == 0
    scratch_redis.run(body)


def test_recovery_schedules_the_markers_and_counts_only_customers(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        await history_then_erasure(w, "c1")
        await weekly_orders_then_silence(w, "c2", n=2)
        table = dict(w.table)
        fresh = world(redis, scratch_redis.prefix, table=Table())
        fresh.table.update(table)
        await fresh.handler.rebuild_sweep()
        assert fresh.registry.get_sample_value("churn_customers") == 1
        assert sorted(cid for cid, _ in fresh.handler.sweep.due(0, float("inf"))) == ["c1", "c2"]
    scratch_redis.run(body)


def test_on_the_event_clock_checkpoints_the_watermark_passes_are_applied_before_the_event(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        first_check = await weekly_orders_then_silence(w, "c1")
        c1_before, ticked = w.record("c1"), w.registry.get_sample_value("churn_sweep_ticks_total")
        w.table.writes.clear()
        later = to_dt(first_check) + 60 * DAY
        await w.feed("orders", order("c2", 0, later))

        # c1's checkpoints first (each may schedule the next, still before the event), then c2's event;
        # each record is written once, at the end of the message's batch, and then the watermark's heads
        assert w.table.writes == [b"c1", b"c2", heads_key(0)]
        # the same ticks at the same due times as the pure processor takes them (as the backtest does)
        proc, rec = processor_from(w.settings, Scorer(RulePrior(), min_labels=10**9)), c1_before
        ticks = 0
        while rec.next_check is not None and rec.next_check <= later.timestamp():
            rec, ticks = proc.on_tick("c1", rec, to_dt(rec.next_check)).record, ticks + 1
        assert w.table[b"c1"] == rec.encode()
        assert w.registry.get_sample_value("churn_sweep_ticks_total") - ticked == ticks > 1
        alerts = [json.loads(v) for _, v in w.on("alerts")]
        assert alerts and {(a["customer_id"], a["trigger"]) for a in alerts} == {("c1", "silence")}
        assert all(datetime.fromisoformat(a["occurred_at"]) < later for a in alerts), "at the checkpoints' times"
        assert w.count("applied") == 8, "the checkpoints ran inline: only the messages are counted"
    scratch_redis.run(body)


def test_the_watermark_is_the_slowest_activity_topic_and_side_topics_do_not_move_it(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        check = await weekly_orders_then_silence(w, "c1")
        c1 = w.table[b"c1"]
        last_order = (T0 + 35 * DAY).timestamp()
        assert w.watermark() == last_order and check > last_order

        await w.feed("support", support("c3", 0, T0))  # support lags behind orders ...
        await w.feed("orders", order("c2", 0, to_dt(check) + 10 * DAY))  # ... so orders running ahead
        assert w.watermark() == last_order and w.table[b"c1"] == c1, "does not pass the checkpoint"

        # side topics are sparse: an early one does not hold the watermark back, a late one does not push it
        await w.feed("profiles", profile("c4", T0 - 300 * DAY))
        await w.feed("outcomes", OfferOutcome(event_id="oc-1", customer_id="c5", occurred_at=to_dt(check) + 30 * DAY,
                                              event_type="offer_outcome", offer_id="off-x", outcome="opened"))
        await w.feed("profiles", profile("c4", to_dt(check) + 30 * DAY))
        assert w.watermark() == last_order and w.table[b"c1"] == c1

        await w.feed("support", support("c3", 1, to_dt(check) + 5 * DAY))  # the slowest topic catches up
        assert w.watermark() == (to_dt(check) + 5 * DAY).timestamp()
        assert w.table[b"c1"] != c1 and w.record("c1").next_check > w.watermark()
        assert w.count("dead_lettered") == 0
    scratch_redis.run(body)


def test_after_a_restart_a_side_topic_message_first_does_not_fire_checkpoints(scratch_redis):
    """A restarted worker has no watermark yet; Faust may read a sparse side topic first."""
    async def body(redis):
        first = world(redis, scratch_redis.prefix)
        check = await weekly_orders_then_silence(first, "c1")
        table = Table()
        table.update(first.table)
        w = world(redis, scratch_redis.prefix, table=table)
        await w.handler.rebuild_sweep()
        assert len(w.handler.sweep) == 1
        await w.feed("profiles", profile("c4", to_dt(check) + 30 * DAY))
        assert w.table[b"c1"] == first.table[b"c1"] and w.on("alerts") == [], "no watermark from a side topic"
        await w.feed("orders", order("c2", 0, to_dt(check) + DAY))
        assert w.record("c1").next_check > check, "the first activity message starts the watermark"
    scratch_redis.run(body)


async def restarted(redis, prefix: str, first: World, backlogs: dict[str, int] | None, *, heads: bool = True) -> World:
    """A worker started on ``first``'s table, told which input topics of partition 0 have a backlog
    (topic setting → end offset; ``None``: not told, as before the hold). ``heads=False``: a table
    without the partitions' watermark heads, as before they were stored."""
    table = Table()
    table.update(first.table if heads else first.customers())
    w = world(redis, prefix, table=table)
    await w.handler.rebuild_sweep()
    if backlogs is not None:
        w.handler.hold_for_backlogs({(w.settings.topic(t), 0): end for t, end in backlogs.items()})
    return w


def test_a_restarted_worker_goes_on_from_its_predecessors_watermark(scratch_redis):
    """The CI failure of a SIGKILL test: the predecessor had read every support ticket, so support
    had no backlog and held nothing; the new worker read orders far ahead, its watermark followed
    orders alone and every customer of the partition was alerted as silent."""
    async def body(redis):
        first = world(redis, scratch_redis.prefix)
        check = await weekly_orders_then_silence(first, "c1")
        await first.feed("support", support("c3", 0, T0))
        ahead = order("c2", 0, to_dt(check) + 20 * DAY)
        assert json.loads(first.table[heads_key(0)]) == first.handler.heads[0], "stored with the records"

        forgot = await restarted(redis, scratch_redis.prefix, first, {"orders": 500}, heads=False)
        await forgot.feed("orders", ahead, offset=100)
        assert forgot.record("c1").next_check > check, "without the heads, orders alone run c1's checkpoint early"

        w = await restarted(redis, scratch_redis.prefix, first, {"orders": 500})
        assert w.handler.heads[0] == first.handler.heads[0] and w.handler.watermarks[0] == T0.timestamp()
        assert w.registry.get_sample_value("churn_customers") == 2, "the heads are not a customer"
        await w.feed("orders", ahead, offset=100)
        assert w.table[b"c1"] == first.table[b"c1"] and w.on("alerts") == [], "support still bounds the watermark"
        await w.feed("support", support("c3", 1, to_dt(check) + DAY), offset=20)
        assert w.watermark() == (to_dt(check) + DAY).timestamp() and w.record("c1").next_check > check
    scratch_redis.run(body)


def test_after_an_assignment_a_topic_with_a_backlog_holds_the_watermark_until_its_first_event(scratch_redis):
    """Faust may read the orders backlog before the first support ticket arrives; the table
    knows no heads when the predecessor had not read support on this partition (here: none stored)."""
    async def body(redis):
        first = world(redis, scratch_redis.prefix)
        check = await weekly_orders_then_silence(first, "c1")
        await first.feed("support", support("c3", 0, T0))
        ahead = order("c2", 0, to_dt(check) + 20 * DAY)

        unheld = await restarted(redis, scratch_redis.prefix, first, None, heads=False)
        await unheld.feed("orders", ahead)
        assert unheld.record("c1").next_check > check, "not held, orders alone run c1's checkpoint early"

        w = await restarted(redis, scratch_redis.prefix, first, {"orders": 500, "support": 40}, heads=False)
        await w.feed("orders", ahead, offset=100)
        await w.feed("orders", order("c2", 1, to_dt(check) + 30 * DAY), offset=101)
        await w.feed("profiles", profile("c4", to_dt(check) + 30 * DAY), offset=7)  # a side topic releases nothing
        assert w.table[b"c1"] == first.table[b"c1"] and w.on("alerts") == [] and w.watermark() is None
        assert w.handler.heads[0] == {w.settings.topic("orders"): (to_dt(check) + 30 * DAY).timestamp()}, "heads recorded"

        await w.feed("support", support("c3", 1, to_dt(check) - DAY), offset=20)  # support's first: not past the check
        assert w.watermark() == (to_dt(check) - DAY).timestamp() and w.table[b"c1"] == first.table[b"c1"]
        assert w.handler.pending == {}
        await w.feed("support", support("c3", 2, to_dt(check) + DAY), offset=21)
        assert w.watermark() == (to_dt(check) + DAY).timestamp() and w.record("c1").next_check > check
    scratch_redis.run(body)


def test_a_topic_without_a_backlog_does_not_hold_the_watermark(scratch_redis):
    """A partition without support tickets still gets its checkpoints, as before."""
    async def body(redis):
        first = world(redis, scratch_redis.prefix)
        check = await weekly_orders_then_silence(first, "c1")
        w = await restarted(redis, scratch_redis.prefix, first, {"orders": 500, "profiles": 9})
        assert w.handler.pending == {0: {w.settings.topic("orders"): 500}}, "side topics never hold it"
        await w.feed("orders", order("c2", 0, to_dt(check) + DAY), offset=100)
        assert w.handler.pending == {} and w.watermark() == (to_dt(check) + DAY).timestamp()
        assert w.record("c1").next_check > check
    scratch_redis.run(body)


def test_a_backlog_of_malformed_messages_stops_holding_at_its_end_offset(scratch_redis):
    async def body(redis):
        first = world(redis, scratch_redis.prefix)
        check = await weekly_orders_then_silence(first, "c1")
        w = await restarted(redis, scratch_redis.prefix, first, {"orders": 500, "support": 13})
        await w.feed("orders", order("c2", 0, to_dt(check) + DAY), offset=100)
        await w.feed("support", raw=b"{not json", key=b"c3", offset=10)
        await w.feed("support", raw=b"{not json", key=b"c3", offset=11)
        assert w.handler.pending == {0: {w.settings.topic("support"): 13}} and w.table[b"c1"] == first.table[b"c1"]
        await w.feed("support", raw=b"{not json", key=b"c3", offset=12)  # the last one at assignment
        assert w.handler.pending == {} and w.count("dead_lettered") == 3
        await w.feed("orders", order("c2", 1, to_dt(check) + 2 * DAY), offset=101)
        assert w.watermark() == (to_dt(check) + 2 * DAY).timestamp() and w.record("c1").next_check > check
    scratch_redis.run(body)


def test_a_new_assignment_replaces_what_the_last_one_left_pending(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        orders, support_topic = w.settings.topic("orders"), w.settings.topic("support")
        w.handler.hold_for_backlogs({(orders, 0): 5, (support_topic, 0): 8, (orders, 1): 3})
        assert w.handler.pending == {0: {orders: 5, support_topic: 8}, 1: {orders: 3}}
        w.handler.hold_for_backlogs({(support_topic, 1): 4})
        assert w.handler.pending == {1: {support_topic: 4}}
        w.handler.hold_for_backlogs({})
        assert w.handler.pending == {}
    scratch_redis.run(body)


def test_an_exception_while_processing_is_dead_lettered_as_processing_error_and_the_handler_goes_on(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix)
        w.table[b"c9"] = b"{not a customer record"  # a value the table cannot decode
        value = encode(order("c9", 0, T0))
        await w.feed("orders", raw=value, key=b"c9")
        [dl] = w.dead_letters()
        assert dl.reason_code == "processing_error" and dl.reason.startswith("JSONDecodeError") and decode_raw(dl) == value
        assert w.registry.get_sample_value("churn_dead_letters_total", {"reason": "processing_error"}) == 1
        assert w.table[b"c9"] == b"{not a customer record" and w.count("applied") == 0
        await w.feed("orders", order("c1", 0, T0))
        assert w.count("applied") == 1 and w.record("c1").state is not None
    scratch_redis.run(body)


def test_on_the_wall_clock_the_sweep_sends_ticks_and_a_tick_is_applied_once(scratch_redis):
    async def body(redis):
        w = world(redis, scratch_redis.prefix, clock="wall")
        check = await weekly_orders_then_silence(w, "c1")
        c1 = w.table[b"c1"]
        await w.feed("orders", order("c2", 0, to_dt(check) + 60 * DAY))
        assert w.table[b"c1"] == c1, "on the wall clock, events do not tick anyone"

        await w.handler.sweep_wall()  # 2024's checkpoints are due by the wall clock
        ticks = w.on("ticks")
        assert (b"c1", encode_tick(check)) in ticks
        await w.feed("ticks", raw=encode_tick(check), key=b"c1")
        assert w.table[b"c1"] != c1 and w.count("applied") == 9
        await w.feed("ticks", raw=encode_tick(check), key=b"c1")  # the same tick again: rescheduled since
        assert w.count("stale_tick") == 1 and w.count("dead_lettered") == 0
    scratch_redis.run(body)


def test_on_the_wall_clock_no_watermark_heads_are_stored(scratch_redis):
    """Checkpoints follow the wall clock there: the heads would be a changelog write per batch for nothing."""
    async def body(redis):
        w = world(redis, scratch_redis.prefix, clock="wall")
        await w.feed("orders", order("c1", 0, T0))
        assert list(w.table) == [b"c1"]
    scratch_redis.run(body)

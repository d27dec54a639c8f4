"""Customers who go silent, and customers who ask to be forgotten, through the real
broker and Redis with real worker processes.

- Silence: a regular customer who simply stops ordering is alerted by the sweep alone
  (trigger ``silence``) at one of their own silence checkpoints, with no event of theirs
  after the last order: on the event clock (the watermark moved by other customers of
  the same partition) and on the wall clock (checkpoints already due, no further event).
- Erasure: after an erasure request nothing of the customer is left in Redis (keys or
  values), the table's changelog ends in an erasure marker (the customer's input positions,
  nothing else), a confirmation arrives, and after a worker restart (table recovered from
  the changelog) the customer's next event scores exactly like a brand-new customer's.
- Erasure and a crash: a worker killed after the erasure, with the erasure request's
  offset committed and not those of the customer's earlier events, has its successor read
  those events again: they are duplicates, the customer is not made anew, and no alert of
  theirs is sent again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import InconsistentGroupProtocolError

from alerts.policy import AlertState
from cli.procs import WorkerProcess
from engine.backtest import run_backtest
from engine.compose import processor_from
from engine.record import CustomerRecord
from models.prior import RulePrior
from models.scorer import Scorer
from models.silence import silence_schedule
from models.state import apply_event
from schemas.events import AppActivityEvent, ErasureRequest, OrderEvent, ProfileUpdate, SupportEvent
from services.embedded import free_port
from streams.sweep import partition_of
from tests.integration.kafka import Feed, collect, outcome_counts, publish, run, wait_for

pytestmark = pytest.mark.integration
START = datetime(2024, 1, 1, tzinfo=UTC)


def ids_in(partition: int, prefix: str, n: int, partitions: int) -> list[str]:
    """``n`` customer ids that Kafka's default partitioner puts in ``partition``."""
    out, i = [], 0
    while len(out) < n:
        cid = f"{prefix}-{i}"
        if partition_of(cid.encode(), partitions) == partition:
            out.append(cid)
        i += 1
    return out


def order(cid: str, k: int, t: datetime, amount: float = 40.0) -> OrderEvent:
    return OrderEvent(event_id=f"{cid}-o{k}", customer_id=cid, occurred_at=t, event_type="order", order_id=f"{cid}-{k}",
                      status="placed", amount=amount, currency="EUR", items=2, channel="web")


def session(cid: str, k: int, t: datetime) -> AppActivityEvent:
    return AppActivityEvent(event_id=f"{cid}-a{k}", customer_id=cid, occurred_at=t, event_type="app_activity",
                            activity="session", duration_s=300, platform="ios")


def profile(cid: str, t: datetime) -> ProfileUpdate:
    return ProfileUpdate(event_id=f"{cid}-p", customer_id=cid, occurred_at=t, event_type="profile",
                         marketing_consent=True, owner="anna.k")


def regular(cid: str, start: datetime, every_days: float, n: int) -> list:
    """A regular customer: profile, then ``n`` orders ``every_days`` apart (and nothing else)."""
    return [profile(cid, start)] + [order(cid, k, start + timedelta(days=every_days * k, hours=k % 5)) for k in range(n)]


def steady(cid: str, until: datetime, offset_h: int) -> list:
    """Orders every 3 days and a session after each, up to ``until``: keeps the watermark moving."""
    out, t, k = [profile(cid, START)], START + timedelta(hours=offset_h), 0
    while t < until:
        out += [order(cid, k, t, 25.0), session(cid, k, t + timedelta(hours=1))]
        t, k = t + timedelta(days=3), k + 1
    return out


def alerts_of(records: list, cid: str) -> list[dict]:
    return [a for _, key, a in records if key == cid and a.get("customer_id") == cid]


def has_silence_alert(cid: str):
    return lambda rs: any(a["trigger"] == "silence" for a in alerts_of(rs, cid))


# ---------------------------------------------------------------------------- silence
def test_customer_who_stops_ordering_is_alerted_by_the_event_clock_sweep(run_settings):
    s = run_settings.with_updates(**{"min_labels": 10**9})  # the rule prior scores throughout
    quiet = ids_in(0, "quiet", 1, s.partitions)[0]
    others = ids_in(0, "steady", 6, s.partitions)
    end = START + timedelta(days=100)
    mine = regular(quiet, START, 7, 8)  # weekly for 7 weeks, then nothing
    events = sorted(mine + [e for i, c in enumerate(others) for e in steady(c, end, 5 * i)], key=lambda e: e.occurred_at)
    last = max(e.occurred_at for e in mine)
    assert last == mine[-1].occurred_at and isinstance(mine[-1], OrderEvent), "no event of theirs after the last order"
    state = None
    for ev in mine:
        state = apply_event(state, ev)
    checkpoints = {t.timestamp() for t in silence_schedule(state)}
    # In process: the quiet customer is alerted, nobody else is (the premise of the test).
    expected = run_backtest(events, as_of=end + timedelta(seconds=1), settings=s)
    assert {cid for cid, _ in expected.alerts} == {quiet}

    with WorkerProcess(s) as worker:
        run(publish(s, events))
        got = run(collect(s, ["alerts"], has_silence_alert(quiet), deadline_s=60, workers=[worker]))
    alerts = alerts_of(got, quiet)
    first = min(alerts, key=lambda a: a["occurred_at"])
    assert first["trigger"] == "silence" and first["previous_tier"] == "none", alerts
    assert first["tier"] in ("watch", "high", "critical") and first["model_version"] == "rules-1"
    at = datetime.fromisoformat(first["occurred_at"])
    assert at > last and at.timestamp() in checkpoints, f"alerted at {at}, not at a checkpoint after {last}"
    assert any(r["feature"] in ("order_overdue_ratio", "days_since_last_order", "days_since_last_activity")
               for r in first["reasons"]), first["reasons"]
    assert not {a["customer_id"] for _, _, a in got} - {quiet}, "customers who keep ordering are not alerted"


def test_customer_already_silent_is_alerted_by_the_wall_clock_sweep(run_settings):
    s = run_settings.with_updates(**{"min_labels": 10**9, "clock": "wall", "sweep_interval_s": 0.25})
    quiet = "quiet-wall"
    now = datetime.now(UTC).replace(microsecond=0)
    mine = regular(quiet, now - timedelta(days=35 + 7 * 7), 7, 8)  # last order ~35 days ago
    last = mine[-1].occurred_at
    state = None
    for ev in mine:
        state = apply_event(state, ev)
    checkpoints = {t.timestamp() for t in silence_schedule(state)}

    with WorkerProcess(s) as worker:
        run(publish(s, mine))  # and nothing after: only the sweep can find them
        got = run(collect(s, ["alerts"], has_silence_alert(quiet), deadline_s=45, workers=[worker]))
    alerts = alerts_of(got, quiet)
    assert alerts and all(a["trigger"] == "silence" for a in alerts), alerts
    at = datetime.fromisoformat(min(alerts, key=lambda a: a["occurred_at"])["occurred_at"])
    assert last < at <= datetime.now(UTC) and at.timestamp() in checkpoints


# ---------------------------------------------------------------------------- erasure
def at_risk(cid: str) -> list:
    """Weekly orders, then three complaints, then silence: alerts and offers follow."""
    out = regular(cid, START, 7, 6)
    out += [session(cid, k, START + timedelta(days=7 * k, hours=6)) for k in range(6)]
    out += [SupportEvent(event_id=f"{cid}-s{j}", customer_id=cid, occurred_at=START + timedelta(days=36 + 2 * j),
                         event_type="support", ticket_id=f"{cid}-t{j}", action="opened", category="delivery",
                         priority="high", is_complaint=True, csat=1, sentiment=-0.8) for j in range(3)]
    return out


def redis_mentions(r: redis.Redis, prefix: str, needle: str) -> list[str]:
    """Every key under ``prefix`` whose name or content mentions ``needle``."""
    b, hits = needle.encode(), []
    for key in r.scan_iter(match=f"{prefix}:*", count=1000):
        kind = r.type(key).decode()
        if kind == "string":
            parts = [r.get(key) or b""]
        elif kind == "hash":
            parts = [x for kv in r.hgetall(key).items() for x in kv]
        elif kind == "set":
            parts = list(r.smembers(key))
        elif kind == "zset":
            parts = [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        elif kind == "list":
            parts = r.lrange(key, 0, -1)
        else:
            parts = [repr(r.dump(key)).encode()]
        if b in key or any(b in p for p in parts):
            hits.append(key.decode())
    return sorted(hits)


def is_marker(value: bytes | None) -> bool:
    return value is not None and CustomerRecord.peek_erased(value)


async def changelog_last(s, key: str, done=is_marker, deadline_s: float = 20.0) -> tuple[bool, bytes | None]:  # noqa: ANN001
    """(seen, value) of the last changelog record of ``key`` (None: a tombstone), read until
    the consumer has caught up with the topic and ``done(value)`` (an erasure marker), or the deadline."""
    topic = f"{s.app_id}-customers-changelog"
    cons = AIOKafkaConsumer(bootstrap_servers=s.bootstrap_servers, group_id=None, enable_auto_commit=False)
    await cons.start()
    seen, value, end = False, None, time.monotonic() + deadline_s
    try:
        await cons.topics()  # fetches the cluster's metadata, so the changelog's partitions are known
        parts = [TopicPartition(topic, p) for p in sorted(cons.partitions_for_topic(topic) or ())]
        assert parts, f"no changelog topic {topic}"
        cons.assign(parts)
        await cons.seek_to_beginning(*parts)
        while time.monotonic() < end:
            batch = await cons.getmany(*parts, timeout_ms=200, max_records=5000)
            for recs in batch.values():
                for rec in recs:
                    if rec.key == key.encode():
                        seen, value = True, rec.value
            highwater = await cons.end_offsets(parts)
            caught_up = all([await cons.position(tp) >= highwater[tp] for tp in parts])
            if caught_up and seen and done(value):
                break
    finally:
        await cons.stop()
    return seen, value


def wait_for_score(r: redis.Redis, key: str, worker: WorkerProcess, deadline_s: float = 30.0, at: float | None = None) -> dict:
    got: dict = {}

    def scored() -> bool:
        got.update(r.hgetall(key))
        return bool(got) and (at is None or int(got[b"at"]) == int(at))

    wait_for(scored, f"a score at {key}" + (f" for event time {at}" if at is not None else ""), [worker], deadline_s, every=0.2)
    return {k.decode(): v.decode() for k, v in got.items()}


def test_erased_customer_leaves_nothing_and_starts_from_nothing(run_settings):
    s = run_settings.with_updates(**{"min_labels": 10**9, "control_share": 0.0})
    gone = "erase-me-9f3k"
    kept = ids_in(partition_of(gone.encode(), s.partitions), "kept-at-risk", 1, s.partitions)[0]
    fillers = ids_in(0, "fill", 3, s.partitions) + ids_in(1, "fill", 3, s.partitions)
    end = START + timedelta(days=90)
    history = at_risk(gone) + at_risk(kept) + [e for i, c in enumerate(fillers) for e in steady(c, end, 7 * i)]
    history.sort(key=lambda e: e.occurred_at)
    later = order(gone, 500, end + timedelta(days=2, seconds=7), amount=55.0)

    # In process: the next event of a forgotten customer scores like a new customer's only,
    # which is not what the same event scores on top of their history (so the test can fail).
    scorer = Scorer(RulePrior(), min_labels=10**9)
    fresh = processor_from(s, scorer).on_event(CustomerRecord(), later, later.occurred_at)
    with_history = run_backtest(history + [later], as_of=later.occurred_at + timedelta(seconds=1), settings=s)
    assert f"{with_history.scores[gone][0]:.4f}" != f"{fresh.score:.4f}"

    r = redis.Redis.from_url(s.redis_url)
    with WorkerProcess(s, name="before-erasure") as worker:
        run(publish(s, history))

        def alerted_and_offered(rs: list) -> bool:
            by = {(t, k) for t, k, _ in rs}
            return all((s.topic(t), c) in by for t in ("alerts", "offers") for c in (gone, kept))

        run(collect(s, ["alerts", "offers"], alerted_and_offered, deadline_s=60, workers=[worker]))
        wait_for_score(r, f"{s.redis_prefix}:cust:{gone}:score", worker)
        before = redis_mentions(r, s.redis_prefix, gone)
        assert f"{s.redis_prefix}:cust:{gone}:score" in before and f"{s.redis_prefix}:cust:{gone}:offers" in before, before

        run(publish(s, [ErasureRequest(event_id="er-1", customer_id=gone, occurred_at=end, event_type="erasure_request",
                                       requested_by="dpo-ticket-118")]))
        done = run(collect(s, ["erasure_done"], lambda rs: any(k == gone for _, k, _ in rs), deadline_s=30, workers=[worker]))
        confirmation = next(v for _, k, v in done if k == gone)
        # A barrier: a later event of another customer, scored and flushed after the erasure,
        # so a write-behind flush still holding the erased customer's score would show now.
        barrier = order(fillers[0], 900, end + timedelta(days=1))
        run(publish(s, [barrier]))
        wait_for_score(r, f"{s.redis_prefix}:cust:{fillers[0]}:score", worker, at=barrier.occurred_at.timestamp())
        left = redis_mentions(r, s.redis_prefix, gone)
        kept_keys = redis_mentions(r, s.redis_prefix, kept)
    assert confirmation["customer_id"] == gone and confirmation["request_event_id"] == "er-1"
    assert {"state", "redis:score", "redis:offers"} <= set(confirmation["removed"]), confirmation
    assert left == [], f"still in Redis after erasure: {left}"
    assert f"{s.redis_prefix}:cust:{kept}:score" in kept_keys, "only the erased customer is forgotten"
    seen, value = run(changelog_last(s, gone))
    assert seen and is_marker(value), "the table's changelog ends in an erasure marker for the erased customer"
    marker = CustomerRecord.decode(value)
    assert marker.state is None and marker.pending is None and marker.tracking is None and marker.alert == AlertState()
    assert marker.positions and gone.encode() not in value, "the customer's input positions, nothing of theirs"

    # A new worker recovers the table from the changelog: the customer must stay forgotten.
    with WorkerProcess(s, name="after-erasure") as worker:
        run(publish(s, [later]))
        got = wait_for_score(r, f"{s.redis_prefix}:cust:{gone}:score", worker, at=later.occurred_at.timestamp())
        kept_score = r.hgetall(f"{s.redis_prefix}:cust:{kept}:score")
        left = redis_mentions(r, s.redis_prefix, gone)
    r.close()
    assert got["score"] == f"{fresh.score:.4f}", f"scored {got['score']}, a new customer scores {fresh.score:.4f}"
    assert got["tier"] == fresh.record.alert.tier
    assert left == [f"{s.redis_prefix}:cust:{gone}:score"], left
    assert kept_score, "the other customer's score survived the restart"


class AsFaust(RoundRobinPartitionAssignor):
    """Joins a group under the workers' assignment protocol's name (the broker keeps the group's
    protocol): the only member, it assigns itself everything it subscribes to."""

    name = "faust"


async def commit_for_group(s, offsets: dict[TopicPartition, int], deadline_s: float = 60.0) -> None:  # noqa: ANN001
    """Commit ``offsets`` for the workers' group, as a member of it (the broker refuses commits
    from outside a group), once the killed worker's session has ended (until then the group
    refuses a member of another protocol)."""
    end = time.monotonic() + deadline_s
    while True:
        cons = AIOKafkaConsumer(*{tp.topic for tp in offsets}, bootstrap_servers=s.bootstrap_servers, group_id=s.app_id,
                                enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=1000,
                                partition_assignment_strategy=(AsFaust,))
        try:
            await cons.start()
            while not set(offsets) <= cons.assignment():
                assert time.monotonic() < end, f"not assigned {sorted(offsets)} within {deadline_s}s: {cons.assignment()}"
                await cons.getmany(timeout_ms=200, max_records=1)  # polls: joins the group
            await cons.commit(offsets)
            assert all([await cons.committed(tp) == n for tp, n in offsets.items()])
            return
        except InconsistentGroupProtocolError:
            assert time.monotonic() < end, f"the killed worker still in the group after {deadline_s}s"
        finally:
            await cons.stop()
        await asyncio.sleep(0.5)  # polling with a deadline


def test_an_erased_customer_read_again_after_a_kill_is_not_made_anew_nor_alerted_again(run_settings, monkeypatch):
    port = free_port()
    s = run_settings.with_updates(**{"min_labels": 10**9, "control_share": 0.0, "metrics_port": port})
    gone = "erase-then-crash-7q"
    fillers = ids_in(partition_of(gone.encode(), s.partitions), "fill", 2, s.partitions) + ids_in(
        1 - partition_of(gone.encode(), s.partitions), "fill", 2, s.partitions)
    end = START + timedelta(days=90)
    history = at_risk(gone) + [e for i, c in enumerate(fillers) for e in steady(c, end, 7 * i)]
    history.sort(key=lambda e: e.occurred_at)
    request = ErasureRequest(event_id="er-crash", customer_id=gone, occurred_at=end, event_type="erasure_request")
    # The premise: the customer's events alert them, so their state made anew would alert them again
    # (the erasure forgot the alert and offer claims).
    assert gone in {cid for cid, _ in run_backtest(history, as_of=end, settings=s).alerts}

    feed = Feed(s)
    r = redis.Redis.from_url(s.redis_url)
    monkeypatch.setenv("BROKER_COMMIT_INTERVAL", "3600")  # read by Faust at start-up: no commit while the test runs
    first = WorkerProcess(s, name="erase-before-kill").start()
    try:
        feed(history)
        wait_for(lambda: sum(outcome_counts(port).values()) >= len(history), "the history counted", [first], 90, every=0.2)
        feed([request])
        run(collect(s, ["erasure_done"], lambda rs: any(k == gone for _, k, _ in rs), deadline_s=30, workers=[first]))
        seen, value = run(changelog_last(s, gone))
        assert seen and is_marker(value), "the erasure marker is on the changelog before the kill"
        alerts_before, offers_before = feed.outputs()
        lags = run(feed._lags())  # noqa: SLF001 - the group's committed offsets, as Feed.drained reads them
        assert lags == dict(feed.sent), f"the first worker committed offsets, nothing would be read again: {lags}"
    finally:
        first.kill()
    assert first.proc.returncode == -9
    assert any(a["customer_id"] == gone for a in alerts_before), "alerted before the erasure"
    # The erasure request's offset committed, not those of the customer's earlier events.
    erasure_tp = TopicPartition(s.topic("erasure"), partition_of(gone.encode(), s.partitions))
    run(commit_for_group(s, {erasure_tp: feed.sent[erasure_tp]}))

    monkeypatch.delenv("BROKER_COMMIT_INTERVAL")
    with WorkerProcess(s, name="erase-after-kill") as second:
        wait_for(lambda: sum(outcome_counts(port).values()) >= len(history), "the history read again", [second], 90,
                 every=0.2)
        feed.drained([second])  # committed: every alert and offer the replay made is on the broker
        counts = outcome_counts(port)
        alerts_after, offers_after = feed.outputs()
        seen, value = run(changelog_last(s, gone))
        left = redis_mentions(r, s.redis_prefix, gone)
    r.close()
    assert counts.get("duplicate", 0) >= len(history) and not counts.get("applied") and not counts.get("erased"), counts
    assert seen and is_marker(value), "the customer was not made anew: the changelog still ends in their marker"
    assert left == [], f"in Redis again after the replay: {left}"
    assert [a for a in alerts_after if a["customer_id"] == gone] == [a for a in alerts_before if a["customer_id"] == gone]
    assert [o for o in offers_after if o["customer_id"] == gone] == [o for o in offers_before if o["customer_id"] == gone]

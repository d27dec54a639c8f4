"""Nothing lost, nothing stops a worker: every message is applied, dead-lettered or a duplicate."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from cli.procs import WorkerProcess
from schemas.badmessages import KINDS, bad_messages
from schemas.catalogue import TOPIC_OF_TYPE
from schemas.codec import encode
from schemas.deadletter import decode_raw
from schemas.events import AppActivityEvent, OrderEvent, SupportEvent
from services.embedded import free_port
from tests.integration.kafka import collect, outcome_counts, publish, run, wait_for

pytestmark = pytest.mark.integration
TOTAL, BAD_SHARE, DUP_SHARE = 10_000, 0.20, 0.05


def valid_events(n: int, now: datetime, rng: random.Random) -> list:
    out = []
    for i in range(n):
        cid, t = f"c{rng.randrange(500):03d}", now - timedelta(days=30) + timedelta(seconds=i * 200)
        if i % 2:
            out.append(OrderEvent(event_id=f"e{i}", customer_id=cid, occurred_at=t, event_type="order", order_id=f"o{i}",
                                  status="placed", amount=round(rng.uniform(5, 200), 2), currency="EUR", items=1, channel="app"))
        else:
            out.append(AppActivityEvent(event_id=f"e{i}", customer_id=cid, occurred_at=t, event_type="app_activity",
                                        activity="session", duration_s=rng.uniform(10, 900), platform="android"))
    return out


def topic_for(value: bytes, s, rng: random.Random) -> str:
    """The topic of the message's own event_type where it has one (else any input topic)."""
    try:
        kind = json.loads(value).get("event_type")
    except (ValueError, AttributeError, UnicodeDecodeError):
        kind = None
    name = TOPIC_OF_TYPE.get(kind) if isinstance(kind, str) else None
    return s.topic(name) if name in ("orders", "support", "activity") else rng.choice(
        [s.topic("orders"), s.topic("support"), s.topic("activity")])


def test_every_message_is_accounted_for_exactly(run_settings):
    port = free_port()
    s = run_settings.with_updates(**{"metrics_port": port, "min_labels": 10**9, "max_message_bytes": 65_536,
                                        "dead_letter_raw_bytes": 4096})
    rng, now = random.Random(11), datetime.now(UTC)
    n_bad, n_dup = int(TOTAL * BAD_SHARE), int(TOTAL * DUP_SHARE)
    good = valid_events(TOTAL - n_bad - n_dup, now, rng)
    dups = rng.sample(good, n_dup)
    bad = bad_messages(rng, n_bad, [f"c{i:03d}" for i in range(500)], now, max_bytes=s.max_message_bytes)
    assert len(set(code for _, code in bad)) >= 10
    topics = [s.topic("orders"), s.topic("support"), s.topic("activity")]
    raw = [(topic_for(value, s, rng), f"c{rng.randrange(500):03d}".encode(), value) for value, _ in bad]
    with WorkerProcess(s) as worker:
        run(publish(s, good + dups, raw=raw))
        counts: dict[str, float] = {}

        def accounted() -> bool:  # the worker's own metrics
            counts.clear()
            counts.update(outcome_counts(port))
            return sum(counts.get(k, 0) for k in ("applied", "dead_lettered", "duplicate")) >= TOTAL

        wait_for(accounted, "every message applied, dead-lettered or a duplicate", [worker], 120, every=0.25)
        letters = run(collect(s, ["dead_letter"], lambda rs: len(rs) >= n_bad, deadline_s=60))
        # still consuming afterwards
        run(publish(s, valid_events(1, now + timedelta(seconds=1), random.Random(99))))
        wait_for(lambda: outcome_counts(port).get("applied", 0) >= counts["applied"] + 1,
                 "the worker still consuming after the bad messages", [worker], 30, every=0.25)
    assert counts["applied"] + counts["dead_lettered"] + counts["duplicate"] == TOTAL
    assert counts["dead_lettered"] == n_bad and counts["duplicate"] == n_dup
    assert counts["applied"] == TOTAL - n_bad - n_dup
    got = Counter(v["reason_code"] for _, _, v in letters)
    assert got == Counter(code for _, code in bad), "each bad message is dead-lettered with its own reason"
    assert all(v["reason"] and v["source_topic"] in topics and v["offset"] >= 0 for _, _, v in letters)
    originals = {value for value, _ in bad}
    for _, _, v in letters:  # the raw bytes are kept, capped, with the original size
        kept = decode_raw(json.dumps(v))
        if v["raw_truncated"]:
            assert len(kept) == s.dead_letter_raw_bytes < v["raw_size"]
        else:
            assert kept in originals and len(kept) == v["raw_size"]
    assert set(KINDS) <= set(got), "every kind of bad message was exercised"


def test_an_event_on_another_types_topic_is_dead_lettered_with_the_topic_it_belongs_on(run_settings):
    """The catalogue's rule, through the broker: one event type per input topic."""
    port = free_port()
    s = run_settings.with_updates(**{"metrics_port": port, "min_labels": 10**9})
    now = datetime.now(UTC) - timedelta(hours=1)
    order = OrderEvent(event_id="o1", customer_id="c1", occurred_at=now, event_type="order", order_id="o1",
                       status="placed", amount=20, currency="EUR", items=1, channel="web")
    support = SupportEvent(event_id="s1", customer_id="c2", occurred_at=now, event_type="support", ticket_id="t1",
                           action="opened", category="delivery", priority="low", is_complaint=False)
    misrouted = [(s.topic("activity"), b"c1", encode(order)), (s.topic("orders"), b"c2", encode(support))]
    with WorkerProcess(s) as worker:
        run(publish(s, [order.model_copy(update={"event_id": "o2"})], raw=misrouted))
        letters = run(collect(s, ["dead_letter"], lambda rs: len(rs) >= 2, deadline_s=60, workers=[worker]))
        wait_for(lambda: outcome_counts(port).get("applied", 0) >= 1, "the well-routed order applied", [worker], 30)
    by_source = {v["source_topic"]: v for _, _, v in letters}
    assert set(by_source) == {s.topic("activity"), s.topic("orders")} and len(letters) == 2
    assert all(v["reason_code"] == "wrong_topic" for v in by_source.values())
    assert "belong on orders" in by_source[s.topic("activity")]["reason"]
    assert "belong on support-tickets" in by_source[s.topic("orders")]["reason"]

"""A customer flooding far more events than the event-id window before a SIGKILL has each
applied once after the restart.

Through the real broker and Redis with real worker processes. The first worker runs with a
commit interval of an hour (Faust's ``BROKER_COMMIT_INTERVAL``), so it commits no input
offset: its table's changelog holds every customer's state, and the group's committed offsets
none of it. It is killed (SIGKILL) then, and its successor reads every input message again
from the start. The event ids cover only the last ``SEEN_IDS`` of each customer; the input
positions in each record (partition, offset, timestamp per topic) cover the rest. The
recovered and continued state must equal the fold of the events applied once.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from cli.procs import WorkerProcess
from models.state import SEEN_IDS, CustomerState, apply_event
from schemas.events import AppActivityEvent, OrderEvent
from services.embedded import free_port
from tests.integration.kafka import Feed, changelog_until, outcome_counts, run, wait_for

pytestmark = pytest.mark.integration
START = datetime(2024, 3, 1, tzinfo=UTC)
FLOOD = "flooder"
CALM = [f"calm{i}" for i in range(3)]


def order(cid: str, k: int, t: datetime) -> OrderEvent:
    return OrderEvent(event_id=f"{cid}-o{k}", customer_id=cid, occurred_at=t, event_type="order", order_id=f"{cid}-{k}",
                      status="placed", amount=10.0 + k % 7, currency="EUR", items=1 + k % 3, channel="web")


def session(cid: str, k: int, t: datetime) -> AppActivityEvent:
    return AppActivityEvent(event_id=f"{cid}-a{k}", customer_id=cid, occurred_at=t, event_type="app_activity",
                            activity="session", duration_s=60.0 + k, platform="ios")


def events_of(cid: str, n: int) -> list:
    """``n`` events, orders and app sessions alternating, an hour apart."""
    return [(order if k % 2 == 0 else session)(cid, k, START + timedelta(hours=k)) for k in range(n)]


def fold(events) -> CustomerState:
    state = None
    for ev in events:
        state = apply_event(state, ev)
    return state


def comparable(state: CustomerState | None) -> dict | None:
    """The state as JSON without the remembered event ids: which ids are the last ``SEEN_IDS``
    follows the interleaving of the two topics, which Kafka does not fix."""
    return None if state is None else dataclasses.replace(state, seen_ids=[]).to_json()


def test_a_flood_read_again_after_a_kill_before_the_commit_is_applied_once(run_settings, monkeypatch):
    port = free_port()
    s = run_settings.with_updates(metrics_port=port, min_labels=10**9)
    histories = {FLOOD: events_of(FLOOD, 200)} | {c: events_of(c, 6) for c in CALM}
    assert len(histories[FLOOD]) > 6 * SEEN_IDS, "far beyond the event-id window"
    expected = {c: fold(h) for c, h in histories.items()}
    # The premise of comparing states: the result does not depend on how the two topics interleave.
    by_topic = sorted(histories[FLOOD], key=lambda e: (e.event_type, e.occurred_at))
    assert comparable(fold(by_topic)) == comparable(expected[FLOOD])
    # What the replay would do without the guard: the events before the last SEEN_IDS applied twice.
    twice = fold(histories[FLOOD] + histories[FLOOD][:-SEEN_IDS])
    assert twice.n_orders > expected[FLOOD].n_orders

    feed = Feed(s)
    monkeypatch.setenv("BROKER_COMMIT_INTERVAL", "3600")  # read by Faust at start-up: no commit while the test runs
    first = WorkerProcess(s, name="flood-before-kill").start()
    try:
        feed([e for h in histories.values() for e in h])
        n_events = sum(len(h) for h in histories.values())
        # (the changelog is read once the worker made it: a consumer first would have the broker create it)
        wait_for(lambda: sum(outcome_counts(port).values()) >= n_events, "every message counted", [first], 90, every=0.2)
        run(changelog_until(s, lambda latest: all(c in latest and comparable(latest[c].state) == comparable(want)
                                                  for c, want in expected.items()), 90, first))
        lags = run(feed._lags())  # noqa: SLF001 - the group's committed offsets, as Feed.drained reads them
        assert lags == dict(feed.sent), f"the first worker committed offsets, nothing would be read again: {lags}"
    finally:
        first.kill()
    assert first.proc.returncode == -9

    monkeypatch.delenv("BROKER_COMMIT_INTERVAL")
    markers = [order(FLOOD, 1000, START + timedelta(days=20)), session(FLOOD, 1001, START + timedelta(days=20, hours=1))]
    want = comparable(fold(histories[FLOOD] + markers))
    n_read_again = n_events
    with WorkerProcess(s, name="flood-after-kill") as second:
        feed(markers)  # after the replayed messages on their topics: once applied, the replay is done
        latest = run(changelog_until(s, lambda latest: FLOOD in latest and latest[FLOOD].state is not None and all(
            latest[FLOOD].state.seen(m.event_id) for m in markers), 120, second))
        wait_for(lambda: sum(outcome_counts(port).values()) >= n_read_again + len(markers), "every message counted",
                 [second], 30, every=0.2)
        counts = outcome_counts(port)
        feed.drained([second])  # the successor commits as usual

    got = comparable(latest[FLOOD].state)
    assert got == want, {k: (got[k], want[k]) for k in want if got.get(k) != want[k]}
    assert latest[FLOOD].state.n_orders == expected[FLOOD].n_orders + 1
    assert all(comparable(latest[c].state) == comparable(expected[c]) for c in CALM)
    # every message read again is a duplicate (at least once: one fetched twice around the start-up seek is too)
    assert counts.get("duplicate", 0) >= n_read_again and counts.get("applied") == len(markers), counts
    assert counts.get("dead_lettered", 0) == 0

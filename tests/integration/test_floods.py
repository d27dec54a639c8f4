"""Poison and floods: a burst of 10,000 malformed messages and one customer sending ten
times the normal rate neither stop the worker nor starve the other customers. Probe
customers, whose next event makes a risk alert at once, are sent right behind the burst;
every malformed message is dead-lettered, every valid one applied, and the probes' alerts
arrive no later than the burst is worked off (plus a little): a partition's order puts
them behind the burst, nothing may put them further back.

On the wall clock, as in production. The latency of the same probes with no burst is
measured first, in the same run, and printed beside it with the burst's drain time.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer

from cli.procs import WorkerProcess
from schemas.badmessages import bad_messages
from schemas.events import AppActivityEvent, OrderEvent, SupportEvent
from services.embedded import free_port
from streams.publish import ensure_topics, producer
from streams.sweep import partition_of
from tests.integration.kafka import outcome_counts, publish, run, wait_for

pytestmark = pytest.mark.integration
N_BAD, N_HOT, N_PROBES = 10_000, 2_000, 20
SLACK_S = 5.0  # a probe's alert may come this much after the burst is worked off


def warm(cid: str, now: datetime) -> list:
    """An order and two angry complaints: the next bad sign makes a risk alert."""
    out = [OrderEvent(event_id=f"{cid}-o", customer_id=cid, occurred_at=now - timedelta(minutes=5), event_type="order",
                      order_id="o", status="placed", amount=50, currency="EUR", items=1, channel="web")]
    out += [SupportEvent(event_id=f"{cid}-s{j}", customer_id=cid, occurred_at=now + timedelta(milliseconds=j),
                         event_type="support", ticket_id=f"t{j}", action="opened", category="delivery", priority="urgent",
                         is_complaint=True, sentiment=-0.9) for j in range(2)]
    return out


def trigger(cid: str) -> AppActivityEvent:
    return AppActivityEvent(event_id=f"{cid}-u", customer_id=cid, occurred_at=datetime.now(UTC),
                            event_type="app_activity", activity="uninstall", platform="ios")


async def probe(s, cids: list[str], before=None, drained=lambda: True,  # noqa: ANN001
                alerted=lambda cid: None) -> tuple[dict[str, float], float]:  # noqa: ANN001
    """Publish each probe's trigger (after ``before`` messages, if given); return the seconds from
    each one's publication to its alert on churn-alerts, and from the first publication until
    ``drained()`` held. ``alerted(cid)`` is called as each probe's alert is read."""
    cons = AIOKafkaConsumer(s.topic("alerts"), bootstrap_servers=s.bootstrap_servers, auto_offset_reset="earliest",
                            group_id=None, fetch_max_wait_ms=20)  # the embedded broker holds a fetch this long
    await cons.start()
    prod = producer(s)
    await prod.start()
    sent, got, drained_after = {}, {}, None
    t0 = time.monotonic()
    try:
        if before:
            for topic, key, value in before:
                await prod.send(topic, value, key=key)
        for cid in cids:
            ev = trigger(cid)
            await prod.send(s.topic("activity"), ev.model_dump_json().encode(), key=cid.encode())
            sent[cid] = time.monotonic()
        await prod.flush()
        end = time.monotonic() + 120
        while (len(got) < len(cids) or drained_after is None) and time.monotonic() < end:
            if drained_after is None and drained():
                drained_after = time.monotonic() - t0
            for recs in (await cons.getmany(timeout_ms=200)).values():
                for r in recs:
                    cid = r.key.decode()
                    if cid in sent and cid not in got:
                        got[cid] = time.monotonic() - sent[cid]
                        alerted(cid)
    finally:
        await prod.stop()
        await cons.stop()
    return got, drained_after if drained_after is not None else float("inf")


def p99(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(len(xs) * 0.99) - 1)] if xs else float("nan")


def test_malformed_bursts_and_a_flooding_customer_do_not_starve_the_others(run_settings):
    port = free_port()
    s = run_settings.with_updates(clock="wall", metrics_port=port, min_labels=10**9)
    now = datetime.now(UTC)
    quiet = [f"quiet-{i}" for i in range(N_PROBES)]
    loud = [f"loud-{i}" for i in range(N_PROBES)]
    rng = random.Random(5)
    bad = bad_messages(rng, N_BAD, [f"x{i}" for i in range(300)], now, max_bytes=s.max_message_bytes)
    hot = [AppActivityEvent(event_id=f"hot-{k}", customer_id="hot", occurred_at=now + timedelta(milliseconds=k),
                            event_type="app_activity", activity="session", duration_s=30, platform="web")
           for k in range(N_HOT)]
    topics = [s.topic("orders"), s.topic("support"), s.topic("activity")]
    burst = [(rng.choice(topics), f"x{rng.randrange(300)}".encode(), value) for value, _ in bad]
    burst += [(s.topic("activity"), b"hot", e.model_dump_json().encode()) for e in hot]
    rng.shuffle(burst)
    run(ensure_topics(s))
    with WorkerProcess(s, "floods") as worker:
        run(publish(s, [e for c in quiet + loud for e in warm(c, now)]))
        wait_for(lambda: outcome_counts(port).get("applied", 0) >= 6 * N_PROBES, "probes warmed up", [worker], 60)
        baseline, _ = run(probe(s, quiet))
        flooded, drain_s = run(probe(s, loud, before=burst,
                                     drained=lambda: outcome_counts(port).get("dead_lettered", 0) >= N_BAD))
        counts = outcome_counts(port)
        assert worker.alive()
    print(f"probe alert latency, p50/p99 s: quiet {sorted(baseline.values())[len(baseline) // 2]:.3f}/"
          f"{p99(list(baseline.values())):.3f}; right behind {N_BAD:,} malformed + {N_HOT:,} from one customer "
          f"{sorted(flooded.values())[len(flooded) // 2]:.3f}/{p99(list(flooded.values())):.3f}, "
          f"the burst worked off in {drain_s:.1f} s")
    assert len(baseline) == N_PROBES and len(flooded) == N_PROBES, "a probe's alert never arrived"
    assert max(flooded.values()) <= drain_s + SLACK_S, "the probes waited longer than the burst ahead of them"
    assert counts["dead_lettered"] == N_BAD
    assert counts["applied"] >= 7 * N_PROBES + N_HOT, "the flooding customer's events and the probes are all applied"


def test_a_flood_on_one_partition_does_not_hold_the_other_partition_back(run_settings):
    """A worker reads all its partitions into one queue; taken first in, first out, whatever was read
    ahead on the flooded partition went first, and the other partition's probes waited for nearly
    the whole burst. Its queue takes the partitions in turn (``streams.faust_compat.PartitionTurns``):
    the other partition's probes are alerted while most of the burst is still to be worked off."""
    port = free_port()
    s = run_settings.with_updates(clock="wall", metrics_port=port, min_labels=10**9)
    now = datetime.now(UTC)
    rng = random.Random(7)
    bad = [value for value, _ in bad_messages(rng, N_BAD, ["x0"], now, max_bytes=s.max_message_bytes)
           if len(value) < 10_000]  # one broken producer's messages, on one key
    flooded = partition_of(b"x0", s.partitions)
    topics = [s.topic("orders"), s.topic("support"), s.topic("activity")]
    burst = [(rng.choice(topics), b"x0", value) for value in bad]
    names = (f"other-{i}" for i in range(10**4))
    other = [c for c in names if partition_of(c.encode(), s.partitions) != flooded][:N_PROBES // 2]
    run(ensure_topics(s))
    with WorkerProcess(s, "flood-one-partition") as worker:
        run(publish(s, [e for c in other for e in warm(c, now)]))
        wait_for(lambda: outcome_counts(port).get("applied", 0) >= 3 * len(other), "probes warmed up", [worker], 60)
        worked_off: list[float] = []  # malformed messages dead-lettered when each probe's alert was read
        got, drain_s = run(probe(s, other, before=burst, drained=lambda: outcome_counts(port).get("dead_lettered", 0) >= len(bad),
                                 alerted=lambda cid: worked_off.append(outcome_counts(port).get("dead_lettered", 0))))
        assert worker.alive()
    print(f"{len(bad):,} malformed on partition {flooded}: the other partition's probes alerted after "
          f"{sorted(got.values())[len(got) // 2]:.3f}/{max(got.values()):.3f} s (p50/max), with "
          f"{max(worked_off):,.0f} of the burst worked off; all of it in {drain_s:.1f} s")
    assert len(got) == len(other), "a probe's alert never arrived"
    assert max(worked_off) <= 0.6 * len(bad), "the other partition waited behind most of the flooded one's burst"

"""Floods: how long other customers' alerts take while a burst is worked off, against the latency
budget of the performance benchmark (p99 ≤ 250 ms event-to-alert at 1,000 events/s).

One worker on the wall clock (as in production), on the embedded or configured broker and Redis.
Probe customers on every partition are warmed up so that their next event makes a risk alert
at once. Each round publishes a burst, then each probe's trigger, and times every probe from the
broker's acknowledgement of its trigger (from when it is in the log) to its alert on
``churn-alerts``. The baseline, in the same run on the same worker: rounds with no burst.

The bursts (what #16 names):
- 10,000 malformed messages on one key (one broken producer): one partition is flooded;
- 10,000 malformed messages on 300 keys: every partition is;
- 1,000 messages over the size limit on one key: 256 MB for the broker and the fetcher to carry;
- one customer's 10,000 events at once, ten times the benchmark's offered load for a second.

A probe on a flooded partition waits for the messages ahead of it, since a partition's order
is the contract: the table shows it apart from the probes on the other partitions, with the
time the burst took to work off.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, like the other benches

from bench.broker import publish, scraped  # noqa: E402
from bench.latency import pct  # noqa: E402
from bench.throughput import machine, print_table  # noqa: E402
from bench.workload import as_messages  # noqa: E402
from cli.procs import WorkerProcess  # noqa: E402
from config.settings import Settings  # noqa: E402
from schemas.badmessages import bad_messages  # noqa: E402
from schemas.events import AppActivityEvent, OrderEvent, SupportEvent  # noqa: E402
from services.embedded import free_port  # noqa: E402
from services.resolve import services  # noqa: E402
from streams.publish import ensure_topics, producer  # noqa: E402
from streams.sweep import partition_of  # noqa: E402

BUDGET_S = 0.25  # the performance benchmark's p99 target
Raw = tuple[str, bytes, bytes]  # (full topic name, key, value)


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


async def probe(s: Settings, cids: list[str], before: list[Raw] | None = None, drained: Callable[[], bool] = lambda: True,
                alerted: Callable[[str], None] = lambda cid: None) -> tuple[dict[str, float], float]:
    """Publish ``before`` (a burst), then each probe's trigger; return the seconds from the broker's
    acknowledgement of each trigger to its alert on churn-alerts, and from the first publication
    until ``drained()`` held. ``alerted(cid)`` is called as each probe's alert is read."""
    cons = AIOKafkaConsumer(s.topic("alerts"), bootstrap_servers=s.bootstrap_servers, auto_offset_reset="earliest",
                            group_id=None, fetch_max_wait_ms=5)  # the embedded broker holds a fetch this long
    await cons.start()
    prod = producer(s)
    await prod.start()
    acked: dict[str, float] = {}
    got: dict[str, float] = {}
    drained_after = None
    t0 = time.monotonic()
    try:
        for topic, key, value in before or ():
            await prod.send(topic, value, key=key)
        for cid in cids:
            ev = trigger(cid)
            fut = await prod.send(s.topic("activity"), ev.model_dump_json().encode(), key=cid.encode())
            fut.add_done_callback(lambda _f, cid=cid: acked.__setitem__(cid, time.monotonic()))
        await prod.flush()
        end = time.monotonic() + 120
        while (len(got) < len(cids) or drained_after is None) and time.monotonic() < end:
            if drained_after is None and drained():
                drained_after = time.monotonic() - t0
            for recs in (await cons.getmany(timeout_ms=200)).values():
                for r in recs:
                    cid = r.key.decode()
                    if cid in acked and cid not in got:
                        got[cid] = time.monotonic() - acked[cid]
                        alerted(cid)
    finally:
        await prod.stop()
        await cons.stop()
    return got, drained_after if drained_after is not None else float("inf")


def outcomes(port: int, outcome: str) -> float:
    """A worker's messages with this outcome so far, over its input topics."""
    return scraped(port, "churn_messages_total{", "churn_messages_total", contains=f'outcome="{outcome}"')


def malformed(s: Settings, rng: random.Random, n: int, keys: list[str], *, oversized: bool = True) -> list[Raw]:
    """``n`` malformed messages of every kind (``schemas.badmessages``) on the input topics, keyed
    by ``keys``; with ``oversized``, one kind in ten is a message over ``max_message_bytes``."""
    topics = [s.topic("orders"), s.topic("support"), s.topic("activity")]
    now = datetime.now(UTC)
    return [(rng.choice(topics), rng.choice(keys).encode(), value)
            for value, _ in bad_messages(rng, n, keys, now, max_bytes=s.max_message_bytes if oversized else None)]


def oversized(s: Settings, n: int, key: str) -> list[Raw]:
    """``n`` messages just over ``max_message_bytes`` (dead-lettered as too large)."""
    return [(s.topic("orders"), key.encode(), b"x" * (s.max_message_bytes + 1))] * n


def one_customer(s: Settings, n: int, cid: str) -> list[Raw]:
    now = datetime.now(UTC)
    return as_messages(s, [AppActivityEvent(event_id=f"{cid}-{k}", customer_id=cid, occurred_at=now + timedelta(milliseconds=k),
                                            event_type="app_activity", activity="session", duration_s=30, platform="web")
                           for k in range(n)])


def probes_per_partition(s: Settings, per_partition: int, tag: str) -> list[str]:
    """Probe customer ids, ``per_partition`` on each partition."""
    out: list[str] = []
    count = dict.fromkeys(range(s.partitions), 0)
    for i in range(10**6):
        cid = f"probe-{tag}-{i}"
        p = partition_of(cid.encode(), s.partitions)
        if count[p] < per_partition:
            count[p] += 1
            out.append(cid)
            if len(out) == per_partition * s.partitions:
                return out
    raise AssertionError("unreachable")


def run(live: Settings, *, burst: int, rounds: int, per_partition: int) -> list[tuple[str, str, str, str]]:
    port = free_port()
    tag = uuid.uuid4().hex[:6]
    s = live.with_updates(clock="wall", metrics_port=port, min_labels=10**9, topic_prefix=f"fl{tag}-",
                          app_id=f"bench-floods-{tag}", redis_prefix=f"bench-floods-{tag}")
    rng = random.Random(7)
    scenarios: list[tuple[str, Callable[[], list[Raw]], set[int], str]] = [
        ("no burst (baseline)", list, set(), "applied"),
        (f"{burst:,} malformed, one key", lambda: malformed(s, rng, burst, ["broken"], oversized=False),
         {partition_of(b"broken", s.partitions)}, "dead_lettered"),
        (f"{burst:,} malformed, 300 keys", lambda: malformed(s, rng, burst, [f"x{i}" for i in range(300)], oversized=False),
         set(range(s.partitions)), "dead_lettered"),
        (f"{burst // 10:,} oversized ({s.max_message_bytes // 1024} KiB), one key", lambda: oversized(s, burst // 10, "broken"),
         {partition_of(b"broken", s.partitions)}, "dead_lettered"),
        (f"one customer's {burst:,} events", lambda: one_customer(s, burst, f"hot-{tag}"),
         {partition_of(f"hot-{tag}".encode(), s.partitions)}, "applied"),
    ]
    groups = {name: [probes_per_partition(s, per_partition, f"{tag}-{k}-{r}") for r in range(rounds)]
              for k, (name, *_) in enumerate(scenarios)}
    asyncio.run(ensure_topics(s))
    rows = []
    with WorkerProcess(s, "bench-floods") as worker:
        everyone = [cid for rs in groups.values() for cids in rs for cid in cids]
        asyncio.run(publish(s, as_messages(s, [e for cid in everyone for e in warm(cid, datetime.now(UTC))])))
        deadline = time.monotonic() + 120
        while outcomes(port, "applied") < 3 * len(everyone):
            assert worker.alive() and time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.1)  # polling the worker's metrics with a deadline
        for name, make, flooded, outcome in scenarios:
            on, off, drains = [], [], []
            for cids in groups[name]:
                messages = make()
                before = outcomes(port, outcome)
                want = before + len(messages) + (len(cids) if outcome == "applied" else 0)  # the probes' triggers too
                got, drain_s = asyncio.run(probe(s, cids, before=messages,
                                                 drained=lambda want=want, outcome=outcome: outcomes(port, outcome) >= want))
                assert worker.alive(), worker.log_tail()
                assert len(got) == len(cids), f"{name}: {len(cids) - len(got)} probes' alerts never arrived"
                for cid, seconds in got.items():
                    (on if partition_of(cid.encode(), s.partitions) in flooded else off).append(seconds)
                if messages:
                    drains.append(drain_s)
            print(f"{name}: flooded partitions {_ms(on)}, other partitions {_ms(off)}, bursts worked off in "
                  f"{', '.join(f'{d:.2f}' for d in drains) or '-'} s", flush=True)
            rows.append((name, _ms(on), _ms(off),
                         f"{pct(drains, 0.5):.2f} s ({len(messages) / pct(drains, 0.5):,.0f} msg/s)" if drains else ""))
    return rows


def _ms(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{pct(xs, 0.5) * 1000:,.0f} / {pct(xs, 0.99) * 1000:,.0f} ms (n={len(xs)})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--burst", type=int, default=10_000, help="messages per burst")
    p.add_argument("--rounds", type=int, default=3, help="bursts per scenario")
    p.add_argument("--per-partition", type=int, default=5, help="probe customers per partition and round")
    p.add_argument("--partitions", type=int, default=4)
    a = p.parse_args()
    print(f"machine: {machine()}", flush=True)
    with services(Settings()) as live:
        rows = run(live.with_updates(partitions=a.partitions), burst=a.burst, rounds=a.rounds, per_partition=a.per_partition)
    print(f"\nprobe trigger (in the log) → its alert, p50 / p99; budget: p99 ≤ {BUDGET_S * 1000:.0f} ms on the partitions "
          "not flooded\n")
    print_table(rows, head=("burst", "probes on flooded partitions", "probes on the other partitions", "burst worked off in"))


if __name__ == "__main__":
    main()

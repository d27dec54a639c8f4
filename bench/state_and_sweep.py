"""Benchmark: state size per customer (100,000 simulated customers) and the silence
sweep's time with 1,000,000 scheduled customers of whom 10,000 are due.

Prints figures; targets: ≤ 2 KiB per customer, sweep ≤ 1 s. With ``--positions`` each record
also carries the input positions a worker keeps (``CustomerRecord.positions``: per input topic the
partition, an offset from ``--offset-base`` on, a broker timestamp in ms), and the bytes they add are
printed beside the sizes without them. The baseline, measured in
the same run, is a full scan over all customers' next-check times (what a sweep without
a due index would cost: every record of the table, each one's next check peeked from
its encoded prefix without decoding the rest).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, timedelta

from config.settings import Settings
from engine.record import CustomerRecord
from models.silence import DueIndex


def _chunk_records(args: tuple) -> list[bytes]:
    """Encoded records of ``n`` simulated customers after ``days`` days (one process); with an
    offset base, with the input positions a worker would keep (12 partitions, offsets counted
    per partition from the base, timestamps 10 ms apart)."""
    from datetime import datetime

    from engine.compose import processor_from
    from models.prior import RulePrior
    from models.scorer import Scorer
    from schemas.catalogue import TOPIC_OF_TYPE
    from simulator import Simulator
    from streams.sweep import partition_of

    seed, n, days, *rest = args
    offset_base = rest[0] if rest else None
    start = datetime(2024, 1, 1, tzinfo=UTC)
    settings = Settings()
    proc = processor_from(settings, Scorer(RulePrior(), min_labels=10**9))
    records: dict[str, CustomerRecord] = {}
    offsets: dict[tuple[str, int], int] = {}
    sim = Simulator(n, seed=seed, start=start)
    for i, ev in enumerate(sim.events_between(start, start + timedelta(days=days))):
        rec = records.get(ev.customer_id) or CustomerRecord()
        step = proc.on_event(rec, ev, ev.occurred_at)
        if step.record is not None:
            if offset_base is not None and step.kind in ("scored", "stored", "duplicate"):  # as streams.handler does
                topic, partition = settings.topic(TOPIC_OF_TYPE[ev.event_type]), partition_of(ev.customer_id.encode(), 12)
                offset = offsets[topic, partition] = offsets.get((topic, partition), offset_base - 1) + 1
                step.record.note_handled(topic, partition, offset, 1_760_000_000_000 + 10 * i)
            records[ev.customer_id] = step.record
    return [r.encode() for r in records.values()]


def _chunk_sizes(args: tuple) -> list[int]:
    return [len(raw) for raw in _chunk_records(args)]


def record_pool(customers: int, days: int, workers: int) -> list[bytes]:
    """Encoded records of ``customers`` simulated customers (chunks of 500 across ``workers`` processes)."""
    chunk = 500
    jobs = [(base + 1, min(chunk, customers - base), days) for base in range(0, customers, chunk)]
    with ProcessPoolExecutor(workers) as pool:
        return [raw for part in pool.map(_chunk_records, jobs) for raw in part]


def state_sizes(customers: int, days: int, workers: int, offset_base: int | None = None) -> list[int]:
    """Simulated in chunks of 2,000 customers (each its own seed) across ``workers`` processes; with an
    offset base, with input positions (the same customers: the positions change no decision)."""
    chunk = 2_000
    jobs = [(base + 1, min(chunk, customers - base), days, offset_base) for base in range(0, customers, chunk)]
    sizes: list[int] = []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_chunk_sizes, jobs):
            sizes += part
            print(f"\r  simulated {len(sizes)}/{customers} customers ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
    print()
    return sizes


def sweep_times(n: int, due: int, repeats: int = 5) -> tuple[list[float], list[float]]:
    rng = random.Random(1)
    now = 1_700_000_000.0
    idx, table = DueIndex(), {}
    for i in range(n):
        t = now - rng.random() * 1000 if i < due else now + 1 + rng.random() * 86_400 * 30
        idx.schedule(f"c{i}", t)
        table[f"c{i}".encode()] = CustomerRecord(next_check=t).encode()  # the peek reads only this prefix
    ours, base = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        got = idx.pop_due_items(now)
        ours.append(time.perf_counter() - t0)
        assert len(got) == due
        for cid, t in got:  # put them back for the next repeat
            idx.schedule(cid, t)
        t0 = time.perf_counter()
        scan = [k for k, raw in table.items() if (t := CustomerRecord.peek_next_check(raw)) is not None and t <= now]
        base.append(time.perf_counter() - t0)
        assert len(scan) == due
    return ours, base


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the state simulation")
    p.add_argument("--sweep-customers", type=int, default=1_000_000)
    p.add_argument("--due", type=int, default=10_000)
    p.add_argument("--positions", action="store_true", help="also with the input positions a worker keeps")
    p.add_argument("--offset-base", type=int, default=1_000_000_000, help="first offset of every partition (--positions)")
    a = p.parse_args()
    print(f"state size: {a.customers} simulated customers, {a.days} days of history")
    sizes = sorted(state_sizes(a.customers, a.days, a.workers))
    print(f"  bytes per customer record: mean {statistics.mean(sizes):.0f}, median {sizes[len(sizes) // 2]}, "
          f"p99 {sizes[int(len(sizes) * 0.99)]}, max {sizes[-1]}  (target ≤ 2048)")
    if a.positions:
        with_pos = sorted(state_sizes(a.customers, a.days, a.workers, a.offset_base))
        print(f"  with input positions (offsets from {a.offset_base:,}): mean {statistics.mean(with_pos):.0f} "
              f"(+{statistics.mean(with_pos) - statistics.mean(sizes):.0f}), median {with_pos[len(with_pos) // 2]}, "
              f"p99 {with_pos[int(len(with_pos) * 0.99)]}, max {with_pos[-1]}  (target ≤ 2048)")
    print(f"sweep: {a.sweep_customers} customers scheduled, {a.due} due")
    ours, base = sweep_times(a.sweep_customers, a.due)
    print(f"  due-index sweep: median {statistics.median(ours) * 1000:.1f} ms (target ≤ 1000 ms)")
    print(f"  baseline full scan: median {statistics.median(base) * 1000:.1f} ms "
          f"(due index is {statistics.median(base) / statistics.median(ours):.1f}x faster)")


if __name__ == "__main__":
    main()

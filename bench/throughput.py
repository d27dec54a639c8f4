"""Benchmark: throughput, latency, backtest, state and sweep, each next to a baseline
measured in the same run. Prints one table (about 15 minutes on a 2-core machine,
10 of them the backtest's file).

- ceiling: a bare aiokafka loop (consume the input topics, ``json.loads`` each value,
  produce one small message per input) on the same broker, partitions and events;
- end to end: ``churn-alert worker`` processes (event clock) on those events, one then
  two in one group, as events/s and as a share of the ceiling measured just before;
- latency: event-to-alert p50/p95/p99 at a steady offered load on the wall clock;
- backtest: ``churn-alert backtest``'s path (scan, then one streamed pass) over a file of
  about 2 million app events (``churn-alert simulate --kind app``), its peak memory,
  against the bare ``json.loads`` loop over that file and the floor: decoding, the
  customer state and the features alone (what scoring every event costs before scoring);
- state: resident and encoded bytes per customer with 100,000 and 1,000,000 customers
  (records of simulated customers after a year);
- sweep: find and re-score 10,000 due customers among 1,000,000, against a full scan.

The broker and Redis are the configured ones, else embedded (as for every command).
Usage: ``.venv/bin/python bench/throughput.py [--customers 1500 --days 120]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datetime import UTC

from bench import broker, inprocess, latency, profiles, state_and_sweep, workload  # noqa: E402
from config.settings import Settings  # noqa: E402
from services import services  # noqa: E402


def fresh(settings: Settings, **changes: object) -> Settings:
    """A group and Redis namespace of its own (no claims or state from an earlier run)."""
    tag = uuid.uuid4().hex[:8]
    return settings.with_updates(app_id=f"bench-{tag}", redis_prefix=f"bench-{tag}", clock="event", **changes)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"


def backtest_rows(customers: int, days: int, profile: Path | None) -> list[tuple[str, str, str, str]]:
    """``churn-alert backtest``'s path over a file of app subscribers written by ``churn-alert
    simulate --kind app``, beside the bare ``json.loads`` loop and the floor (its first steps
    alone), all over that same file."""
    from datetime import datetime, timedelta

    start = datetime(2024, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app.jsonl"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cli.main", "simulate", "--kind", "app", "--customers", str(customers),
                        "--days", str(days), "--start", start.isoformat(), "--out", str(path)],
                       check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])
        size = path.stat().st_size
        print(f"backtest file: {customers} app subscribers × {days} days, {size / 2**20:,.0f} MiB, written in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        ours, base, low = inprocess.backtest(path, (start + timedelta(days=days)).isoformat(), 30.0,
                                             profile=profile / "backtest.txt" if profile else None)
    print(f"backtest: {ours}, baseline {base}, floor {low}", flush=True)
    what = f"{ours['events'] / 1e6:.2f} M app events, {size / 2**20:,.0f} MiB"
    rows = [(f"backtest ({what}), events/s", f"{ours['rate']:,.0f}", f"{base['rate']:,.0f} (json.loads per line)",
             "≥ 25,000"),
            ("backtest, peak memory", f"{ours['peak_mib']:,.0f} MiB", f"{base['peak_mib']:,.0f} MiB (same loop)",
             "≤ 500 MB")]
    rows += [(f"backtest floor: {step} only, events/s", f"{rate:,.0f}", f"{ours['rate'] / rate:.0%} (ours / this)", "")
             for step, rate in low.items() if step != "peak_mib"]
    if profile:
        profiles.print_layers("profile of the backtest", profile / "backtest.txt", 1e6 / ours["rate"])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=1500)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--rate", type=float, default=1000.0, help="offered load of the latency run, events/s")
    p.add_argument("--latency-seconds", type=float, default=30.0)
    p.add_argument("--pool", type=int, default=2000, help="simulated customers whose records fill the state tables")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts of the end-to-end runs")
    p.add_argument("--profile", type=Path, help="record py-spy profiles here (each worker of the end-to-end runs, the latency "
                   "run's worker, the backtest) and print where each one's time went, by layer (bench/profiles.py)")
    p.add_argument("--backtest-customers", type=int, default=2300,
                   help="app subscribers of the backtest's file (2,300 × 120 days: about 2 million events)")
    p.add_argument("--backtest-days", type=int, default=120)
    p.add_argument("--skip", nargs="*", default=[], choices=["broker", "latency", "backtest", "state", "sweep"])
    a = p.parse_args()
    rows: list[tuple[str, str, str, str]] = []  # what, figure, baseline in the same run, target
    print(f"machine: {machine()}", flush=True)
    if "broker" not in a.skip:  # the end-to-end runs' shoppers
        events = workload.simulated(a.customers, a.days)
        print(f"{len(events)} events of {a.customers} customers × {a.days} days", flush=True)
    if not {"broker", "latency"} <= set(a.skip):
        with services(Settings()) as live:
            s = live.with_updates(topic_prefix=f"b{uuid.uuid4().hex[:6]}-", partitions=4)
            if "broker" not in a.skip:
                rows += broker_rows(s, events, a.workers, a.profile)
            if "latency" not in a.skip:
                rows += latency_rows(s, a.rate, a.latency_seconds, a.profile)
    if "backtest" not in a.skip:
        rows += backtest_rows(a.backtest_customers, a.backtest_days, a.profile)
    if not {"state", "sweep"} <= set(a.skip):
        t0 = time.perf_counter()
        pool = state_and_sweep.record_pool(a.pool, 365, os.cpu_count() or 1)
        print(f"record pool: {len(pool)} customers × 365 days simulated in {time.perf_counter() - t0:.0f} s", flush=True)
        if "state" not in a.skip:
            for n in (100_000, 1_000_000):
                got = inprocess.table_bytes(pool, n)
                rows.append((f"state per customer, {n:,} customers", f"{got['resident']:,.0f} B resident",
                             f"{got['encoded']:,.0f} B encoded record", "≤ 2 KiB"))
                print(f"state {n}: {got}", flush=True)
        if "sweep" not in a.skip:
            ours_s, base_s = inprocess.sweep(pool, 1_000_000, 10_000)
            rows.append(("sweep: find + re-score 10,000 due of 1,000,000", f"{ours_s * 1000:,.0f} ms",
                         f"{base_s * 1000:,.0f} ms (full scan)", "≤ 1 s"))
    print_table(rows)


def py_spy(out: Path, n: int, spies: list):  # noqa: ANN201
    """A hook for :func:`broker.run_workers` that records each worker with py-spy into ``out``
    (``workers{n}-w{i}.txt``); the recorders go to ``spies``."""
    def start(workers: list) -> None:
        spies.extend(profiles.record(w.proc.pid, out / f"workers{n}-w{i}.txt") for i, w in enumerate(workers))
    return start


def _spies_done(spies: list) -> None:
    for spy in spies:
        try:
            spy.wait(30)  # a recorder writes its file when its process has exited
        except subprocess.TimeoutExpired:
            spy.kill()


def broker_rows(s: Settings, events: list, counts: list[int], profile: Path | None = None) -> list[tuple[str, str, str, str]]:
    msgs = workload.as_messages(s, events)
    took = asyncio.run(broker.publish(s, msgs))
    topics = sorted({t for t, _, _ in msgs})
    print(f"published {len(msgs)} messages to {len(topics)} topics in {took:.1f} s", flush=True)
    rows = []
    one_rate = None
    ceil = asyncio.run(broker.ceiling(s, topics, len(msgs)))
    floor = broker.faust_floor(fresh(s), len(msgs))
    print(f"Faust alone: {floor:,.0f} events/s; ceiling {ceil:,.0f}", flush=True)
    rows.append(("a Faust worker that only counts, events/s", f"{floor:,.0f} ({floor / ceil:.0%} of ceiling)",
                 f"{ceil:,.0f} (bare aiokafka loop)", ""))
    for n in counts:
        ceil = asyncio.run(broker.ceiling(s, topics, len(msgs)))
        cpu: list = []
        spies: list = []
        rate, workers = broker.run_workers(fresh(s), n, len(msgs), on_start=py_spy(profile, n, spies) if profile else None,
                                           cpu=cpu)
        for w in workers:
            w.stop()
        _spies_done(spies)
        per_event: dict[int, float] = {}
        print(f"{n} worker(s): {rate:,.0f} events/s; ceiling {ceil:,.0f}", flush=True)
        for i, (used, wall) in enumerate(cpu, start=-1):  # the first is the batch count
            if "batches" in used:
                print(f"  {used['batches']:,.0f} batches, {len(msgs) / max(1.0, used['batches']):,.0f} messages per batch", flush=True)
                continue
            if "broker" in used:
                print(f"  broker: {used['broker'] * 1e6 / len(msgs):,.0f} CPU µs per event, {used['broker'] / wall:.0%} of a core", flush=True)
                continue
            main, others = used.get("main", 0.0), used.get("others", 0.0)
            idle = wall - main - used.get("main waiting", 0.0)
            per_event[i] = (main + others) * 1e6 / (len(msgs) / n)
            print(f"  worker {i}: {per_event[i]:,.0f} CPU µs per event; of its {wall:.1f} s "
                  f"the main thread ran {main / wall:.0%}, waited for a CPU {used.get('main waiting', 0.0) / wall:.0%}, "
                  f"waited for I/O or timers {idle / wall:.0%}; other threads ran {others / wall:.0%}", flush=True)
        if profile:
            for i, us in per_event.items():
                profiles.print_layers(f"profile of worker {i} of {n} (backlog)", profile / f"workers{n}-w{i}.txt", us)
        target = "≥ 10,000 and ≥ 20 %" if n == 1 else "≥ 1.5× one worker"
        extra = "" if one_rate is None else f", {rate / one_rate:.2f}× one worker"
        rows.append((f"end to end, {n} worker{'s' if n > 1 else ''}, events/s", f"{rate:,.0f} ({rate / ceil:.0%} of ceiling{extra})",
                     f"{ceil:,.0f} (bare aiokafka loop)", target))
        one_rate = one_rate or rate
    return rows


def latency_rows(s: Settings, rate: float, seconds: float, profile: Path | None = None) -> list[tuple[str, str, str, str]]:
    spies: list = []
    on_start = (lambda w: spies.append(profiles.record(w.proc.pid, profile / "latency-worker.txt"))) if profile else None
    got = asyncio.run(latency.latency(s, rate=rate, seconds=seconds, on_start=on_start))
    print(f"latency: {got}", flush=True)
    if profile:
        _spies_done(spies)
        profiles.print_layers(f"profile of the worker at {rate:,.0f} events/s (warm-up included)", profile / "latency-worker.txt")

    def ms(d: dict) -> str:
        return " / ".join(f"{d[q] * 1000:,.0f}" for q in (0.5, 0.95, 0.99)) + " ms"

    return [(f"latency occurred_at → alert read, p50/p95/p99 at {rate:,.0f} events/s ({got['alerts']} alerts)",
             ms(got["event"]), "", "p99 ≤ 250 ms"),
            (f"latency input append → alert append, p50/p95/p99 ({got['matched']} alerts)", ms(got["broker"]), "", "")]


def print_table(rows: list[tuple[str, str, str, str]],
                head: tuple[str, str, str, str] = ("what", "figure", "baseline, same run", "target")) -> None:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    print()
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


if __name__ == "__main__":
    main()

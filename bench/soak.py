"""Soak: steady load on one worker for a while; resident memory, consumer lag and state size
over time must stay flat (within 10 % after warm-up).

    .venv/bin/python bench/soak.py                 # 10 minutes, 200 events/s, 5,000 customers
    .venv/bin/python bench/soak.py --minutes 2     # a short look
    .venv/bin/python bench/soak.py --heap          # and the worker's heap: Python objects, malloc

A fixed population of customers sends orders, sessions and tickets at a steady rate on
the wall clock, as in production; the worker keeps its table in RocksDB. State size is
the customers the worker holds (``churn_customers``; each record is bounded by design)
and, for information, the RocksDB directory, whose write-ahead log and compactions make
it saw-tooth, and RocksDB's own memory (``churn_rocksdb_memory_bytes``: memtables, block
cache, table readers). RocksDB's memtables fill up to their bound (``CHURN_ROCKSDB_*``)
before the first is flushed to disk, and its block cache fills up to its own; the verdict is
taken after the warm-up and after both bounds were reached, which the script reports. Uses the configured broker and Redis, else the embedded ones. Prints one
line per sample and a verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402

from bench.broker import scraped  # noqa: E402
from cli.procs import WorkerProcess  # noqa: E402
from config.settings import Settings  # noqa: E402
from schemas.catalogue import INPUTS  # noqa: E402
from schemas.events import AppActivityEvent, OrderEvent, SupportEvent  # noqa: E402
from services import services  # noqa: E402
from services.embedded import free_port  # noqa: E402
from streams.app import build_app  # noqa: E402
from streams.publish import ensure_topics, producer  # noqa: E402


def event(rng: random.Random, cid: str, k: int):  # noqa: ANN201
    now = datetime.now(UTC)
    kind = rng.random()
    if kind < 0.25:
        return OrderEvent(event_id=f"{cid}-{k}", customer_id=cid, occurred_at=now, event_type="order", order_id=f"o{k}",
                          status="placed", amount=round(rng.uniform(5, 120), 2), currency="EUR", items=1, channel="app")
    if kind < 0.3:
        return SupportEvent(event_id=f"{cid}-{k}", customer_id=cid, occurred_at=now, event_type="support", ticket_id=f"t{k}",
                            action="opened", category="delivery", priority="normal", is_complaint=rng.random() < 0.3)
    return AppActivityEvent(event_id=f"{cid}-{k}", customer_id=cid, occurred_at=now, event_type="app_activity",
                            activity=rng.choice(["session", "login", "feature_used"]), platform="android",
                            duration_s=rng.uniform(10, 600), feature=rng.choice(["search", "wishlist", "chat", None]))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU time the process has used (user + system), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SAMPLE_S = 30.0  # seconds between samples
ROCKSDB_KINDS = ("memtables", "block_cache", "table_readers")  # churn_rocksdb_memory_bytes{kind=...}


def sst_files(path: Path) -> int:
    """RocksDB table files: the first appears when a memtable is first flushed (memtables reached their size)."""
    return sum(1 for _ in path.rglob("*.sst"))


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


async def lag(s: Settings) -> int:
    """Messages on the input topics the worker group has not committed yet."""
    cons = AIOKafkaConsumer(bootstrap_servers=s.bootstrap_servers, group_id=s.app_id, enable_auto_commit=False)
    await cons.start()
    try:
        tps = [TopicPartition(s.topic(t.setting), p) for t in INPUTS for p in range(s.partitions)]
        ends = await cons.end_offsets(tps)
        behind = 0
        for tp in tps:
            behind += max(0, ends[tp] - ((await cons.committed(tp)) or 0))
        return behind
    finally:
        await cons.stop()


async def load(s: Settings, rate: float, customers: int, seconds: float, sample_every: float, worker: WorkerProcess,
               data_dir: Path) -> list[tuple]:
    """Send ``rate`` events/s for ``seconds``; every ``sample_every`` s record (elapsed, sent, worker RSS MB,
    lag, customers held, RocksDB MB on disk, RocksDB's own memory by kind in MB, RocksDB table files)."""
    from schemas.catalogue import TOPIC_OF_TYPE

    rng, prod = random.Random(1), producer(s)
    await prod.start()
    samples, sent, t0 = [], 0, time.monotonic()
    next_sample = t0 + sample_every
    try:
        while (now := time.monotonic()) - t0 < seconds:
            due = int((now - t0) * rate) - sent
            for _ in range(due):
                cid = f"soak-{rng.randrange(customers):06d}"
                ev = event(rng, cid, sent)
                await prod.send(s.topic(TOPIC_OF_TYPE[ev.event_type]), ev.model_dump_json().encode(), key=cid.encode())
                sent += 1
            if now >= next_sample:
                assert worker.alive(), worker.log_tail()
                mem = {k: scraped(s.metrics_port, f'churn_rocksdb_memory_bytes{{kind="{k}"}}') / 2**20 for k in ROCKSDB_KINDS}
                samples.append((now - t0, sent, rss_mb(worker.proc.pid), await lag(s),
                                scraped(s.metrics_port, "churn_customers "), dir_mb(data_dir), mem, sst_files(data_dir)))
                e, n, r, lg, c, st, _, ssts = samples[-1]
                rocks = "  ".join(f"{k} {v:5.1f}" for k, v in mem.items())
                print(f"{e:7.0f} s  {n:>9,} sent  rss {r:7.1f} MB  cpu {cpu_s(worker.proc.pid):6.1f} s  lag {lg:>7,}  "
                      f"customers {c:>7,.0f}  "
                      f"rocksdb {st:7.1f} MB on disk, {ssts} sst; in memory MB: {rocks}", flush=True)
                next_sample += sample_every
            await asyncio.sleep(0.01)  # pacing the offered load
    finally:
        await prod.stop()
    return samples


def spread(xs: list[float]) -> float:
    """(max - min) / mean: 0 is perfectly flat."""
    return (max(xs) - min(xs)) / (sum(xs) / len(xs)) if xs and sum(xs) else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=200.0, help="events per second offered")
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--store", choices=["rocksdb", "memory"], default="rocksdb")
    ap.add_argument("--warmup-minutes", type=float, default=None, help="default: a fifth of the run")
    ap.add_argument("--heap", action="store_true", help="sample the worker's heap from inside (bench/heapwatch) and "
                    "print it after the run: Python objects by type, malloc in use and free")
    args = ap.parse_args(argv)
    warmup = args.warmup_minutes if args.warmup_minutes is not None else args.minutes / 5
    tag = f"soak{int(time.time())}"
    with tempfile.TemporaryDirectory() as tmp, services(Settings()) as resolved:
        data_dir = Path(tmp) / "tables"
        s = resolved.with_updates(topic_prefix=f"{tag}-", app_id=tag, redis_prefix=tag, store=args.store, data_dir=data_dir,
                                  clock="wall", metrics_port=free_port())
        asyncio.run(ensure_topics(s))
        print(f"soak: {args.rate:g} events/s from {args.customers:,} customers for {args.minutes:g} min "
              f"(warm-up {warmup:g} min) on {s.bootstrap_servers}", flush=True)
        heap_log = Path(tmp) / "heap.log"
        if args.heap:  # the worker inherits the environment
            os.environ["PYTHONPATH"] = os.pathsep.join(
                [str(Path(__file__).resolve().parent / "heapwatch"), str(ROOT), os.environ.get("PYTHONPATH", "")])
            os.environ |= {"SOAK_HEAP_OUT": str(heap_log), "SOAK_HEAP_EVERY_S": str(SAMPLE_S)}
        with WorkerProcess(s, "soak") as worker:
            samples = asyncio.run(load(s, args.rate, args.customers, args.minutes * 60, SAMPLE_S, worker, data_dir))
        if args.heap:
            print("the worker's heap, sampled from inside:\n" + (heap_log.read_text() if heap_log.exists() else "no samples"))
    steady = [x for x in samples if x[0] >= warmup * 60]
    if args.store == "rocksdb":
        # RocksDB's memory has two bounds on the worker, whatever the partitions (streams/store.py): the
        # memtables fill up to their size before the first is flushed to a table file, and the block
        # cache, an LRU, keeps filling up to its size (with blocks of files compaction has since
        # replaced, until evicted). Until both are reached its memory grows by design; from then on it
        # cannot. Report when each was reached, and judge from there on.
        peak = max(x[6]["memtables"] for x in samples)
        flushed = next((x[0] for x in samples if x[7] > 0), None)
        full = next((x[0] for x in samples if x[6]["block_cache"] >= 0.9 * s.rocksdb_block_cache_mb), None)
        print(f"rocksdb: memtables bounded at {s.rocksdb_memtables_mb} MB in all ({s.rocksdb_write_buffer_mb} MB each), "
              f"peak {peak:.1f} MB, " + (f"first flush by {flushed:.0f} s" if flushed is not None else "none flushed yet")
              + f"; block cache {s.rocksdb_block_cache_mb} MB shared by the {s.partitions} partitions, peak "
              f"{max(x[6]['block_cache'] for x in samples):.1f} MB, "
              + (f"full (90 %) by {full:.0f} s" if full is not None else "not full yet"))
        if flushed is None or full is None:
            print("RocksDB's memory was still filling up to its bounds: run longer")
            return 1
        if max(flushed, full) > warmup * 60:
            print(f"RocksDB's memory was still filling after the warm-up ({warmup:g} min): judging from "
                  f"{max(flushed, full):.0f} s on")
            steady = [x for x in samples if x[0] >= max(flushed, full)]
    if len(steady) < 2:
        print("too short to judge flatness: run longer")
        return 1
    rss, state, lags = [x[2] for x in steady], [x[4] for x in steady], [x[3] for x in steady]
    # the population is fixed: after warm-up every customer is known, so the state must not grow
    # lag is counted from the committed offsets, which a worker that keeps up advances once per commit
    # interval: up to that interval's events are uncommitted at any moment. Beyond them, lag within a
    # tenth of a sample period's events counts as keeping up.
    commit_s = build_app(s).conf.broker_commit_interval
    bound = max(1.0, args.rate * commit_s + 0.1 * args.rate * SAMPLE_S)
    flat = spread(rss) <= 0.10 and spread(state) <= 0.10 and max(lags) <= bound
    print(f"after warm-up: rss spread {spread(rss):.1%}, customers-in-state spread {spread(state):.1%}, lag max {max(lags):,} "
          f"(bound {bound:,.0f}: {commit_s:g} s of events between commits + {0.1 * SAMPLE_S:g} s) -> {'FLAT' if flat else 'NOT FLAT'}")
    return 0 if flat else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Runs against the real (embedded or configured) broker: the bare-loop ceiling and the
end-to-end throughput of one or more ``churn-alert worker`` processes on the same events.

Both read the same topics, partitions and messages, published once up front. A run's
rate counts from the first message handled to the last (worker start-up and group join
are left out: they are not throughput), by polling the workers' ``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cli.procs import WorkerProcess
from config.settings import Settings
from services.embedded import free_port
from streams.publish import ensure_topics

Message = tuple[str, bytes, bytes]  # (full topic name, key, value)


async def publish(settings: Settings, messages: Sequence[Message]) -> float:
    """Publish every message (batched, acks=all); returns the seconds it took."""
    await ensure_topics(settings)
    prod = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=20, acks="all",
                            max_batch_size=1 << 20, enable_idempotence=False)
    await prod.start()
    t0 = time.perf_counter()
    try:
        for i, (topic, key, value) in enumerate(messages):
            await prod.send(topic, value, key=key)
            if i % 20_000 == 0:
                await asyncio.sleep(0)
        await prod.flush()
    finally:
        await prod.stop()
    return time.perf_counter() - t0


async def ceiling(settings: Settings, topics: Sequence[str], total: int) -> float:
    """The bare loop: consume ``topics``, ``json.loads`` each value, produce one small message
    per input; events/s from the first record to the last produced one flushed."""
    out = settings.topic_prefix + "ceiling-out"
    cons = AIOKafkaConsumer(*topics, bootstrap_servers=settings.bootstrap_servers, group_id=None,
                            auto_offset_reset="earliest", enable_auto_commit=False)
    prod = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5, acks="all",
                            max_batch_size=1 << 20, enable_idempotence=False)
    await cons.start()
    await prod.start()
    n, t0 = 0, None
    try:
        while n < total:
            batch = await cons.getmany(timeout_ms=1000, max_records=10_000)
            if t0 is None and batch:
                t0 = time.perf_counter()
            for records in batch.values():
                for r in records:
                    doc = json.loads(r.value)
                    await prod.send(out, b'{"ok":1,"c":"%s"}' % doc["customer_id"].encode(), key=r.key)
                n += sum(len(rs) for rs in batch.values())
        await prod.flush()
        return total / (time.perf_counter() - t0)
    finally:
        await prod.stop()
        await cons.stop()


def faust_floor(settings: Settings, total: int, *, deadline_s: float = 300.0) -> float:
    """events/s of a Faust worker that only counts its messages (``bench/faust_floor.py``), own group."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from cli.procs import settings_env

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")} | settings_env(settings)
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("faust_floor.py")), str(total)], env=env,
                         capture_output=True, text=True, timeout=deadline_s, check=False)
    rate = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("RATE ")]
    if not rate:
        raise RuntimeError(f"the Faust floor run printed no rate:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return float(rate[0])


def scraped(port: int, prefix: str, family: str | None = None, contains: str = "") -> float:
    """Sum of a worker's /metrics samples whose line starts with ``prefix`` (and holds ``contains``); 0 before
    it is up. With ``family``, only that metric family is asked for (cheap enough to poll often)."""
    query = f"?name[]={family}" if family else ""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics{query}", timeout=2).read().decode()
    except OSError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix) and contains in line)


def handled(port: int) -> float:
    """Messages a worker took off its input topics so far (``churn_messages_total``), 0 before it is up."""
    return scraped(port, "churn_messages_total{", "churn_messages_total")


def cpu_seconds(pid: int) -> dict[str, float]:
    """Seconds a process's main thread and its other threads have run on a CPU so far (``main``,
    ``others``), and were ready to run but waited for a CPU (``main waiting``, ``others waiting``:
    a busy machine), from ``/proc/PID/task/*/schedstat``; {} once the process is gone."""
    import os

    out: dict[str, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ran, waited = (int(x) / 1e9 for x in f.read().split()[:2])
        except (OSError, ValueError):
            continue
        name = "main" if tid == str(pid) else "others"
        out[name] = out.get(name, 0.0) + ran
        out[f"{name} waiting"] = out.get(f"{name} waiting", 0.0) + waited
    return out


def broker_pid(settings: Settings) -> int | None:
    """The process of an embedded broker (the one whose command line names its address), else ``None``."""
    import os

    address = (settings.bootstrap_servers or "").split(",")[0]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"broker" in argv[0] + (argv[1] if len(argv) > 1 else b"") and any(address.encode() in a for a in argv):
            return int(pid)
    return None


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """:func:`cpu_seconds` between two readings (threads started in between count whole)."""
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def run_workers(settings: Settings, n_workers: int, total: int, *, deadline_s: float = 300.0,
                on_start=None, cpu: list | None = None) -> tuple[float, list[WorkerProcess]]:  # noqa: ANN001
    """Start ``n_workers`` workers in one group on already-published topics; events/s from the
    moment every worker has handled a message until ``total`` are handled. Returns (rate, workers),
    the workers still running (the caller stops them). With ``cpu`` (a list), appends per worker
    the CPU seconds its threads used over that window and the window's length (wall seconds):
    ``(per-thread dict, wall)``, to tell computing from waiting, after ``({"batches": n}, wall)``,
    the customer agent's batches of all workers so far; then, for an embedded broker,
    ``({"broker": its CPU seconds}, wall)``."""
    ports = [free_port() for _ in range(n_workers)]
    workers = [WorkerProcess(settings.with_updates(metrics_port=p), f"bench-w{i}").start() for i, p in enumerate(ports)]
    if on_start is not None:
        on_start(workers)
    end = time.monotonic() + deadline_s
    t0 = c0 = None
    cpu0: list = []
    while True:
        counts = [handled(p) for p in ports]
        now = time.perf_counter()
        if t0 is None and all(c > 0 for c in counts):
            t0, c0 = now, sum(counts)
            pids = [w.proc.pid for w in workers] + ([b] if (b := broker_pid(settings)) is not None else [])
            cpu0 = [cpu_seconds(pid) for pid in pids]
        if t0 is not None and sum(counts) >= total:
            if cpu is not None:
                batches = sum(scraped(p, "churn_step_seconds_count", "churn_step_seconds_count") for p in ports)
                cpu.append(({"batches": batches}, now - t0))
                cpu.extend((cpu_used(b, cpu_seconds(pid)), now - t0) for b, pid in zip(cpu0, pids))
                if len(pids) > n_workers:
                    used = cpu[-1][0]
                    cpu[-1] = ({"broker": used.get("main", 0.0) + used.get("others", 0.0)}, now - t0)
            break
        for w in workers:
            if not w.alive():
                raise RuntimeError(f"worker died:\n{w.log_tail()}")
        if time.monotonic() > end:
            raise RuntimeError(f"{sum(counts)}/{total} handled within {deadline_s}s:\n{workers[0].log_tail()}")
        time.sleep(0.25)  # polling with a deadline (a scrape of the one family costs the worker under a ms)
    return (total - c0) / (now - t0), workers

"""Event-to-alert latency at a steady offered load on the wall clock.

A live worker (``clock=wall``) receives ``rate`` events/s, each stamped ``occurred_at``
when it is sent; a consumer of ``churn-alerts`` in this process notes when each alert
arrives. Two latencies per event-triggered alert: from its event's ``occurred_at`` to its
arrival here, and from the input record's broker timestamp to the alert record's (both
as the broker stores them: read back from the topics afterwards).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.broker import handled
from bench.workload import live_script
from cli.procs import WorkerProcess
from config.settings import Settings
from schemas.catalogue import TOPIC_OF_TYPE
from services.embedded import free_port
from streams.publish import ensure_topics


def _producer(s: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, linger_ms=1, acks="all", enable_idempotence=False)


async def _send_paced(s: Settings, script: list, rate: float) -> None:
    prod = _producer(s)
    await prod.start()
    try:
        t0 = time.perf_counter()
        for i, (cid, fields) in enumerate(script):
            ahead = t0 + i / rate - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)
            doc = {**fields, "occurred_at": datetime.now(UTC).isoformat()}
            await prod.send(s.topic(TOPIC_OF_TYPE[doc["event_type"]]), json.dumps(doc).encode(), key=cid.encode())
        await prod.flush()
    finally:
        await prod.stop()


async def _read(s: Settings, topics: list[str], *, until, arrivals: list | None = None) -> list:  # noqa: ANN001
    """Records of ``topics`` from the start until ``until(records)``; with ``arrivals``, the wall time each arrived."""
    cons = AIOKafkaConsumer(*[s.topic(t) for t in topics], bootstrap_servers=s.bootstrap_servers, group_id=None,
                            auto_offset_reset="earliest", enable_auto_commit=False,
                            fetch_max_wait_ms=10)  # the embedded broker holds a fetch this long, records or not
    await cons.start()
    out: list = []
    try:
        while not until(out):
            for recs in (await cons.getmany(timeout_ms=200, max_records=5000)).values():
                now = time.time()
                out.extend(recs)
                if arrivals is not None:
                    arrivals.extend([now] * len(recs))
    finally:
        await cons.stop()
    return out


async def _mark(s: Settings, topic: str, tag: str) -> None:
    prod = _producer(s)
    await prod.start()
    try:
        for p in range(s.partitions):
            await prod.send_and_wait(s.topic(topic), json.dumps({"marker": tag}).encode(), partition=p)
    finally:
        await prod.stop()


def _marked(tag: str, want: int):  # noqa: ANN202
    return lambda recs: sum(b'"marker"' in r.value and tag in r.value.decode() for r in recs) >= want


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def latency(settings: Settings, *, rate: float = 1000.0, seconds: float = 30.0, on_start=None) -> dict:  # noqa: ANN001
    """``on_start(worker)``: called once the worker process is started (e.g. to profile it)."""
    s = settings.with_updates(clock="wall", metrics_port=free_port(), topic_prefix=f"lat{uuid.uuid4().hex[:6]}-",
                              app_id=f"bench-lat-{uuid.uuid4().hex[:6]}", redis_prefix=f"bench-lat-{uuid.uuid4().hex[:6]}")
    await ensure_topics(s)
    script = live_script(int(rate * seconds))
    warm = live_script(200, escalating_share=0.01, seed=5)
    with WorkerProcess(s, "bench-latency") as worker:
        if on_start is not None:
            on_start(worker)
        await _send_paced(s, warm, rate)  # the worker has joined and handled these before the clock starts
        deadline = time.monotonic() + 120
        while handled(s.metrics_port) < len(warm):
            assert worker.alive() and time.monotonic() < deadline, worker.log_tail()
            await asyncio.sleep(0.1)
        arrivals: list[float] = []
        tag = uuid.uuid4().hex
        reader = asyncio.create_task(_read(s, ["alerts"], until=_marked(tag, s.partitions), arrivals=arrivals))
        await _send_paced(s, script, rate)
        while handled(s.metrics_port) < len(warm) + len(script):
            assert worker.alive() and time.monotonic() < deadline + seconds * 3, worker.log_tail()
            await asyncio.sleep(0.1)
        await _mark(s, "alerts", tag)
        alerts = await reader
    inputs = await _read(s, ["orders", "support", "activity", "profiles"],
                         until=lambda recs: len(recs) >= len(warm) + len(script))
    sent_at = {(r.key, _ms(datetime.fromisoformat(json.loads(r.value)["occurred_at"]))): r.timestamp for r in inputs}
    from_event, from_broker = [], []
    for rec, arrived in zip(alerts, arrivals):
        doc = json.loads(rec.value)
        if "marker" in doc or doc.get("trigger") != "event":
            continue
        occurred = datetime.fromisoformat(doc["occurred_at"])
        from_event.append(arrived - occurred.timestamp())
        at = next((sent_at[k] for d in (0, -1, 1) if (k := (rec.key, _ms(occurred) + d)) in sent_at), None)
        if at is not None:
            from_broker.append((rec.timestamp - at) / 1000)
    return {"alerts": len(from_event), "events": len(script), "rate": rate,
            "event": {q: pct(from_event, q) for q in (0.5, 0.95, 0.99)},
            "broker": {q: pct(from_broker, q) for q in (0.5, 0.95, 0.99)}, "matched": len(from_broker)}

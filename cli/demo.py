"""``churn-alert demo``: broker, Redis, a worker and simulated customers on this
machine, with live alerts in the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer

from cli.procs import ApiProcess, WorkerProcess
from config.settings import Settings
from services.embedded import port_answers
from services.resolve import database, services
from streams.publish import ensure_topics, producer, publish_models

SIM_START = datetime(2024, 1, 1, tzinfo=UTC)
BACKFILL_DAYS = 60  # history published at once, so churners are already drifting when the demo goes live
TICK_S = 0.25
DEMO_DATABASE = "churn_demo"


def format_alert(a: dict) -> str:
    """One terminal line block for a risk alert.

    >>> print(format_alert({"tier": "high", "customer_id": "c1", "score": 0.8, "previous_tier": "watch",
    ...     "model_version": "rules-1", "reasons": [{"text": "2 complaints in the last 30 days"}], "offer_note": None,
    ...     "trigger": "event", "occurred_at": "2024-03-01T00:00:00Z"}))
    ALERT HIGH     c1  score 0.80 (was watch)  2024-03-01  rules-1  [event]
        - 2 complaints in the last 30 days
    """
    lines = [f"ALERT {a['tier'].upper():<8} {a['customer_id']}  score {a['score']:.2f} (was {a['previous_tier']})  "
             f"{a['occurred_at'][:10]}  {a['model_version']}  [{a.get('trigger', 'event')}]"]
    lines += [f"    - {r['text']}" for r in a["reasons"]]
    if a.get("offer_note"):
        lines.append(f"    → {a['offer_note']}")
    return "\n".join(lines)


def demo_redis_prefix(settings: Settings) -> str:
    """The demo keeps its Redis keys apart from a real deployment's (and wipes them on start)."""
    return f"{settings.redis_prefix}-demo"


def run_demo(settings: Settings, *, duration: float | None, customers: int, days_per_second: float, seed: int) -> int:
    settings = settings.with_updates(**{"clock": "event", "redis_prefix": demo_redis_prefix(settings),
                                           "min_labels": min(settings.min_labels, 100), "publish_every": 50})
    with services(settings) as s, database(s) as s:
        asyncio.run(_prepare(s))
        s = _demo_database(s)
        print(f"broker {s.bootstrap_servers}, redis {s.redis_url}; starting a worker and the team service ...", flush=True)
        with WorkerProcess(s, "demo-worker") as worker, ApiProcess(s, "demo-api") as api:
            try:
                _show_service(s, api)
                stats = asyncio.run(_live(s, worker, duration=duration, customers=customers,
                                          days_per_second=days_per_second, seed=seed))
            finally:
                code = worker.stop()
                api.stop()
        _summary(stats, code)
        asyncio.run(_report(s))
    return 0


def _demo_database(s: Settings) -> Settings:
    """A fresh database of its own for each demo, on the resolved server, and a free port if 8080 is taken."""
    import psycopg
    from pydantic import SecretStr

    url = s.database_url.get_secret_value()  # type: ignore[union-attr]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
    port = s.api_port if not port_answers(s.api_host, s.api_port) else 0
    return s.with_updates(database_url=SecretStr(f"{url.rpartition('/')[0]}/{DEMO_DATABASE}"), api_port=port)


def _show_service(s: Settings, api: ApiProcess) -> None:
    from team.serve import tokens_for_roles

    tokens = tokens_for_roles(s)
    print(f"dashboard {api.wait_url()}/  (sign in with a token)", flush=True)
    for role, token in tokens.items():
        print(f"token {role}: {token}", flush=True)


async def _prepare(s: Settings) -> None:
    await ensure_topics(s)
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(s.redis_url)
    async for key in r.scan_iter(match=f"{s.redis_prefix}:*", count=1000):  # a fresh demo each run
        await r.delete(key)
    await r.aclose()


async def _live(s: Settings, worker: WorkerProcess, *, duration: float | None, customers: int,
                days_per_second: float, seed: int) -> Counter:
    from simulator import Simulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stats: Counter = Counter()
    sim = Simulator(customers, seed=seed, start=SIM_START)
    prod = producer(s)
    cons = AIOKafkaConsumer(s.topic("alerts"), s.topic("offers"), bootstrap_servers=s.bootstrap_servers,
                            auto_offset_reset="earliest", group_id=None)
    await prod.start()
    await cons.start()
    started = time.monotonic()
    sim_t = SIM_START + timedelta(days=BACKFILL_DAYS)
    try:
        stats["events"] += await publish_models(prod, s, sim.events_between(SIM_START, sim_t))
        last_status, last_events = started, 0
        while not stop.is_set() and (duration is None or time.monotonic() - started < duration):
            if not worker.alive():
                print(f"worker stopped unexpectedly:\n{worker.log_tail()}", file=sys.stderr)
                break
            nxt = sim_t + timedelta(days=days_per_second * TICK_S)
            stats["events"] += await publish_models(prod, s, sim.events_between(sim_t, nxt))
            sim_t = nxt
            for records in (await cons.getmany(timeout_ms=int(TICK_S * 1000), max_records=500)).values():
                for rec in records:
                    await _on_output(rec, s, sim, prod, stats)
            now = time.monotonic()
            if now - last_status >= 2.0:
                rate = (stats["events"] - last_events) / (now - last_status)
                print(f"[{now - started:5.0f}s] sim {sim_t:%Y-%m-%d}  {rate:7.0f} events/s  {customers} customers  "
                      f"{stats['alerts']} alerts  {stats['offers']} offers", flush=True)
                last_status, last_events = now, stats["events"]
    finally:
        with contextlib.suppress(Exception):
            await prod.flush()
        await cons.stop()
        await prod.stop()
    stats["seconds"] = int(time.monotonic() - started)
    return stats


async def _on_output(rec, s: Settings, sim, prod, stats: Counter) -> None:  # noqa: ANN001
    from schemas.events import RetentionOffer

    obj = json.loads(rec.value)
    if rec.topic == s.topic("alerts"):
        stats["alerts"] += 1
        stats[f"tier:{obj['tier']}"] += 1
        print(format_alert(obj), flush=True)
        return
    offer = RetentionOffer.model_validate(obj)
    stats["offers"] += 1
    stats[f"offer:{offer.status}"] += 1
    sim.on_offer(offer.customer_id, offer)
    if offer.status == "send":
        await publish_models(prod, s, sim.outcomes_for(offer))


def _summary(stats: Counter, worker_exit: int | None) -> None:
    tiers = ", ".join(f"{k[5:]} {v}" for k, v in sorted(stats.items()) if k.startswith("tier:")) or "none"
    offers = ", ".join(f"{k[6:]} {v}" for k, v in sorted(stats.items()) if k.startswith("offer:")) or "none"
    print(f"\nsummary: {stats['events']} events in {stats['seconds']} s; {stats['alerts']} alerts ({tiers}); "
          f"{stats['offers']} offers ({offers}); worker exit code {worker_exit}")


async def _report(s: Settings) -> None:
    from cli.commands import report

    await report(s)

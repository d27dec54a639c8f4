"""``simulate``, ``replay``, ``snooze`` and ``report``: short commands around the producer and Redis."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config.settings import Settings
from schemas.errors import DecodeError
from schemas.jsonl import iter_events
from services.resolve import services
from streams.publish import ensure_topics, producer, publish_models


async def _publish(s: Settings, events: list, *, progress: str | None = None) -> int:
    """Create the topics, publish ``events`` (5,000 at a time) and flush; ``progress``
    labels a running count on stderr."""
    await ensure_topics(s)
    prod = producer(s)
    await prod.start()
    try:
        sent = 0
        for i in range(0, len(events), 5000):
            sent += await publish_models(prod, s, events[i:i + 5000])
            if progress:
                print(f"\r{progress} {sent}/{len(events)}", end="", file=sys.stderr, flush=True)
        await prod.flush()
    finally:
        await prod.stop()
    return sent


async def simulate(settings: Settings, customers: int, days: float, seed: int, start: datetime, out: Path | None,
                   churn_share: float = 0.3, kind: str = "shop") -> int:
    """``days`` of ``customers``' events from ``start``; churners churn within those days
    (``kind="app"``: app-centred subscribers whose churn follows from their engagement)."""
    from simulator import Simulator

    sim = Simulator(customers, seed=seed, start=start, churn_share=churn_share, horizon_days=days, kind=kind)
    end = start + timedelta(days=days)
    if out is not None:
        from simulator.io import write_run

        def weeks():  # a week at a time: memory stays flat however many events
            t = start
            while t < end:
                yield from sim.events_between(t, min(end, t + timedelta(days=7)))
                t = min(end, t + timedelta(days=7))
                print(f"\rsimulated {(t - start).days}/{days:g} days", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)

        n, side = write_run(weeks(), sim.fates, out)
        print(f"wrote {n} events of {customers} {kind} customers to {out} and their fates to {side}")
        return 0
    events = sim.events_between(start, end)
    with services(settings) as s:
        n = await _publish(s, events)
    print(f"published {n} events of {customers} customers to {s.bootstrap_servers}")
    return 0


async def snooze(settings: Settings, customer_id: str, *, until: datetime | None, days: float | None) -> int:
    """Publish a profile update that snoozes the customer's risk alerts until ``until``
    (or ``days`` from now); it goes through the stream like any event, so it is kept in
    the customer's state, survives restarts and is erased with it."""
    from schemas.events import ProfileUpdate

    now = datetime.now(UTC)
    if until is None:
        until = now + timedelta(days=days or 0.0)
    if until.tzinfo is None:
        raise DecodeError("invalid", f"--until needs a UTC offset, e.g. {until.isoformat()}+00:00")
    ev = ProfileUpdate(event_type="profile", event_id=f"snooze-{customer_id}-{until.timestamp():.0f}",
                       customer_id=customer_id, occurred_at=now, snooze_until=until)
    with services(settings) as s:
        await _publish(s, [ev])
    print(f"{customer_id}: no risk alert before {until.isoformat()}")
    return 0


async def replay(settings: Settings, path: Path) -> int:
    events = list(iter_events(path))
    with services(settings) as s:
        sent = await _publish(s, events, progress="replayed")
    print(f"\nreplayed {sent} events from {path}")
    return 0


async def report(settings: Settings) -> int:
    import redis.asyncio as aioredis

    from alerts.experiment_store import ExperimentStore
    from alerts.report import format_report
    from alerts.report import report as build

    r = aioredis.Redis.from_url(settings.redis_url)
    try:
        rep = await build(ExperimentStore(r, settings.redis_prefix))
        print(format_report(rep))
        if not rep.rows:
            print(f"no offers recorded under Redis prefix {settings.redis_prefix!r} at {settings.redis_url}; "
                  "after `churn-alert demo`, run `churn-alert report --demo`")
    finally:
        await r.aclose()
    return 0

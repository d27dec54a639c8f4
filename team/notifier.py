"""Delivers the webhook outbox: every due row is POSTed, marked sent on a 2xx, retried
with doubling back-off (and jitter) otherwise; a 4xx other than 408/429 is final.

Three steps, so that no database trouble can send a row twice: *claim* due rows
(``FOR UPDATE SKIP LOCKED``, then their next attempt moved :data:`CLAIM_S` ahead and
committed: no other service process takes them meanwhile), *send* them (no database
needed), *record* each outcome, retried while the database is away (``rt.database``) so
a delivery made just before an outage is marked sent when it returns, not sent again.
Each alert reaches each endpoint once; only a process killed between sending and
recording leaves its rows to be sent again after :data:`CLAIM_S`, which is why every
request carries the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from team.payloads import render
from team.tables import Alert, Notification

log = logging.getLogger(__name__)
POLL_S = 0.5
BATCH = 20
CLAIM_S = 120.0  # a claimed row's sender has this long to record its outcome before the row is due again


def backoff_s(attempts: int, base: float, cap: float, rnd: float = 0.5) -> float:
    """Delay after ``attempts`` failures: base·2^(attempts-1), at most ``cap``, times 0.75-1.25.

    >>> backoff_s(1, 1.0, 60.0), backoff_s(4, 1.0, 60.0), backoff_s(20, 1.0, 60.0)
    (1.0, 8.0, 60.0)
    """
    return min(base * 2 ** (attempts - 1), cap) * (0.75 + 0.5 * rnd)


def dashboard_url(settings: Any) -> str:
    return (settings.api_public_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")


@dataclass
class Claimed:
    id: int
    alert_id: str
    route: str
    url: str
    body: dict
    attempts: int
    error: str | None = None
    final: bool = False


async def claim(rt: Any) -> list[Claimed]:
    """Due rows, with their bodies, held for this process for :data:`CLAIM_S`."""
    now = datetime.now(UTC)
    async with rt.sessions() as session, session.begin():
        rows = (await session.execute(
            select(Notification, Alert).join(Alert, Alert.alert_id == Notification.alert_id)
            .where(Notification.sent_at.is_(None), Notification.failed_at.is_(None), Notification.next_attempt_at <= now)
            .order_by(Notification.id).limit(BATCH).with_for_update(of=Notification, skip_locked=True))).all()
        out = []
        for note, alert in rows:
            body = render(note.format, {c.key: getattr(alert, c.key) for c in Alert.__table__.columns}, dashboard_url(rt.settings))
            out.append(Claimed(note.id, note.alert_id, note.route, note.url, body, note.attempts))
            note.next_attempt_at = now + timedelta(seconds=CLAIM_S)
        return out


async def send(client: httpx.AsyncClient, c: Claimed) -> Claimed:
    """POST one claimed row; sets its ``error`` (None: delivered) and whether a failure is ``final``."""
    try:
        resp = await client.post(c.url, json=c.body, headers={"Idempotency-Key": f"{c.alert_id}:{c.id}"})
        c.error = None if resp.is_success else f"HTTP {resp.status_code}"
        c.final = resp.status_code < 500 and resp.status_code not in (408, 429) and not resp.is_success
    except httpx.HTTPError as exc:
        c.error, c.final = f"{type(exc).__name__}: {exc}"[:500], False
    return c


async def record(rt: Any, sent: list[Claimed]) -> None:
    """Store the outcomes of one batch (idempotent: run again after an outage, it changes nothing more)."""
    s, now = rt.settings, datetime.now(UTC)
    async with rt.sessions() as session, session.begin():
        for c in sent:
            values: dict[str, Any] = {"attempts": c.attempts + 1, "last_error": c.error}
            if c.error is None:
                values["sent_at"] = now
            elif c.final:
                values["failed_at"] = now
            else:
                wait = backoff_s(c.attempts + 1, s.webhook_backoff_s, s.webhook_backoff_max_s, random.random())
                values["next_attempt_at"] = now + timedelta(seconds=wait)
            await session.execute(update(Notification).where(Notification.id == c.id, Notification.sent_at.is_(None),
                                                             Notification.failed_at.is_(None)).values(**values))


async def deliver_due(rt: Any, client: httpx.AsyncClient) -> int:
    """Claim, send and record one batch; returns how many rows it claimed."""
    claimed = await rt.database.call(claim, rt)
    sent = [await send(client, c) for c in claimed]
    if sent:
        await rt.database.call(record, rt, sent)
    for c in sent:
        outcome = "delivered" if c.error is None else "rejected" if c.final else "retry"
        rt.metrics.deliveries.labels(outcome=outcome).inc()
        if c.final:
            log.warning("webhook %s refused alert %s for good: %s", c.route, c.alert_id, c.error)
    return len(claimed)


async def outbox_depth(rt: Any) -> int:
    async with rt.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Notification).where(
            Notification.sent_at.is_(None), Notification.failed_at.is_(None)))).scalar_one())


async def notify_loop(rt: Any) -> None:
    """Deliver until cancelled; an outage of the database is waited out (``rt.database``),
    any other database error counted and the round tried again."""
    async with httpx.AsyncClient(timeout=rt.settings.webhook_timeout_s) as client:
        while True:
            claimed = 0
            try:
                claimed = await deliver_due(rt, client)
                rt.metrics.outbox_depth.set(await rt.database.call(outbox_depth, rt))
            except Exception as exc:  # noqa: BLE001 - keep delivering after a database error
                rt.metrics.db_errors.inc()
                log.warning("notifier: %s", exc)
            if claimed < BATCH:  # a full batch: more are likely due, go on at once
                await asyncio.sleep(POLL_S)  # outbox poll period
